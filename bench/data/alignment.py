"""Re-aligning a face to the FFHQ 512 template: five landmarks, a similarity transform, a bilinear warp.

The methods trained on FFHQ (GFPGAN, CodeFormer, GPEN, VQFR, PSFRGAN, RestoreFormer++, DebiasFR) run their
official aligned mode on 512x512 crops cut by facexlib's ``FaceRestoreHelper.align_warp_face``
(``facexlib/utils/face_restoration_helper.py``, github.com/xinntao/facexlib, commit 260620a):
RetinaFace's five points (eye centres, nose tip, mouth corners) are mapped onto the fixed template

    ``[[192.98138, 239.94708], [318.90277, 240.1936], [256.63416, 314.01935],
       [201.26117, 371.41043], [313.08905, 371.15118]]``  (:data:`FACEXLIB_TEMPLATE_512`)

by ``cv2.estimateAffinePartial2D(landmarks, template, method=cv2.LMEDS)`` (a similarity: rotation, one
scale, translation) and the image is warped by ``cv2.warpAffine`` (bilinear, constant border
BGR (135, 133, 132)).  That template approximates the FFHQ alignment of Karras et al. (CVPR 2019, which
uses dlib's 68 points: eye-to-eye and eye-to-mouth vectors), and the official methods use facexlib's, so
this module targets facexlib's frame.

Landmarks here come from dlib (HOG frontal detector, upsampling :data:`UPSAMPLE`, largest face; the
``shape_predictor_5_face_landmarks`` model, asset ``dlib_shape_predictor_5``).  Its five points are not
RetinaFace's: two corners of each eye and the nose base (no mouth).  The target of each dlib point is
therefore its position in facexlib's frame, **measured**: the median dlib points on the 48 real-LQ 512
crops distributed with CodeFormer, GFPGAN and VQFR (cut by facexlib with the template above; all 48
detected; inter-quartile range 2-5 px for the eye corners, 10-12 px for the nose base), giving
:data:`DLIB5_TEMPLATE_512`.  Against facexlib's template, the measured eye centres (mean of the two
corners) lie within 1 px in x (inter-ocular distance 127.3 vs 125.9 px) and 5 px lower: the corner line
is below RetinaFace's eye centre.  The 10 FFHQ 1024 samples (Karras alignment, at 512) give the same
medians within 2 px for the eyes.

Similarity transform (Umeyama, IEEE TPAMI 1991; least squares)
--------------------------------------------------------------
For source points ``x_i`` (detected) and targets ``y_i`` (template), ``i = 1..n``, find ``s, R, t``
minimising ``sum_i || y_i - (s R x_i + t) ||^2`` (``R`` a rotation).  With means ``mx, my``, centred
``X_i = x_i - mx``, ``Y_i = y_i - my``, covariance ``S = (1/n) sum_i Y_i X_i^T = U D V^T`` (SVD) and
``E = diag(1, det(U V^T))`` (no reflection):  ``R = U E V^T``, ``s = trace(D E) / ((1/n) sum_i |X_i|^2)``,
``t = my - s R mx``.  The 2x3 matrix ``[s R | t]`` maps input pixels to output pixels, as facexlib's.
(facexlib fits its five points robustly, LMEDS; with five dlib points that all lie on the face, the
plain least-squares fit is used.)

Warp: each output pixel centre ``p`` samples the input at ``A^-1 p`` bilinearly, outside the image the
constant border colour RGB (132, 133, 135) (facexlib's BGR (135, 133, 132)), rounded to 8 bits: the
``cv2.warpAffine`` call of facexlib, in numpy (OpenCV is optional here; the test compares the two).

A face the detector cannot find is an :class:`AlignmentError` naming the cause: the harness records it
as that image's error (stage ``align``); nothing falls back silently to the unaligned image.
"""
from __future__ import annotations

import threading
from typing import Any

import numpy as np

#: facexlib's FFHQ 512 five-point template (eye centres, nose tip, mouth corners), face_restoration_helper.py
FACEXLIB_TEMPLATE_512 = np.array([[192.98138, 239.94708], [318.90277, 240.1936], [256.63416, 314.01935],
                                  [201.26117, 371.41043], [313.08905, 371.15118]])
#: dlib shape_predictor_5 points in facexlib's 512 frame (measured, see the module docstring), dlib's order:
#: outer and inner corner of the eye on the image's right, outer and inner corner of the other eye, nose base
DLIB5_TEMPLATE_512 = np.array([[345.0, 244.0], [294.5, 246.5], [167.0, 244.0], [218.0, 246.0], [256.0, 336.5]])
#: RGB of facexlib's constant border (BGR (135, 133, 132) in its cv2 call)
BORDER_RGB = (132, 133, 135)
FACE_SIZE = 512
UPSAMPLE = 1


class AlignmentError(ValueError):
    """A face that cannot be aligned (no face found): one image's error, never a silent fallback."""


