"""Landmark distance (LMD) between an HQ face and its restoration: 68 dlib landmarks, per image.

Definition
----------
dlib's HOG detector finds the face on the HQ image ``y`` (largest detection; one retry with upsampling 1);
the 68-point shape predictor (asset ``dlib_shape_predictor_68``, iBUG 300-W layout) places ``p_k(y)`` in
that box, and ``p_k(ŷ)`` on the restoration ``ŷ`` **in the same HQ box** (the restoration is never
detected)::

    lmd     = (1/68) Σ_k || p_k(ŷ) - p_k(y) ||₂              pixels, at the HQ image's resolution
    lmd.nme = lmd / || p_36(y) - p_45(y) ||₂                  normalised by the HQ inter-ocular distance
                                                              (outer eye corners, 0-based indices 36 / 45)

Both lower is better (0 = identical landmarks).  Pixels are those of the HQ (and of the restoration,
which must have the HQ's size): compare ``lmd`` only between datasets of the same resolution, or use
``lmd.nme``.  dlib landmarks are integer pixel positions, so the floor of ``lmd`` is 0 and small shifts
are quantised to 1 px.

Failures: an HQ without a detected face is that image's error (``NoFaceError``: "no face found on the HQ
image ..."), never dropped silently; a restoration of another size than its HQ is an error too.

Checked in ``tests/metrics/test_landmark_distance.py`` against a direct computation with dlib's own
detector and predictor on a real face, and on a synthetic shift (shifting the image by ``k`` px moves the
landmarks by about ``k`` px).

Citation: LMD as used in face restoration / super-resolution evaluations (e.g. Chen et al., PSFR-GAN,
CVPR 2021; Wang et al., GFPGAN, CVPR 2021 report landmark distance); landmarks: Kazemi and Sullivan, CVPR
2014 (dlib shape predictor), 300-W (Sagonas et al. 2013).  Licence: MIT (frbench code); model CC0-1.0, its
iBUG 300-W training data excludes commercial use.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from metrics.identity import HQFaceMetric, check_pair
from reference_models.shared.face_descriptor import to_hwc_list

#: 0-based indices of the outer eye corners in the 68-point layout (inter-ocular normalisation).
OUTER_EYE_CORNERS = (36, 45)


def landmark_distance(points: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """``(mean Euclidean distance in px, the same / inter-ocular distance of reference)`` of two [68, 2]."""
    points, reference = np.asarray(points, np.float64), np.asarray(reference, np.float64)
    lmd = float(np.linalg.norm(points - reference, axis=1).mean())
    iod = float(np.linalg.norm(reference[OUTER_EYE_CORNERS[0]] - reference[OUTER_EYE_CORNERS[1]]))
    return lmd, (lmd / iod if iod > 0 else float("nan"))


class LandmarkDistance(HQFaceMetric):
    """Mean distance of 68 dlib landmarks of HQ and restoration, both predicted in the HQ's face box."""

    description = ("Landmark distance: mean Euclidean distance (px, HQ resolution) of the 68 dlib landmarks of HQ "
                   "and restored face, both predicted in the HQ's detected box; .nme = / outer inter-ocular "
                   "distance. HQ without a face = per-image error. Lower is better.")
    citation = ("landmark distance as in face-restoration evaluations (PSFR-GAN, CVPR 2021; GFPGAN, CVPR 2021); "
                "dlib shape_predictor_68_face_landmarks (Kazemi and Sullivan, CVPR 2014; iBUG 300-W)")
    licence = "MIT (frbench code); dlib-models weights CC0-1.0, 300-W training data non-commercial"
    value_range = (0.0, float("inf"))

    name: ClassVar[str] = "lmd"
    higher_is_better: ClassVar[bool] = False
    needs_reference: ClassVar[bool] = True
    unit: ClassVar[str] = "px"
    extra_outputs: ClassVar[tuple[str, ...]] = ("nme",)
    outputs = {"value": "lower", "nme": "lower"}

    definition: ClassVar[str] = (
        "mean over 68 dlib landmarks of ||p(restored) - p(HQ)||_2 in px at HQ resolution, both predicted in the "
        "HQ's HOG box; nme = lmd / ||p36(HQ) - p45(HQ)||")

    def hq_features(self, hq: np.ndarray, face):
        """The HQ face's ``[68, 2]`` landmarks (the caller holds the geometry's lock)."""
        return self._geometry().landmarks(hq, face)

    def details(self, restored, reference=None) -> dict[str, np.ndarray]:
        if reference is None:
            raise ValueError("lmd needs the HQ image")
        geo = self._geometry()
        values, nme = [], []
        for r, h in zip(to_hwc_list(restored), to_hwc_list(reference)):
            check_pair(r, h)
            face, ref_points = self.hq_side(h)
            with geo.lock:
                points = geo.landmarks(r, face)
            a, b = landmark_distance(points, ref_points)
            values.append(a)
            nme.append(b)
        return {"value": np.asarray(values, np.float64), "nme": np.asarray(nme, np.float64)}


__all__ = ["LandmarkDistance", "landmark_distance", "OUTER_EYE_CORNERS"]
