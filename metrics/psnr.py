"""Peak signal-to-noise ratio (PSNR), batched, float64, on the 8-bit scale.

Definition
----------
For a restored image ``x`` and its reference ``y`` in a chosen representation (RGB, BT.601 Y or MATLAB
grey; see :mod:`metrics.color`) on the 0..255 scale::

    MSE  = mean over all pixels *and* channels of (x - y)^2        (one MSE per image)
    PSNR = 10 · log10(255^2 / MSE)   [dB]

For RGB the three channels are pooled into one MSE (not a mean of per-channel PSNRs), which is what
scikit-image ``skimage.metrics.peak_signal_noise_ratio(data_range=255)`` on an ``H×W×3`` ``uint8``
array and BasicSR ``calculate_psnr`` (``basicsr/metrics/psnr_ssim.py``; ``crop_border``,
``test_y_channel``) compute.  ``channel="y"`` is BasicSR's ``test_y_channel=True`` (float Y in
[16, 235], not rounded).

Units and range: decibels, higher is better.  For 8-bit images the MSE is either 0 or at least
1/(3·H·W) (RGB), so finite values are bounded by ``10·log10(3·H·W·255²)`` (≈ 98.9 dB at 200×200); typical
face restoration values are 18–35 dB.  **Identical images give ``+inf``** (MSE = 0): it is returned as
``float('inf')`` and the runner stores it as such; averaging code must treat it explicitly.

Calibration: on the five TID2013 pairs of the TID2013 calibration pairs of IQA-PyTorch (``chaofengc/IQA-PyTorch`` ``ResultsCalibra``) the RGB PSNR equals the
official values (scikit-image on 3-channel ``uint8``), see ``tests/metrics/test_psnr.py``.
"""
from __future__ import annotations

from typing import Any, ClassVar

import torch

from bench.core.types import PerImageMetric

from metrics.color import check_options, prepare_pair

#: Peak value of the 8-bit scale the metric is computed on.
DATA_RANGE: float = 255.0


def mse(restored: torch.Tensor, reference: torch.Tensor, channel: str = "rgb", crop_border: int = 0,
        quantize: bool = True) -> torch.Tensor:
    """Mean squared error per image on the 0..255 scale, ``[B]`` float64 (see :func:`psnr` for options)."""
    x, y = prepare_pair(restored, reference, channel, crop_border, quantize)
    return (x - y).square_().mean(dim=(1, 2, 3))


def psnr(restored: torch.Tensor, reference: torch.Tensor, channel: str = "rgb", crop_border: int = 0,
         quantize: bool = True) -> torch.Tensor:
    """PSNR in dB of each image of a batch: ``10·log10(255² / MSE)``, ``[B]`` float64 (``+inf`` if equal).

    Args:
        restored, reference: ``[B, 3, H, W]`` RGB tensors in ``[0, 1]`` (or ``uint8``), same shape.
        channel: ``"rgb"`` (MSE pooled over the 3 channels; skimage / BasicSR default), ``"y"`` (BT.601
            luma, BasicSR ``test_y_channel``) or ``"gray"`` (MATLAB ``rgb2gray``, ``uint8``-rounded).
        crop_border: pixels removed on each side before computing (BasicSR ``crop_border``).
        quantize: snap inputs to the 8-bit levels first (default; see :func:`metrics.color.to_255`).
    """
    err = mse(restored, reference, channel, crop_border, quantize)
    peak = torch.full_like(err, DATA_RANGE * DATA_RANGE)
    out = 10.0 * torch.log10(peak / err)  # err == 0 -> peak/0 = +inf -> +inf dB
    return torch.where(err == 0, torch.full_like(err, float("inf")), out)


class PSNR(PerImageMetric):
    """PSNR in dB on 8-bit images, float64 (skimage ``peak_signal_noise_ratio`` / BasicSR ``calculate_psnr``).

    ``PSNR(channel="rgb", crop_border=0, quantize=True)(restored, reference) -> [B]`` float64 tensor.
    ``channel`` is ``"rgb"``, ``"y"`` or ``"gray"``; the metric's ``name`` follows it (``psnr``,
    ``psnr_y``, ``psnr_gray``).  Identical images give ``+inf``.  See :mod:`metrics.psnr`.
    """
    description = "PSNR in dB on RGB, 8-bit range, float64 (skimage / BasicSR convention). Higher is better."
    citation = (
        "PSNR = 10 log10(255^2 / MSE) on 8-bit values; conventions of scikit-image "
        "peak_signal_noise_ratio and BasicSR calculate_psnr"
    )
    licence = "MIT (frbench implementation)"
    value_range = (0.0, float("inf"))

    name: ClassVar[str] = "psnr"
    higher_is_better: ClassVar[bool] = True
    needs_reference: ClassVar[bool] = True
    unit: ClassVar[str] = "dB"

    def __init__(self, channel: str = "rgb", crop_border: int = 0, quantize: bool = True) -> None:
        check_options(channel, crop_border)
        self.channel = channel
        self.crop_border = crop_border
        self.quantize = bool(quantize)
        # the instance name follows the representation (the class attribute stays "psnr")
        self.name = "psnr" if channel == "rgb" else f"psnr_{channel}"  # type: ignore[misc]

    def min_side(self) -> int:
        """No window (``min_size`` 1), but ``crop_border`` pixels are removed on each side: ``1 + 2·crop_border``."""
        return 1 + 2 * self.crop_border

    def __call__(self, restored: torch.Tensor, reference: torch.Tensor | None = None) -> torch.Tensor:
        return psnr(restored, reference, self.channel, self.crop_border, self.quantize)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out["options"].pop("name", None)
        out["definition"] = "10*log10(255^2/MSE), MSE pooled over pixels and channels, float64; +inf if identical"
        return out

    def __repr__(self) -> str:
        return f"PSNR(channel={self.channel!r}, crop_border={self.crop_border}, quantize={self.quantize})"


def psnr_y(crop_border: int = 0, quantize: bool = True) -> PSNR:
    """PSNR in dB on the BT.601 Y channel (BasicSR test_y_channel). Higher is better."""
    return PSNR(channel="y", crop_border=crop_border, quantize=quantize)


__all__ = ["DATA_RANGE", "mse", "psnr", "PSNR", "psnr_y"]
