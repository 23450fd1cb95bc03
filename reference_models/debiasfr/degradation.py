"""DebiasFR's differentiable degradation ``Deg(x; k, s, n, q)`` in torch, with explicit parameters.

Provenance: ``docs/protocols/debiasfr.md`` §5 (pipeline, distributions), §5.1 (DiffJPEG / STE) and §4
(pseudo-pair loss); official ``dbfr/Degradations.py`` (Seeyn/DebiasFR @ 7016255: blur L6–20, ``forward``
L23–41) and ``dbfr/data/ffhq_degradation_dataset.py`` L104–173 (parameter draws), option file
``options/…yml`` L23–35.  The project's own re-implementation.

For ``x ∈ [0, 1]^{B×3×H×W}`` (the network output of the pseudo-pair branch, or the HQ face)::

    Deg(x; k, s, n, q) = up_512( DiffJPEG_q( clip_[0,1]( down_s( k ⊛ x ) + n ) ) )

1. ``k ⊛ x``: depthwise (per channel, same kernel) correlation with the odd square kernel ``k`` after
   **reflect** padding of ``⌊size/2⌋`` (20 for the 41×41 kernel) — the size is kept.  The Gaussian kernels
   are point-symmetric, so correlation = convolution (Degradations.py L6–20).
2. ``down_s``: ``F.interpolate(mode="bilinear", align_corners=False, antialias=False)`` to
   ``(int(H // s), int(W // s))`` (L29–32; here at least 1 pixel per side).
3. ``+ n``: an additive noise **tensor** given by the caller, ``[B or 1, 3, h, w]`` at the LQ size, then
   ``clip`` to [0, 1] (L33–37; zero gradient where clipped).  Passing the *same tensor* again re-uses the same
   noise realisation, which the pseudo-pair branch requires (dataset L144–150 ships it with the sample).
4. ``DiffJPEG_q``: :func:`reference_models.debiasfr.diffjpeg.diff_jpeg` with per-image quality ``q``; STE
   rounding when ``differentiable=True`` (the model, dbfr_model.py L62), ``torch.round`` otherwise (the
   dataset, L102) (L38–39).
5. ``up_512``: bilinear (``align_corners=False``) back to ``out_size`` (512×512 in DebiasFR, L40).

Not part of ``Deg`` (dataset-only steps, applied by the training data code to the LQ, not to re-degraded
outputs): the 1 % greyscale conversion and the final 8-bit quantisation (spec §5 items 7–8).

:func:`sample_degradation_params` draws ``(k, s, n, q)`` from the §5 distributions with a
``torch.Generator``: kernel isotropic or anisotropic Gaussian (p = 0.5 each; BasicSR
``random_mixed_kernels``: σx ~ U[0.1, 10]; iso: σy = σx, θ = 0; aniso: σy ~ U[0.1, 10], θ ~ U[−π, π]),
41×41; s ~ U[1, 20]; noise σ ~ U[0, 20] / 255 times i.i.d. standard normals per pixel and channel; quality
``int(U[60, 100))`` ∈ {60 … 99}.  The kernel formula is the one of :func:`bench.data.degradation.gaussian_kernel`
(the evaluation degradation), computed in torch.

Batching: kernel, noise and quality may differ per image, but the scale (hence the LQ size) is shared by
the batch; the official dataset draws everything per sample — draw with ``batch=1`` for that.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F

from bench.data.degradation.debiasfr import DEBIASFR_RANGES
from reference_models.debiasfr.diffjpeg import Quality, diff_jpeg

__all__ = [
    "DEFAULT_RANGES",
    "DegradationParams",
    "degrade",
    "degrade_with",
    "gaussian_kernel_torch",
    "lq_size",
    "sample_degradation_params",
]

#: Training ranges of the official option file (yml L23–35): the one table of the evaluation protocol,
#: :data:`bench.data.degradation.debiasfr.DEBIASFR_RANGES` (read-only).
DEFAULT_RANGES = DEBIASFR_RANGES

Size = int | tuple[int, int]


@dataclass
class DegradationParams:
    """Everything ``Deg`` needs, for a batch of ``B`` images.

    ``kernel`` ``[B, k, k]`` (or ``[k, k]`` shared), ``scale`` (float, shared), ``noise`` ``[B, 3, h, w]``
    (already multiplied by σ/255), ``quality`` ``[B]`` int64.  The remaining fields are for the record:
    how the kernel and noise were drawn.
    """

    kernel: torch.Tensor
    scale: float
    noise: torch.Tensor
    quality: torch.Tensor
    kernel_type: Sequence[str] = field(default_factory=list)
    sigma_x: torch.Tensor | None = None
    sigma_y: torch.Tensor | None = None
    theta: torch.Tensor | None = None
    noise_sigma: torch.Tensor | None = None

    def to(self, device=None, dtype: torch.dtype | None = None) -> DegradationParams:
        """Kernel and noise moved/cast (quality and record fields only moved)."""
        return replace(self, kernel=self.kernel.to(device=device, dtype=dtype),
                       noise=self.noise.to(device=device, dtype=dtype), quality=self.quality.to(device=device))

    def record(self) -> dict:
        """JSON-serialisable summary (without the noise tensor itself)."""
        def lst(t):
            return None if t is None else [float(v) for v in t.reshape(-1)]
        return {"kernel_type": list(self.kernel_type), "kernel_size": int(self.kernel.shape[-1]),
                "sigma_x": lst(self.sigma_x), "sigma_y": lst(self.sigma_y), "theta": lst(self.theta),
                "scale": float(self.scale), "lq_size": [int(self.noise.shape[-2]), int(self.noise.shape[-1])],
                "noise_sigma_8bit": lst(self.noise_sigma), "jpeg_quality": [int(v) for v in self.quality.reshape(-1)]}


def gaussian_kernel_torch(size: int, sigma_x: torch.Tensor, sigma_y: torch.Tensor, theta: torch.Tensor,
                          dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Normalised bivariate Gaussian kernels ``[B, size, size]`` (BasicSR ``bivariate_Gaussian``).

    ``k[i, j] ∝ exp(−½ vᵀ Σ⁻¹ v)``, ``v = (j − c, i − c)`` (x = column, y = row offset, ``c = (size−1)/2``),
    ``Σ = R(θ) diag(σx², σy²) R(θ)ᵀ``; each kernel sums to 1.  Computed in float64, returned in ``dtype``;
    equals :func:`bench.data.degradation.gaussian_kernel`.
    """
    if size < 1 or size % 2 == 0:
        raise ValueError(f"kernel size must be odd and positive, got {size}")
    sx, sy, th = (torch.as_tensor(v, dtype=torch.float64).reshape(-1) for v in (sigma_x, sigma_y, theta))
    if (sx <= 0).any() or (sy <= 0).any():
        raise ValueError("kernel sigmas must be > 0")
    axis = torch.arange(size, dtype=torch.float64) - (size - 1) / 2.0
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    cos, sin = torch.cos(th), torch.sin(th)
    # Σ⁻¹ = R diag(1/σx², 1/σy²) Rᵀ
    a, b = 1.0 / sx ** 2, 1.0 / sy ** 2
    i00 = cos * cos * a + sin * sin * b
    i11 = sin * sin * a + cos * cos * b
    i01 = cos * sin * (a - b)
    quad = (i00.view(-1, 1, 1) * xx * xx + 2.0 * i01.view(-1, 1, 1) * xx * yy + i11.view(-1, 1, 1) * yy * yy)
    kernel = torch.exp(-0.5 * quad)
    kernel = kernel / kernel.sum(dim=(1, 2), keepdim=True)
    return kernel.to(dtype)


