"""IFQA's training degradation: ``I_LQ = JPEG_q((I_HQ ⊛ k)↓_r + n)``, brought back to the HQ size.

Provenance: ``docs/protocols/ifqa.md`` §3.1 (from the paper's slides; the official repository has no
training code).  The project's own implementation, numpy + Pillow, one image at a time, seeded.

Per image (all draws from one ``numpy.random.Generator``; :func:`synthesize_lq_seeded` derives it from
``(seed, index)`` so the LQ of an image depends on those two numbers only):

1. **blur** ``k``: Gaussian or motion blur with p = 0.5 each (spec: "Gaussian or motion-blur kernel";
   sizes and widths are not given -- **[SUITE]** choices, stated at the 256-px scale of the paper and
   scaled with the image side ``N`` by ``N/256``):
   * Gaussian, isotropic: σ ~ U[0.5, 3.0) px (at 256 px);
   * motion: a straight line segment of length L ~ U[3, 13) px (at 256 px) at angle θ ~ U[0, π),
     drawn with sub-pixel (bilinear) weights and normalised to sum 1;
   applied per channel with reflect padding (size kept), :func:`bench.data.degradation.blur_reflect`.
2. **resize ratio** r ~ U[0.4, 0.9): the blurred image (rounded to ``uint8``) is shrunk to
   ``max(4, round(r·N))`` per side (Pillow bilinear, antialiased) and **stays small** through steps 3-4: the
   noise and the JPEG act at the small size, as the spec's formula ``JPEG_q((I ⊛ k)↓_r + n)`` says; it is
   brought back to ``N`` only in step 5.  (Albumentations' ``Downscale(0.4, 0.9)``, the transform the
   ratio range comes from, shrinks and re-enlarges in one step, so noise and JPEG would act at the full
   size: not what is done here.)
3. **noise** n (at the small size): i.i.d. Gaussian per pixel and channel with σ = √v, v ~ U[50, 250) in 8-bit units
   (σ ≈ 7.1 .. 15.8 / 255); the spec's inference that the slide's range is Albumentations' ``var_limit``.
   Added to the image in [0, 1], clipped, rounded to ``uint8``.
4. **JPEG** (at the small size) quality q = ``int(U[5, 50))`` ∈ {5 .. 49}, Pillow/libjpeg baseline 4:2:0
   (:func:`bench.data.degradation.jpeg_roundtrip`).
5. **back to size** ``N × N`` with Pillow bicubic (the generator and the discriminator work at ``N``).

:func:`synthesize_lq` returns the ``uint8`` LQ and a JSON-able dict of every drawn value.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from bench.data.degradation.ops import blur_reflect, gaussian_kernel, jpeg_roundtrip

#: The ranges (spec §3.1 and the [SUITE] blur choices above); ``*_256`` are at 256 px.
RANGES: dict[str, tuple[float, float]] = {
    "gaussian_sigma_256": (0.5, 3.0),
    "motion_length_256": (3.0, 13.0),
    "resize_ratio": (0.4, 0.9),
    "noise_variance": (50.0, 250.0),
    "jpeg_quality": (5, 50),
}
GAUSSIAN_PROB = 0.5
VERSION = 1


def motion_kernel(length: float, angle: float) -> np.ndarray:
    """Normalised line kernel (odd square) of a straight motion of ``length`` px at ``angle`` (radians)."""
    length = max(1.0, float(length))
    size = int(math.ceil(length)) | 1  # odd
    size = max(size, 3)
    kernel = np.zeros((size, size), dtype=np.float64)
    c = (size - 1) / 2.0
    steps = max(2, int(math.ceil(length * 4)))
    for t in np.linspace(-(length - 1) / 2.0, (length - 1) / 2.0, steps):
        x, y = c + t * math.cos(angle), c + t * math.sin(angle)
        x0, y0 = int(math.floor(x)), int(math.floor(y))
        fx, fy = x - x0, y - y0
        for dy, wy in ((0, 1 - fy), (1, fy)):
            for dx, wx in ((0, 1 - fx), (1, fx)):
                yy, xx = y0 + dy, x0 + dx
                if 0 <= yy < size and 0 <= xx < size:
                    kernel[yy, xx] += wx * wy
    return kernel / kernel.sum()


def draw_params(rng: np.random.Generator, size: int) -> dict[str, Any]:
    """Draw the degradation parameters of one ``size × size`` image."""
    scale = size / 256.0
    params: dict[str, Any] = {"version": VERSION, "size": int(size)}
    if rng.random() < GAUSSIAN_PROB:
        lo, hi = RANGES["gaussian_sigma_256"]
        params.update(blur="gaussian", sigma=float(rng.uniform(lo, hi) * scale))
    else:
        lo, hi = RANGES["motion_length_256"]
        params.update(blur="motion", length=float(max(1.0, rng.uniform(lo, hi) * scale)),
                      angle=float(rng.uniform(0.0, math.pi)))
    params["resize_ratio"] = float(rng.uniform(*RANGES["resize_ratio"]))
    params["noise_sigma"] = float(math.sqrt(rng.uniform(*RANGES["noise_variance"])))
    params["noise_seed"] = int(rng.integers(0, 2 ** 63 - 1))
    params["jpeg_quality"] = int(rng.uniform(*RANGES["jpeg_quality"]))
    return params


def render(hq: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """Apply drawn ``params`` to ``uint8 [N, N, 3]`` -> ``uint8 [N, N, 3]`` (deterministic)."""
    from PIL import Image

    if hq.dtype != np.uint8 or hq.ndim != 3 or hq.shape[2] != 3:
        raise ValueError(f"expected uint8 [H, W, 3], got {hq.dtype} {hq.shape}")
    h, w = hq.shape[:2]
    x = hq.astype(np.float64) / 255.0
    if params["blur"] == "gaussian":
        sigma = max(1e-3, params["sigma"])
        ksize = 2 * int(math.ceil(3 * sigma)) + 1
        kernel = gaussian_kernel(ksize, sigma, sigma, 0.0)
    else:
        kernel = motion_kernel(params["length"], params["angle"])
    x = blur_reflect(x, kernel)
    blurred = np.rint(np.clip(x, 0, 1) * 255.0).astype(np.uint8)
    r = params["resize_ratio"]
    small = (max(4, int(round(r * w))), max(4, int(round(r * h))))
    down = np.asarray(Image.fromarray(blurred).resize(small, Image.BILINEAR), dtype=np.float64) / 255.0
    noise = np.random.default_rng(params["noise_seed"]).standard_normal(down.shape)
    down = np.rint(np.clip(down + noise * params["noise_sigma"] / 255.0, 0, 1) * 255.0).astype(np.uint8)
    jpg = jpeg_roundtrip(down, params["jpeg_quality"])
    return np.asarray(Image.fromarray(jpg).resize((w, h), Image.BICUBIC), dtype=np.uint8).copy()


def synthesize_lq(hq: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Draw parameters from ``rng`` and degrade ``hq`` (``uint8 [N, N, 3]``); returns ``(lq, params)``."""
    params = draw_params(rng, hq.shape[1])
    return render(hq, params), params


def synthesize_lq_seeded(hq: np.ndarray, seed: int, index: int) -> tuple[np.ndarray, dict[str, Any]]:
    """:func:`synthesize_lq` with the generator ``default_rng([seed, index])``."""
    return synthesize_lq(hq, np.random.default_rng([int(seed), int(index)]))
