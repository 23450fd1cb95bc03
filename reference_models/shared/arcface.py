"""ArcFace (insightface ``buffalo_l`` recognition network, ONNX) as an alternative identity embedding.

What it computes
----------------
insightface's recognition model ``w600k_r50.onnx`` (ResNet-50 ArcFace trained on WebFace600K, part of the
``buffalo_l`` pack; Deng et al., "ArcFace: Additive Angular Margin Loss for Deep Face Recognition", CVPR
2019; deepinsight/insightface) maps a 112x112 aligned face to a 512-d embedding.  Its official pipeline
(``insightface.utils.face_align.norm_crop`` + ``ArcFaceONNX.get_feat``):

1. **Alignment** -- five points (left eye centre, right eye centre, nose tip, left and right mouth corner,
   image left to right) are mapped onto the fixed 112x112 template :data:`ARCFACE_TEMPLATE` by the
   least-squares similarity transform (Umeyama 1991; insightface uses ``skimage.transform.
   SimilarityTransform.estimate``, which is the same estimator), and the face is warped with
   ``cv2.warpAffine`` (bilinear, border 0).
2. **Input** -- RGB, ``(x - 127.5) / 127.5``, NCHW float32 (``cv2.dnn.blobFromImages(..., 1/127.5,
   (112, 112), (127.5,)*3, swapRB=True)`` on the BGR crop); a graph whose first nodes already subtract and
   multiply gets ``x`` unscaled (mean 0, std 1), as ``ArcFaceONNX.__init__`` decides.
3. **Comparison** -- cosine similarity ``<a, b> / (|a| |b|)``; frbench reports the cosine distance
   ``1 - cos`` (lower is better, range [0, 2]).

Departures (documented, unavoidable offline)
--------------------------------------------
* The five points come from dlib's 68 landmarks on the HQ face (eye centres = means of points 36-41 and
  42-47, nose tip 30, mouth corners 48 and 54), not from insightface's SCRFD detector (``det_10g.onnx``),
  and the SAME transform is applied to the restoration (as for the dlib descriptor: a degraded face is never
  detected).
* insightface publishes no verification threshold for ``buffalo_l`` (its benchmarks choose thresholds by
  cross-validation or report TAR at fixed FAR); the failure threshold is therefore the user's, stated with
  the run (``-X identity.threshold=...``), never a silent default.
* No sha256 is published for the file; the asset manager records the hash at the first fetch.

Licence: MIT (frbench code); insightface's pretrained models are for non-commercial research use only.
"""
from __future__ import annotations

import threading
from typing import Any

import numpy as np

#: insightface's ``arcface_dst``: where the five points land in the 112x112 crop (x, y).
ARCFACE_TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                             [41.5493, 92.3655], [70.7299, 92.2041]], np.float64)
CROP_SIZE = 112
ARCFACE_ASSET = "arcface_w600k_r50"


def five_points(landmarks68: np.ndarray) -> np.ndarray:
    """``[5, 2]`` ArcFace points (eye centres, nose tip, mouth corners) from ``[68, 2]`` iBUG landmarks."""
    p = np.asarray(landmarks68, np.float64)
    return np.stack([p[36:42].mean(0), p[42:48].mean(0), p[30], p[48], p[54]])


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """``[2, 3]`` least-squares similarity (rotation, uniform scale, translation) mapping ``src`` onto ``dst``.

    Umeyama (1991): with centred point sets ``X`` (src) and ``Y`` (dst), ``Σ = Yᵀ X / n = U S Vᵀ``,
    ``R = U D Vᵀ`` (``D = diag(1, det(U V))``), ``c = tr(S D) / σ²_X``, ``t = μ_Y - c R μ_X``.
    """
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    xs, yd = src - mu_s, dst - mu_d
    u, s, vt = np.linalg.svd(yd.T @ xs / len(src))
    d = np.diag([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    rotation = u @ d @ vt
    scale = float(np.trace(np.diag(s) @ d) / xs.var(0).sum())
    translation = mu_d - scale * rotation @ mu_s
    return np.hstack([scale * rotation, translation[:, None]])


def warp(image: np.ndarray, matrix: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
    """``cv2.warpAffine(image, matrix, (size, size), borderValue=0)``: bilinear, uint8 ``[size, size, 3]``."""
    import cv2

    return cv2.warpAffine(np.ascontiguousarray(image), np.asarray(matrix, np.float64), (size, size),
                          borderValue=0.0)


class ArcFaceEmbedder:
    """The ONNX recognition network with insightface's input convention (module docstring)."""

    def __init__(self, weights: str | None = None, cache_dir=None) -> None:
        import onnxruntime as ort

        from bench.core.provenance import note_file

        if weights is None:
            from bench.core.assets import AssetManager

            assets = AssetManager(cache_dir=cache_dir) if cache_dir is not None else AssetManager()
            weights = str(assets.path(ARCFACE_ASSET))
        self.path = str(weights)
        note_file(self.path, ARCFACE_ASSET)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        self._session = ort.InferenceSession(self.path, sess_options=options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        self.mean, self.std = (0.0, 1.0) if _normalises_itself(self.path) else (127.5, 127.5)
        self.lock = threading.Lock()

    def embed(self, crops: list[np.ndarray]) -> np.ndarray:
        """``[N, D]`` float64 embeddings of 112x112 RGB uint8 crops."""
        if not crops:
            return np.zeros((0, 512))
        x = (np.stack(crops).astype(np.float32) - self.mean) / self.std
        with self.lock:
            out = self._session.run(None, {self._input: np.ascontiguousarray(x.transpose(0, 3, 1, 2))})[0]
        return np.asarray(out, np.float64).reshape(len(crops), -1)

    def describe(self) -> dict[str, Any]:
        from bench.core.provenance import file_sha256

        return {"embedding": "insightface ArcFace (buffalo_l w600k_r50, ONNX)", "file": file_sha256(self.path),
                "input": f"112x112 RGB, (x - {self.mean}) / {self.std}", "points": "dlib 68 -> 5 (HQ)"}


def cosine_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise ``1 - <a, b> / (|a| |b|)``."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return 1.0 - (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def _normalises_itself(path: str) -> bool:
    """insightface's test: the graph's first 8 nodes contain a ``Sub`` and a ``Mul`` (mean/std built in).

    The node list needs the ``onnx`` package (extra ``[arcface]``); without it the standard 127.5 scaling
    (that of ``w600k_r50``) is kept and :meth:`ArcFaceEmbedder.describe` says so.
    """
    try:
        import onnx
    except ImportError:
        return False
    ops = {node.op_type for node in onnx.load(path, load_external_data=False).graph.node[:8]}
    return {"Sub", "Mul"} <= ops


_SHARED: dict[tuple, ArcFaceEmbedder] = {}
_SHARED_LOCK = threading.Lock()


def shared_arcface(weights: str | None = None) -> ArcFaceEmbedder:
    """One embedder per process and weights file."""
    from bench.core.provenance import cached

    with _SHARED_LOCK:
        return cached(_SHARED, (weights,), lambda: ArcFaceEmbedder(weights))


__all__ = ["ARCFACE_TEMPLATE", "ArcFaceEmbedder", "cosine_distance", "five_points", "shared_arcface",
           "similarity_transform", "warp"]
