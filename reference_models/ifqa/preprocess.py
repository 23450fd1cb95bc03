"""Image -> network input exactly as the official IFQA ``test.py`` (independent re-implementation).

CNN model (the paper's IFQA, :func:`preprocess_cnn`)
    RGB ``uint8`` -> ``cv2.resize(img, (256, 256), INTER_LINEAR)`` on the 8-bit image (Albumentations
    ``Resize``) -> ``(u8 - 127.5) / 127.5`` in float32 (``Normalize(mean=0.5, std=0.5)``) -> ``[1, 3, 256, 256]``.
    score = mean of the ``256 x 256`` sigmoid map.
IFQA++ ViT (:func:`preprocess_vit`)
    RGB ``uint8`` -> ``(u8 - 127.5) / 127.5`` float32 first -> ``cv2.resize(..., (224, 224), INTER_CUBIC)`` on
    the float image (may overshoot [-1, 1]) -> ``[1, 3, 224, 224]``.

The 8-bit bilinear resize is OpenCV's fixed-point one (11-bit coefficients, rounded vertical pass).
When OpenCV (``cv2``) is importable it is used and the result is the reference bit for bit
(a numeric fixture of the official preprocessing, ``tests/reference_models/ifqa/test_preprocess.py``).  Without it, :func:`resize_bilinear_u8_numpy`
re-implements the fixed-point arithmetic: bit-exact when shrinking (the usual case: 512 outputs to
256), and at most 1 grey level off on well under 1 % of the pixels when enlarging.  The float bicubic
resize of the ViT path falls back to ``torch`` bicubic (same kernel a = -0.75, clamped borders; float
rounding differences only).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["CNN_SIZE", "VIT_SIZE", "resize_bilinear_u8", "resize_bilinear_u8_numpy", "normalize_u8",
           "preprocess_cnn", "preprocess_vit", "as_hwc_uint8_batch"]

CNN_SIZE = 256
VIT_SIZE = 224

_COEF_BITS = 11
_COEF_SCALE = 1 << _COEF_BITS


def _cv2():
    try:
        import cv2  # type: ignore
    except ImportError:
        return None
    return cv2


def _linear_taps(src: int, dst: int):
    """Source indices and 11-bit fixed-point weights of OpenCV's INTER_LINEAR along one axis."""
    scale = 1.0 / (dst / src)
    f = ((np.arange(dst) + 0.5) * scale - 0.5).astype(np.float32)
    i0 = np.floor(f).astype(np.int64)
    f = (f - i0).astype(np.float32)
    low = i0 < 0
    f[low], i0[low] = 0, 0
    high = i0 >= src - 1
    f[high], i0[high] = 0, src - 1
    i1 = np.minimum(i0 + 1, src - 1)
    w1 = np.rint(f * np.float32(_COEF_SCALE)).astype(np.int64)
    w0 = np.rint((np.float32(1) - f) * np.float32(_COEF_SCALE)).astype(np.int64)
    return i0, i1, w0, w1


def resize_bilinear_u8_numpy(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """OpenCV-style fixed-point bilinear resize of a ``uint8`` ``[H, W, C]`` image (no OpenCV needed)."""
    img = np.asarray(image)
    h, w = img.shape[:2]
    x0, x1, a0, a1 = _linear_taps(w, width)
    y0, y1, b0, b1 = _linear_taps(h, height)
    s = img.astype(np.int64)
    if s.ndim == 2:
        s = s[..., None]
    rows = s[:, x0] * a0[None, :, None] + s[:, x1] * a1[None, :, None]
    r0, r1 = rows[y0], rows[y1]
    c0, c1 = b0[:, None, None], b1[:, None, None]
    # vertical pass as OpenCV's vectorised 32s->8u kernel: (mulhi(r0>>4, b0) + mulhi(r1>>4, b1) + 2) >> 2
    out = (((c0 * (r0 >> 4)) >> 16) + ((c1 * (r1 >> 4)) >> 16) + 2) >> 2
    out = np.clip(out, 0, 255).astype(np.uint8)
    return out if img.ndim == 3 else out[..., 0]


def resize_bilinear_u8(image: np.ndarray, width: int = CNN_SIZE, height: int = CNN_SIZE) -> np.ndarray:
    """``cv2.resize(image, (width, height), interpolation=INTER_LINEAR)`` (OpenCV when installed)."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    if image.shape[0] == height and image.shape[1] == width:
        return image.copy()
    cv2 = _cv2()
    if cv2 is not None:
        return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
    return resize_bilinear_u8_numpy(image, width, height)


def normalize_u8(image: np.ndarray) -> np.ndarray:
    """Albumentations ``Normalize(mean=0.5, std=0.5, max_pixel_value=255)``: ``(u8 - 127.5) / 127.5`` float32."""
    x = np.asarray(image).astype(np.float32)
    return (x - np.float32(127.5)) / np.float32(127.5)


def as_hwc_uint8_batch(images) -> np.ndarray:
    """``uint8`` ``[B, 3, H, W]`` tensor (or float in [0, 1], as the runner passes) -> ``uint8`` ``[B, H, W, 3]``."""
    if isinstance(images, torch.Tensor):
        t = images.detach().cpu()
        if t.dtype != torch.uint8:
            t = (t.float().clamp(0, 1) * 255).round().to(torch.uint8)
        if t.ndim == 3:
            t = t[None]
        return t.permute(0, 2, 3, 1).contiguous().numpy()
    a = np.asarray(images)
    if a.ndim == 3:
        a = a[None]
    if a.dtype != np.uint8:
        raise TypeError(f"expected uint8 images, got {a.dtype}")
    return a


def preprocess_cnn(image: np.ndarray, size: int = CNN_SIZE) -> torch.Tensor:
    """RGB ``uint8`` ``[H, W, 3]`` -> ``[1, 3, size, size]`` float32 in [-1, 1] (test.py CNN path)."""
    x = normalize_u8(resize_bilinear_u8(image, size, size))
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]


def preprocess_vit(image: np.ndarray, size: int = VIT_SIZE) -> torch.Tensor:
    """RGB ``uint8`` ``[H, W, 3]`` -> ``[1, 3, size, size]`` float32 (test.py VIT path: normalise, then bicubic)."""
    x = normalize_u8(image)
    if x.shape[0] != size or x.shape[1] != size:
        cv2 = _cv2()
        if cv2 is not None:
            x = cv2.resize(np.ascontiguousarray(x), (size, size), interpolation=cv2.INTER_CUBIC)
        else:
            t = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]
            return F.interpolate(t, size=(size, size), mode="bicubic", align_corners=False)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]