def lq_size(size: tuple[int, int], scale: float) -> tuple[int, int]:
    """LQ size ``(max(1, int(H // s)), max(1, int(W // s)))`` (official ``int(w // scale)``, floor)."""
    return max(1, int(size[0] // scale)), max(1, int(size[1] // scale))


def _blur(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    batch, channels, height, width = image.shape
    if kernel.ndim == 2:
        kernel = kernel.unsqueeze(0)
    if kernel.ndim != 3 or kernel.shape[-1] != kernel.shape[-2] or kernel.shape[-1] % 2 == 0:
        raise ValueError(f"kernel must be [k, k] or [B, k, k] with k odd, got {tuple(kernel.shape)}")
    if kernel.shape[0] not in (1, batch):
        raise ValueError(f"kernel batch {kernel.shape[0]} does not match image batch {batch}")
    pad = kernel.shape[-1] // 2
    kernel = kernel.to(dtype=image.dtype, device=image.device)
    padded = F.pad(image, (pad, pad, pad, pad), mode="reflect")
    if kernel.shape[0] == 1:
        weight = kernel.expand(channels, -1, -1).unsqueeze(1)
        return F.conv2d(padded, weight, groups=channels)
    weight = kernel.repeat_interleave(channels, dim=0).unsqueeze(1)  # [B*C, 1, k, k]
    out = F.conv2d(padded.reshape(1, batch * channels, *padded.shape[2:]), weight, groups=batch * channels)
    return out.reshape(batch, channels, height, width)


def degrade(image: torch.Tensor, kernel: torch.Tensor, scale: float, noise: torch.Tensor, quality: Quality, *,
            differentiable: bool = True, out_size: Size | None = 512, jpeg_padding: str = "centre") -> torch.Tensor:
    """``Deg(image; kernel, scale, noise, quality)`` (module doc): blur → bilinear down → + noise, clip →
    DiffJPEG → bilinear up to ``out_size`` (``None``: back to the input size).

    ``image`` ``[B, 3, H, W]`` float in [0, 1]; ``kernel`` ``[k, k]`` or ``[B, k, k]``; ``scale`` ≥ 1 (one for
    the batch); ``noise`` ``[B or 1, 3, h, w]`` with ``(h, w) = lq_size((H, W), scale)``; ``quality`` a number
    or ``[B]`` in [1, 100).  Deterministic: the same arguments give the same output.
    """
    if image.ndim != 4 or image.shape[1] != 3 or not image.is_floating_point():
        raise ValueError(f"image must be a float tensor [B, 3, H, W], got {image.dtype} {tuple(image.shape)}")
    scale = float(scale)
    if not scale >= 1.0:
        raise ValueError(f"scale must be >= 1, got {scale}")
    height, width = image.shape[-2:]
    pad = kernel.shape[-1] // 2
    if pad >= min(height, width):
        raise ValueError(f"reflect padding {pad} needs an image larger than {pad} px per side, got {height}x{width}")
    x = _blur(image, kernel)
    size = lq_size((height, width), scale)
    x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=False)
    if noise.ndim != 4 or tuple(noise.shape[1:]) != (3, *size) or noise.shape[0] not in (1, image.shape[0]):
        raise ValueError(f"noise must be [B or 1, 3, {size[0]}, {size[1]}] for scale {scale} on {height}x{width}, "
                         f"got {tuple(noise.shape)}")
    x = (x + noise.to(dtype=x.dtype, device=x.device)).clamp(0.0, 1.0)
    x = diff_jpeg(x, quality, differentiable=differentiable, padding=jpeg_padding)
    if out_size is None:
        out_size = (height, width)
    elif isinstance(out_size, int):
        out_size = (out_size, out_size)
    return F.interpolate(x, size=tuple(int(v) for v in out_size), mode="bilinear", align_corners=False)


def degrade_with(image: torch.Tensor, params: DegradationParams, **options) -> torch.Tensor:
    """:func:`degrade` with the fields of ``params`` (same keyword options)."""
    return degrade(image, params.kernel, params.scale, params.noise, params.quality, **options)


def _uniform(generator: torch.Generator | None, n: int, low: float, high: float) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator, dtype=torch.float64)


def sample_degradation_params(generator: torch.Generator | None = None, *, batch: int = 1,
                              size: Size = 512, scale: float | None = None,
                              kernel_size: int = DEFAULT_RANGES["kernel_size"],
                              iso_prob: float = DEFAULT_RANGES["iso_prob"],
                              sigma_range: tuple[float, float] = DEFAULT_RANGES["sigma_range"],
                              scale_range: tuple[float, float] = DEFAULT_RANGES["scale_range"],
                              noise_range: tuple[float, float] = DEFAULT_RANGES["noise_range"],
                              jpeg_range: tuple[int, int] = DEFAULT_RANGES["jpeg_range"],
                              dtype: torch.dtype = torch.float32) -> DegradationParams:
    """Draw ``(k, s, n, q)`` for ``batch`` images of ``size`` (HQ side or ``(H, W)``) from the §5
    distributions, with ``generator`` (CPU ``torch.Generator``; the same seed gives the same params);
    the ranges default to :data:`DEFAULT_RANGES`.

    Per image: kernel type (iso with ``iso_prob``), σx, σy, θ, noise σ and quality; shared: the scale
    (``scale`` fixes it).  Draw order (fixed, so a seed is reproducible): scale, kernel type, σx, σy, θ,
    noise σ, quality, noise normals.  Quality ``int(U[lo, hi))``, clamped to ``hi − 1`` (≤ 99 by default).
    """
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    if not 1 <= jpeg_range[0] <= jpeg_range[1] <= 100:
        raise ValueError(f"jpeg_range must lie in [1, 100], got {jpeg_range}")
    hq = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    drawn_scale = float(_uniform(generator, 1, *scale_range)[0])
    scale = drawn_scale if scale is None else float(scale)
    iso = torch.rand(batch, generator=generator, dtype=torch.float64) < iso_prob
    sigma_x = _uniform(generator, batch, *sigma_range)
    sigma_y = torch.where(iso, sigma_x, _uniform(generator, batch, *sigma_range))
    theta = torch.where(iso, torch.zeros(batch, dtype=torch.float64), _uniform(generator, batch, -math.pi, math.pi))
    noise_sigma = _uniform(generator, batch, *noise_range)
    quality = _uniform(generator, batch, float(jpeg_range[0]), float(jpeg_range[1])).floor().to(torch.int64)
    quality = quality.clamp(max=max(jpeg_range[0], jpeg_range[1] - 1))
    h, w = lq_size(hq, scale)
    normals = torch.randn((batch, 3, h, w), generator=generator, dtype=torch.float64)
    noise = (normals * (noise_sigma / 255.0).view(-1, 1, 1, 1)).to(dtype)
    kernel = gaussian_kernel_torch(kernel_size, sigma_x, sigma_y, theta, dtype=dtype)
    return DegradationParams(kernel=kernel, scale=scale, noise=noise, quality=quality,
                             kernel_type=["iso" if v else "aniso" for v in iso.tolist()],
                             sigma_x=sigma_x, sigma_y=sigma_y, theta=theta, noise_sigma=noise_sigma)
