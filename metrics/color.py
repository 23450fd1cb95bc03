"""Colour conversions used by the full-reference metrics, on batched torch tensors.

All functions take ``[B, 3, H, W]`` RGB tensors with values in ``[0, 1]`` and return ``[B, 1, H, W]``
``float64`` tensors on the **0..255 scale**, on the input's device.

* :func:`to_255` — RGB to float64 0..255, optionally snapped to the 256 8-bit levels.
* :func:`rgb_to_y_bt601` — the luma of ITU-R BT.601 "studio swing" YCbCr, exactly as BasicSR's
  ``rgb2ycbcr(img, y_only=True)`` / ``bgr2ycbcr`` used by ``calculate_psnr``/``calculate_ssim`` with
  ``test_y_channel=True`` (``basicsr/utils/color_util.py``, ``basicsr/metrics/metric_util.py``
  ``to_y_channel``), which itself reproduces MATLAB ``rgb2ycbcr``'s Y row:

      Y = 16 + 65.481 R + 128.553 G + 24.966 B,   R, G, B in [0, 1]   ->   Y in [16, 235]

  (the coefficients are 219 · (0.299, 0.587, 0.114)).  BasicSR evaluates it in float32 and
  divides/multiplies by 255 on the way; here it is float64 throughout, so values agree with BasicSR to
  float32 precision (~1e-5) and are exact to float64 precision otherwise.  No rounding: Y is kept as
  a float, as BasicSR does.
* :func:`rgb_to_gray_matlab` — MATLAB ``rgb2gray`` applied to a ``uint8`` image: the first row of
  the inverse of MATLAB's NTSC (YIQ) matrix,

      G = 0.298936021293775 R + 0.587043074451121 G + 0.114020904255103 B   (R, G, B in 0..255)

  then rounded half away from zero and saturated to ``uint8`` (MATLAB integer-class conversion).  This
  is the input the official ``ssim.m`` (Z. Wang) calibration values were computed on
  (pyiqa ``ResultsCalibra`` notes).  Returned as float64 holding integers 0..255.

Shared conversions
------------------
Inside ``with shared_conversions():`` each conversion of the same tensor (same object, unchanged since:
its ``_version`` counter) is computed once and handed to every metric that asks for it: the runner wraps
the per-image metrics of a batch in it, so PSNR and SSIM share ``to_255`` of both sides and NIQE, BRISQUE
and ``rgb2gray``-based metrics share the grey image.  Callers must not modify a returned tensor in place
(``tests/metrics/test_color.py`` checks that every registered per-image metric gives the same values with
and without sharing).  Outside the block nothing is kept.
"""
from __future__ import annotations

import contextvars
import functools
from contextlib import contextmanager
from typing import Callable, Iterator

import torch

#: per-block memo of conversions: ``{(kind, id, shape, stride, dtype, version, quantize): (source, result)}``
_SHARED: contextvars.ContextVar[dict | None] = contextvars.ContextVar("frbench_shared_conversions", default=None)


