"""Image operations of the degradation pipelines: Gaussian blur kernels, reflect-padded blur, torch bilinear
resize, a real JPEG round trip, 8-bit quantisation and torchvision's greyscale (numpy in, numpy out).
"""
from __future__ import annotations

import io
import math
from functools import lru_cache

import numpy as np


def gaussian_kernel(size: int, sigma_x: float, sigma_y: float, theta: float) -> np.ndarray:
    """Normalised bivariate Gaussian kernel ``[size, size]`` float64 (BasicSR ``bivariate_Gaussian``).

    ``k[i, j] ∝ exp(−½ vᵀ Σ⁻¹ v)`` with ``v = (j − c, i − c)`` (x = column, y = row offset from the centre
    ``c = (size − 1)/2``) and ``Σ = R(θ) diag(σx², σy²) R(θ)ᵀ``, ``R(θ) = [[cos θ, −sin θ], [sin θ, cos θ]]``;
    sums to 1; point-symmetric (``k[::-1, ::-1] == k``); isotropic (σx = σy) kernels are also symmetric
    under transposition and flips.
    """
    if size < 1 or size % 2 == 0:
        raise ValueError(f"kernel size must be odd and positive, got {size}")
    if sigma_x <= 0 or sigma_y <= 0:
        raise ValueError(f"kernel sigmas must be > 0, got {sigma_x}, {sigma_y}")
    axis = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    xx, yy = np.meshgrid(axis, axis)
    cos, sin = math.cos(theta), math.sin(theta)
    rot = np.array([[cos, -sin], [sin, cos]])
    cov = rot @ np.diag([sigma_x ** 2, sigma_y ** 2]) @ rot.T
    inv = np.linalg.inv(cov)
    quad = inv[0, 0] * xx * xx + (inv[0, 1] + inv[1, 0]) * xx * yy + inv[1, 1] * yy * yy
    kernel = np.exp(-0.5 * quad)
    return kernel / kernel.sum()


def blur_reflect(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Blur each channel of a float ``[H, W, C]`` image with ``kernel`` (odd square, point-symmetric), with
    reflect padding of half the kernel size, keeping the size (DebiasFR ``GaussianBlurConv``).

    numpy's ``reflect`` mirrors about the edge pixel without repeating it (torch ``F.pad(mode="reflect")``);
    unlike torch it also accepts images smaller than the padding (it reflects repeatedly).
    """
    from scipy.signal import fftconvolve

    pad = kernel.shape[0] // 2
    padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="reflect")
    return fftconvolve(padded, kernel[:, :, None], mode="valid", axes=(0, 1))


def resize_bilinear_torch(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a float64 ``[H, W, C]`` image to ``size = (h, w)`` with torch bilinear, ``align_corners=False``,
    no antialias (DebiasFR ``F.interpolate(..., mode='bilinear')``)."""
    import torch
    import torch.nn.functional as F

    tensor = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float64)).permute(2, 0, 1).unsqueeze(0)
    out = F.interpolate(tensor, size=tuple(int(v) for v in size), mode="bilinear", align_corners=False,
                        antialias=False)
    return out[0].permute(1, 2, 0).numpy()


@lru_cache(maxsize=1)
def jpeg_codec() -> str:
    """Name and version of the JPEG codec used (Pillow and its libjpeg build)."""
    import PIL
    from PIL import features

    if features.check_feature("libjpeg_turbo"):
        lib = f"libjpeg-turbo {features.version('libjpeg_turbo')}"
    else:
        lib = f"libjpeg {features.version('jpg')}"
    return f"Pillow {PIL.__version__} / {lib} (API {features.version('jpg')})"


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode ``uint8 [h, w, 3]`` as baseline JPEG (IJG tables scaled by ``quality``, 4:2:0) and decode it."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=int(quality), subsampling="4:2:0",
                                optimize=False, progressive=False)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB"), dtype=np.uint8).copy()


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float image in [0, 1] -> ``uint8``: ``round(clip(x, 0, 1)·255)`` (round half to even, as ``torch.round``)."""
    return np.rint(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def gray_torchvision(image: np.ndarray) -> np.ndarray:
    """3-channel grey of a ``uint8`` image with torchvision's ``Grayscale(3)`` weights (0.2989, 0.587, 0.114),
    rounded to ``uint8``."""
    x = image.astype(np.float64)
    gray = np.rint(0.2989 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]).clip(0, 255).astype(np.uint8)
    return np.repeat(gray[:, :, None], 3, axis=2)
