"""Structural similarity (SSIM), MATLAB ``ssim.m`` conventions, batched, float64, on the 8-bit scale.

Definition (Wang, Bovik, Sheikh, Simoncelli, "Image quality assessment: from error visibility to
structural similarity", IEEE TIP 13(4), 2004; reference code ``ssim_index.m`` / ``ssim.m`` by Z. Wang)
--------------------------------------------------------------------------------------------------------
With ``w`` the 11×11 Gaussian window of σ = 1.5 normalised to sum 1 (MATLAB
``fspecial('gaussian', 11, 1.5)``), local statistics are computed with 'valid' filtering — the window
stays inside the image, no padding, so the SSIM map is ``(H-10)×(W-10)``::

    μx = w*x,  μy = w*y,  σx² = w*(x²) − μx²,  σy² = w*(y²) − μy²,  σxy = w*(xy) − μx·μy
    SSIM map = ((2 μx μy + C1)(2 σxy + C2)) / ((μx² + μy² + C1)(σx² + σy² + C2))
    C1 = (K1·L)², C2 = (K2·L)²,  K1 = 0.01, K2 = 0.03, L = 255

and the score is the mean of the map (``mean2(ssim_map)``).  Population (biased) moments, as in MATLAB.

Representations (``channel``):

* ``"rgb"`` (default): SSIM of each RGB channel, then the mean over the three channels — BasicSR
  ``calculate_ssim`` (``basicsr/metrics/psnr_ssim.py``), and scikit-image ``structural_similarity``
  with ``channel_axis``.
* ``"y"``: on BT.601 Y (float, [16, 235]) — BasicSR ``test_y_channel=True``.
* ``"gray"``: on MATLAB ``rgb2gray`` of the ``uint8`` image (rounded to integers) — the official
  ``ssim.m`` as run for pyiqa's calibration table, **without** ``ssim.m``'s automatic downsampling
  (the original ``ssim.m`` first low-passes and subsamples by ``f = max(1, round(min(H, W)/256))``; that
  step is removed, as in the official values we calibrate against).

Units and range: dimensionless, in [−1, 1], 1 iff the images are identical (within the valid region);
higher is better.  Typical face restoration values are 0.5–0.9.

Equivalence with scikit-image: ``structural_similarity(..., gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=255)`` filters with ``scipy.ndimage.gaussian_filter`` (truncate
3.5 → radius 5 → the same normalised 11-tap kernel) in 'reflect' mode over the full image, then averages
the map after cropping ``(11 − 1)/2 = 5`` pixels on every side.  The cropped region is exactly where the
window never touches the padding, i.e. the 'valid' map; the two agree to float64 rounding
(``tests/metrics/test_ssim.py``).

Images smaller than 11×11 (after ``crop_border``) raise ``ValueError`` (MATLAB ``ssim.m`` returns −Inf).

Implementation: the window is separable, ``w = g gᵀ``; the five statistics of all channels are filtered
at once along each axis in float64, either as a product with a banded Toeplitz matrix (BLAS; fastest for
face-sized images) or as 11 shifted in-place multiply-adds (large images).  Both are exact to ~1e-13.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, ClassVar

import torch

from bench.core.types import PerImageMetric

from metrics.color import check_options, prepare_pair

WINDOW_SIZE: int = 11
SIGMA: float = 1.5
K1: float = 0.01
K2: float = 0.03
DATA_RANGE: float = 255.0
C1: float = (K1 * DATA_RANGE) ** 2
C2: float = (K2 * DATA_RANGE) ** 2

#: Axes up to this length are filtered with a banded matrix product, longer ones with shifted sums.
_BANDED_MAX = 320


def gaussian_window_1d(size: int = WINDOW_SIZE, sigma: float = SIGMA) -> torch.Tensor:
    """Normalised 1-D Gaussian ``g[k] ∝ exp(−(k − (size−1)/2)² / (2σ²))``, float64; ``outer(g, g)`` is
    MATLAB ``fspecial('gaussian', size, sigma)`` (to float64 rounding)."""
    centre = (size - 1) / 2.0
    taps = [math.exp(-((k - centre) ** 2) / (2.0 * sigma * sigma)) for k in range(size)]
    total = sum(taps)
    return torch.tensor([t / total for t in taps], dtype=torch.float64)


@lru_cache(maxsize=32)
def _band_matrix(length: int, device: str) -> torch.Tensor:
    """``[length, length − 10]`` matrix M with ``(v @ M)[j] = Σ_k g[k] v[j + k]`` ('valid' correlation)."""
    g = gaussian_window_1d()
    out = length - WINDOW_SIZE + 1
    band = torch.zeros(length, out, dtype=torch.float64)
    rows = torch.arange(out)
    for k in range(WINDOW_SIZE):
        band[rows + k, rows] = g[k]
    return band.to(device)


def _filter_axis(x: torch.Tensor, dim: int) -> torch.Tensor:
    """'Valid' correlation of axis ``dim`` (-1 or -2) of ``x`` with the 11-tap window (float64)."""
    length = x.shape[dim]
    if length <= _BANDED_MAX:
        band = _band_matrix(length, str(x.device))
        return x @ band if dim == -1 else band.transpose(0, 1) @ x
    g = gaussian_window_1d().tolist()
    out_len = length - WINDOW_SIZE + 1
    out = x.narrow(dim, 0, out_len) * g[0]
    for k in range(1, WINDOW_SIZE):
        out.add_(x.narrow(dim, k, out_len), alpha=g[k])
    return out


def _filter_valid(x: torch.Tensor) -> torch.Tensor:
    """Separable 11×11 Gaussian 'valid' filtering of the last two axes: ``[..., H, W] -> [..., H-10, W-10]``."""
    return _filter_axis(_filter_axis(x, -1), -2)


def ssim_per_channel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean SSIM map per image and channel, ``[B, C]`` float64, of two float64 ``[B, C, H, W]`` tensors on
    the 0..255 scale (no conversion, no cropping)."""
    if x.shape != y.shape:
        raise ValueError(f"images must have the same shape, got {list(x.shape)} and {list(y.shape)}")
    height, width = x.shape[-2:]
    if height < WINDOW_SIZE or width < WINDOW_SIZE:
        raise ValueError(f"SSIM needs images of at least {WINDOW_SIZE}x{WINDOW_SIZE} pixels (its Gaussian "
                         f"window, 'valid' filtering); got {height}x{width} (HxW, after crop_border)")
    # σx² and σy² only ever appear summed, so four local statistics suffice (one filtering less):
    # [x, y, x² + y², x·y] of every channel, filtered in one go: [4, B, C, H, W] -> [4, B, C, h, w]
    stack = x.new_empty((4,) + tuple(x.shape))
    stack[0].copy_(x)
    stack[1].copy_(y)
    torch.mul(x, x, out=stack[2])
    stack[2].addcmul_(y, y)
    torch.mul(x, y, out=stack[3])
    mu_x, mu_y, second_sum, second_xy = _filter_valid(stack).unbind(0)
    mu_xy = mu_x * mu_y
    mu_sq_sum = mu_x.square_().add_(mu_y.square_())  # μx² + μy²
    sigma_sq_sum = second_sum.sub_(mu_sq_sum)  # σx² + σy²
    sigma_xy = second_xy.sub_(mu_xy)
    numerator = mu_xy.mul_(2.0).add_(C1).mul_(sigma_xy.mul_(2.0).add_(C2))
    denominator = mu_sq_sum.add_(C1).mul_(sigma_sq_sum.add_(C2))
    return numerator.div_(denominator).mean(dim=(-2, -1))