@contextmanager
def shared_conversions() -> Iterator[None]:
    """Compute each colour conversion of a tensor once within the block (see the module docstring)."""
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def _shared(kind: str) -> Callable:
    """Memoise a conversion ``f(x, quantize)`` inside :func:`shared_conversions` (keyed by the tensor's
    identity, layout and version counter; the source tensor is held, so its id cannot be reused)."""
    def wrap(convert: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        @functools.wraps(convert)
        def shared(x: torch.Tensor, quantize: bool = True) -> torch.Tensor:
            cache = _SHARED.get()
            if cache is None or not isinstance(x, torch.Tensor):
                return convert(x, quantize)
            key = (kind, id(x), tuple(x.shape), x.stride(), x.dtype, x._version, bool(quantize))
            hit = cache.get(key)
            if hit is not None and hit[0] is x:
                return hit[1]
            value = convert(x, quantize)
            cache[key] = (x, value)
            return value
        return shared
    return wrap

#: BasicSR / MATLAB ``rgb2ycbcr`` Y-row coefficients for R, G, B in [0, 1]; offset 16 (0..255 scale).
BT601_Y_COEFFS: tuple[float, float, float] = (65.481, 128.553, 24.966)
BT601_Y_OFFSET: float = 16.0

#: MATLAB ``rgb2gray`` coefficients (first row of ``inv([1 .956 .621; 1 -.272 -.647; 1 -1.106 1.703])``).
MATLAB_GRAY_COEFFS: tuple[float, float, float] = (0.298936021293775, 0.587043074451121, 0.114020904255103)


def check_rgb_batch(x: torch.Tensor, name: str = "image") -> None:
    """Raise ``ValueError``/``TypeError`` unless ``x`` is a ``[B, 3, H, W]`` floating-point tensor."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor [B, 3, H, W], got {type(x).__name__}")
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"{name} must have shape [B, 3, H, W] (RGB batch), got {list(x.shape)}")
    if not (x.is_floating_point() or x.dtype == torch.uint8):
        raise TypeError(f"{name} must be float in [0, 1] (or uint8), got dtype {x.dtype}")


@_shared("to_255")
def to_255(x: torch.Tensor, quantize: bool = True) -> torch.Tensor:
    """``[B, C, H, W]`` image in ``[0, 1]`` (or ``uint8`` 0..255) -> float64 on the 0..255 scale.

    With ``quantize`` (default) values are clamped to ``[0, 255]`` and rounded to the nearest integer,
    i.e. snapped to the 8-bit level they encode.  For the runner's inputs (``k/255`` stored as
    float32) this only removes float32 representation error (|x·255 − k| ≲ 2e-5), making the result
    bit-identical to computing on the decoded ``uint8`` arrays, as BasicSR and scikit-image do.
    Without it the float values are used as given (outputs never saved as 8-bit).
    """
    if x.dtype == torch.uint8:
        return x.to(torch.float64)
    y = x.to(torch.float64) * 255.0
    if quantize:
        y = torch.round(y.clamp_(0.0, 255.0))
    return y


def _weighted_sum(x255: torch.Tensor, coeffs: tuple[float, float, float]) -> torch.Tensor:
    return (coeffs[0] * x255[:, 0:1] + coeffs[1] * x255[:, 1:2] + coeffs[2] * x255[:, 2:3])


@_shared("rgb_to_y_bt601")
def rgb_to_y_bt601(x: torch.Tensor, quantize: bool = True) -> torch.Tensor:
    """BT.601 luma Y (BasicSR ``rgb2ycbcr(y_only=True)``), ``[B, 3, H, W]`` in ``[0, 1]`` -> ``[B, 1, H, W]``
    float64 in ``[16, 235]`` (0..255 scale): ``Y = 16 + (65.481 R + 128.553 G + 24.966 B)`` with R, G, B
    in [0, 1].  ``quantize`` snaps the input to 8-bit levels first (see :func:`to_255`); Y itself is
    not rounded.
    """
    check_rgb_batch(x)
    x255 = to_255(x, quantize)
    return _weighted_sum(x255, BT601_Y_COEFFS) / 255.0 + BT601_Y_OFFSET


@_shared("rgb_to_gray_matlab")
def rgb_to_gray_matlab(x: torch.Tensor, quantize: bool = True) -> torch.Tensor:
    """MATLAB ``rgb2gray`` on a ``uint8`` image, ``[B, 3, H, W]`` in ``[0, 1]`` -> ``[B, 1, H, W]`` float64
    holding the integers 0..255.

    ``G = round(0.298936021293775 R + 0.587043074451121 G + 0.114020904255103 B)`` with R, G, B on the
    0..255 scale, rounding half away from zero (values are non-negative, so ``floor(v + 0.5)``) and
    saturating to [0, 255], as MATLAB's conversion back to ``uint8`` does.  ``quantize`` first snaps the
    input to 8-bit levels (MATLAB reads the ``uint8`` file).
    """
    check_rgb_batch(x)
    x255 = to_255(x, quantize)
    gray = _weighted_sum(x255, MATLAB_GRAY_COEFFS)
    return torch.floor(gray + 0.5).clamp_(0.0, 255.0)


#: The representations a full-reference metric can be computed on.
CHANNELS: tuple[str, ...] = ("rgb", "y", "gray")


def check_options(channel: str, crop_border: int) -> None:
    """Validate the ``channel`` / ``crop_border`` options shared by PSNR and SSIM."""
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(repr(c) for c in CHANNELS)}, got {channel!r}")
    if isinstance(crop_border, bool) or not isinstance(crop_border, int) or crop_border < 0:
        raise ValueError(f"crop_border must be an integer >= 0 (pixels removed on each side), got {crop_border!r}")


def prepare_pair(restored: torch.Tensor, reference: torch.Tensor, channel: str = "rgb",
                 crop_border: int = 0, quantize: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Check a (restored, reference) pair and convert both to the metric's representation.

    Returns two float64 tensors on the 0..255 scale, ``[B, 3, h, w]`` for ``"rgb"`` and
    ``[B, 1, h, w]`` for ``"y"``/``"gray"``, with ``crop_border`` pixels removed on each side
    (``h = H - 2·crop_border``; the crop commutes with the pointwise colour conversion, BasicSR crops
    first).  Raises ``ValueError`` on a shape mismatch or when the crop leaves nothing.
    """
    check_options(channel, crop_border)
    check_rgb_batch(restored, "restored")
    if reference is None:
        raise ValueError("this metric needs a reference image (full-reference metric), got None")
    check_rgb_batch(reference, "reference")
    if restored.shape != reference.shape:
        raise ValueError(f"restored and reference must have the same shape, got {list(restored.shape)} "
                         f"and {list(reference.shape)}")
    height, width = restored.shape[-2:]
    if crop_border:
        if 2 * crop_border >= min(height, width):
            raise ValueError(f"crop_border={crop_border} removes the whole {height}x{width} (HxW) image")
        restored = restored[..., crop_border:height - crop_border, crop_border:width - crop_border]
        reference = reference[..., crop_border:height - crop_border, crop_border:width - crop_border]
    if channel == "rgb":
        return to_255(restored, quantize), to_255(reference, quantize)
    convert = rgb_to_y_bt601 if channel == "y" else rgb_to_gray_matlab
    return convert(restored, quantize), convert(reference, quantize)


__all__ = ["shared_conversions", "BT601_Y_COEFFS", "BT601_Y_OFFSET", "MATLAB_GRAY_COEFFS", "CHANNELS", "check_rgb_batch",
           "check_options", "to_255", "rgb_to_y_bt601", "rgb_to_gray_matlab", "prepare_pair"]