def eye_centres(points: np.ndarray) -> np.ndarray:
    """``[2, 2]``: centres of the eye on the image's left and on its right, from dlib's five points."""
    points = np.asarray(points, np.float64)
    return np.stack([points[2:4].mean(axis=0), points[0:2].mean(axis=0)])


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2x3 least-squares similarity ``[sR | t]`` mapping ``source`` points onto ``target`` (Umeyama)."""
    x, y = np.asarray(source, np.float64), np.asarray(target, np.float64)
    if x.shape != y.shape or x.ndim != 2 or x.shape[1] != 2 or len(x) < 2:
        raise ValueError(f"need matching [n, 2] point sets with n >= 2, got {x.shape} and {y.shape}")
    mx, my = x.mean(axis=0), y.mean(axis=0)
    xc, yc = x - mx, y - my
    var = (xc ** 2).sum() / len(x)
    if var <= 0:
        raise ValueError("the source points coincide: no similarity transform")
    u, d, vt = np.linalg.svd(yc.T @ xc / len(x))
    e = np.diag([1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rotation = u @ e @ vt
    scale = float(np.trace(np.diag(d) @ e) / var)
    translation = my - scale * rotation @ mx
    return np.hstack([scale * rotation, translation[:, None]])


def warp_affine(image: np.ndarray, matrix: np.ndarray, size: int, border=BORDER_RGB) -> np.ndarray:
    """``image`` (uint8 ``[H, W, 3]``) warped by the 2x3 ``matrix`` into ``size`` x ``size`` (bilinear)."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected a uint8 [H, W, 3] RGB image, got {image.dtype} {image.shape}")
    full = np.vstack([np.asarray(matrix, np.float64), [0.0, 0.0, 1.0]])
    inverse = np.linalg.inv(full)[:2]
    pad = 2
    padded = np.empty((image.shape[0] + 2 * pad, image.shape[1] + 2 * pad, 3), np.float64)
    padded[:] = np.asarray(border, np.float64)
    padded[pad:-pad, pad:-pad] = image
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    sx = inverse[0, 0] * xs + inverse[0, 1] * ys + inverse[0, 2] + pad
    sy = inverse[1, 0] * xs + inverse[1, 1] * ys + inverse[1, 2] + pad
    # far outside: clamp into the border band (every neighbour there is the border colour)
    sx = np.clip(sx, 0.0, padded.shape[1] - 1.0)
    sy = np.clip(sy, 0.0, padded.shape[0] - 1.0)
    x0 = np.minimum(np.floor(sx).astype(np.int64), padded.shape[1] - 2)
    y0 = np.minimum(np.floor(sy).astype(np.int64), padded.shape[0] - 2)
    fx, fy = (sx - x0)[..., None], (sy - y0)[..., None]
    top = padded[y0, x0] * (1 - fx) + padded[y0, x0 + 1] * fx
    bottom = padded[y0 + 1, x0] * (1 - fx) + padded[y0 + 1, x0 + 1] * fx
    return np.clip(np.rint(top * (1 - fy) + bottom * fy), 0, 255).astype(np.uint8)


def transform_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, np.float64)
    return points @ np.asarray(matrix)[:, :2].T + np.asarray(matrix)[:, 2]


class FFHQAligner:
    """dlib five landmarks on the HQ face -> similarity to :data:`DLIB5_TEMPLATE_512` -> 512 warp.

    ``align(image)`` returns ``(aligned uint8 [size, size, 3], info)``; ``info`` has the number of faces
    found (the largest is used), the scale and the angle (degrees) of the transform.  Needs ``dlib``
    (the ``dlib-bin`` wheel, extra ``[dlib]``) and the ``dlib_shape_predictor_5`` asset.
    """

    def __init__(self, size: int = FACE_SIZE, upsample: int = UPSAMPLE, shape_predictor_path=None) -> None:
        try:
            import dlib  # type: ignore
        except ImportError as exc:
            raise ImportError("--align ffhq finds face landmarks with dlib: pip install 'frbench[dlib]' "
                              "(the dlib-bin wheel), or run with --align none") from exc
        from bench.core.provenance import note_file

        if shape_predictor_path is None:
            from bench.core.assets import AssetManager

            shape_predictor_path = AssetManager().path("dlib_shape_predictor_5")
        self.size, self.upsample = int(size), int(upsample)
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(shape_predictor_path))
        note_file(shape_predictor_path, "dlib shape predictor (alignment)")
        self.template = DLIB5_TEMPLATE_512 * (self.size / FACE_SIZE)
        self._lock = threading.Lock()  # the harness decodes in threads; one dlib call at a time

    def landmarks(self, image: np.ndarray) -> tuple[np.ndarray, int]:
        """dlib's five points ``[5, 2]`` of the largest face and the number of faces; AlignmentError if none."""
        image = np.ascontiguousarray(image)
        with self._lock:
            detections = list(self._detector(image, self.upsample))
        if not detections:
            raise AlignmentError(f"no face found by dlib's HOG detector (upsample {self.upsample}) on the "
                                 f"{image.shape[1]}x{image.shape[0]} HQ image: cannot align it to the FFHQ template")
        best = max(detections, key=lambda r: r.width() * r.height())
        with self._lock:
            shape = self._predictor(image, best)
        return np.array([[shape.part(i).x, shape.part(i).y] for i in range(5)], np.float64), len(detections)

    def align(self, image: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        points, n_faces = self.landmarks(image)
        matrix = similarity_transform(points, self.template)
        scale = float(np.hypot(matrix[0, 0], matrix[1, 0]))
        angle = float(np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0])))
        info = {"faces": n_faces, "scale": round(scale, 4), "angle_deg": round(angle, 2)}
        return warp_affine(image, matrix, self.size), info

    def describe(self) -> dict[str, Any]:
        return {"name": "ffhq", "size": self.size, "template": "facexlib FFHQ 512 (dlib 5 points, measured)",
                "landmarks": "dlib HOG frontal + shape_predictor_5", "upsample": self.upsample,
                "fit": "least-squares similarity (Umeyama)", "warp": "bilinear, border RGB (132, 133, 135)"}


def make_aligner(mode: str):
    """The aligner of an alignment mode (``ffhq``), or None for ``none``."""
    if mode == "none":
        return None
    if mode == "ffhq":
        return FFHQAligner()
    raise ValueError(f"unknown alignment {mode!r}; use 'ffhq' or 'none'")