def ssim(restored: torch.Tensor, reference: torch.Tensor, channel: str = "rgb", crop_border: int = 0,
         quantize: bool = True) -> torch.Tensor:
    """SSIM of each image of a batch (MATLAB ``ssim.m`` conventions), ``[B]`` float64 in [−1, 1].

    Args:
        restored, reference: ``[B, 3, H, W]`` RGB tensors in ``[0, 1]`` (or ``uint8``), same shape, at
            least 11×11 after cropping.
        channel: ``"rgb"`` (mean of per-channel SSIM; BasicSR / skimage ``channel_axis``), ``"y"``
            (BT.601 luma, BasicSR ``test_y_channel``) or ``"gray"`` (MATLAB ``rgb2gray`` rounded to
            ``uint8``; official ``ssim.m`` without its downsampling).
        crop_border: pixels removed on each side before computing (BasicSR ``crop_border``).
        quantize: snap inputs to the 8-bit levels first (default; see :func:`metrics.color.to_255`).
    """
    x, y = prepare_pair(restored, reference, channel, crop_border, quantize)
    return ssim_per_channel(x, y).mean(dim=1)


class SSIM(PerImageMetric):
    """SSIM (Wang et al. 2004; 11×11 Gaussian σ 1.5, K = 0.01/0.03, L = 255, 'valid'), float64.

    ``SSIM(channel="rgb", crop_border=0, quantize=True)(restored, reference) -> [B]`` float64 tensor.
    ``channel`` is ``"rgb"`` (mean over channels, BasicSR ``calculate_ssim``), ``"y"`` or ``"gray"``;
    the metric's ``name`` follows it (``ssim``, ``ssim_y``, ``ssim_gray``).  See :mod:`metrics.ssim`.
    """
    description = (
        "SSIM (Wang et al. 2004; 11x11 Gaussian sigma 1.5, valid), mean over RGB channels. Higher is "
        "better."
    )
    citation = (
        "Wang, Bovik, Sheikh, Simoncelli, Image Quality Assessment: From Error Visibility to Structural "
        "Similarity, IEEE TIP 2004; scikit-image / MATLAB ssim.m conventions"
    )
    licence = "MIT (frbench implementation)"
    value_range = (-1.0, 1.0)
    #: the 11x11 Gaussian window, 'valid' filtering (MATLAB ssim.m: -Inf below it)
    min_size: ClassVar[int] = WINDOW_SIZE

    name: ClassVar[str] = "ssim"
    higher_is_better: ClassVar[bool] = True
    needs_reference: ClassVar[bool] = True
    unit: ClassVar[str] = ""

    def __init__(self, channel: str = "rgb", crop_border: int = 0, quantize: bool = True) -> None:
        check_options(channel, crop_border)
        self.channel = channel
        self.crop_border = crop_border
        self.quantize = bool(quantize)
        # the instance name follows the representation (the class attribute stays "ssim")
        self.name = "ssim" if channel == "rgb" else f"ssim_{channel}"  # type: ignore[misc]

    def min_side(self) -> int:
        """The window plus the border cropped on each side: ``11 + 2·crop_border``."""
        return WINDOW_SIZE + 2 * self.crop_border

    def __call__(self, restored: torch.Tensor, reference: torch.Tensor | None = None) -> torch.Tensor:
        return ssim(restored, reference, self.channel, self.crop_border, self.quantize)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out["options"].pop("name", None)
        out["definition"] = ("Wang et al. 2004, MATLAB ssim.m: 11x11 Gaussian sigma 1.5, K1 0.01, K2 0.03, "
                             "L 255, valid filtering, mean of map; float64"
                             + ("; mean over RGB channels" if self.channel == "rgb" else "")
                             + ("; no downsampling" if self.channel == "gray" else ""))
        return out

    def __repr__(self) -> str:
        return f"SSIM(channel={self.channel!r}, crop_border={self.crop_border}, quantize={self.quantize})"


def ssim_y(crop_border: int = 0, quantize: bool = True) -> SSIM:
    """SSIM on the BT.601 Y channel (BasicSR test_y_channel). Higher is better."""
    return SSIM(channel="y", crop_border=crop_border, quantize=quantize)


def ssim_gray(crop_border: int = 0, quantize: bool = True) -> SSIM:
    """SSIM on MATLAB rgb2gray, as the official ssim.m run without downsampling. Higher is better."""
    return SSIM(channel="gray", crop_border=crop_border, quantize=quantize)


__all__ = ["WINDOW_SIZE", "SIGMA", "K1", "K2", "C1", "C2", "DATA_RANGE", "gaussian_window_1d",
           "ssim_per_channel", "ssim", "SSIM", "ssim_y", "ssim_gray"]
