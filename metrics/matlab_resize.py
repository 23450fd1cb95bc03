"""MATLAB ``imresize`` (bicubic, antialiased), batched in torch, float64.

What MATLAB's ``imresize(I, scale)`` does for the default ``'bicubic'`` method (Image Processing
Toolbox, ``imresize.m``, sub-functions ``contributions`` and ``cubic``), re-implemented here from that
description:

* Kernel: Keys' cubic convolution with ``a = -0.5``::

      k(x) = 1.5|x|³ − 2.5|x|² + 1                 for |x| ≤ 1
           = −0.5|x|³ + 2.5|x|² − 4|x| + 2         for 1 < |x| ≤ 2,   0 otherwise

* Antialiasing when shrinking (``scale < 1``): the kernel is stretched by ``1/scale``,
  ``h(x) = scale · k(scale · x)``, and its support widens from 4 to ``4/scale`` input pixels.
* Geometry: output pixel ``u = 1..out`` (1-based) maps to the input coordinate
  ``x = u/scale + 0.5·(1 − 1/scale)``; the contributing input pixels are
  ``floor(x − width/2) + (0 .. ceil(width) + 1)``; the weights ``h(x − j)`` are normalised to sum 1 on
  every output pixel.
* Boundary: indices outside ``1..in`` are mirrored *with* the edge pixel repeated
  (``aux = [1:in, in:-1:1]``, ``j -> aux(mod(j − 1, 2·in) + 1)``), i.e. "symmetric" padding.
* Output size ``ceil(in · scale)``; dimension 1 (rows) is resized first, then dimension 2.
* No rounding or clamping for ``double`` input (NIQE and BRISQUE resize ``double`` images).

When ``1/scale`` is an integer (NIQE and BRISQUE use 0.5) every output pixel uses the same taps shifted
by ``1/scale`` input pixels, so each 1-D resize is a strided multiply-add over the symmetrically padded
input (cheap); otherwise it is a dense ``[out, in]`` matrix (weights of mirrored indices accumulated)
applied with a matrix product (:func:`imresize_dense`).  Both agree to float64 rounding.  Results agree with MATLAB to float64 rounding (~1e-13 on the 0..255 scale); the order
of the additions differs from MATLAB's, which only matters where rounding itself matters (flat regions,
see :mod:`metrics.nss`).
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with ``a = -0.5`` (MATLAB ``imresize`` ``cubic``)."""
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    return ((1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
            + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2)))


def output_length(in_length: int, scale: float) -> int:
    """``ceil(in_length · scale)`` (MATLAB's output size for a scale factor)."""
    return int(math.ceil(in_length * scale))


@lru_cache(maxsize=64)
def resize_matrix_np(in_length: int, scale: float, antialiasing: bool = True) -> np.ndarray:
    """The ``[out, in]`` float64 matrix ``M`` of one MATLAB bicubic 1-D resize: ``y = M @ x``."""
    if in_length < 1:
        raise ValueError(f"cannot resize an axis of length {in_length}")
    out_length = output_length(in_length, scale)
    kernel_width = 4.0
    if scale < 1 and antialiasing:
        def h(v):
            return scale * cubic(scale * v)
        kernel_width = kernel_width / scale
    else:
        h = cubic
    u = np.arange(1, out_length + 1, dtype=np.float64)
    x = u / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(x - kernel_width / 2.0)
    taps = int(math.ceil(kernel_width)) + 2
    indices = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    weights = h(x[:, None] - indices)
    weights = weights / weights.sum(axis=1, keepdims=True)
    aux = np.concatenate([np.arange(in_length), np.arange(in_length - 1, -1, -1)])
    mapped = aux[np.mod(indices.astype(np.int64) - 1, 2 * in_length)]
    matrix = np.zeros((out_length, in_length), dtype=np.float64)
    rows = np.repeat(np.arange(out_length), taps)
    np.add.at(matrix, (rows, mapped.ravel()), weights.ravel())
    return matrix


@lru_cache(maxsize=64)
def _resize_matrix(in_length: int, scale: float, antialiasing: bool, device: str) -> torch.Tensor:
    return torch.from_numpy(resize_matrix_np(in_length, scale, antialiasing)).to(device)


@lru_cache(maxsize=64)
def _strided_plan(in_length: int, scale: float, antialiasing: bool) -> tuple[int, int, int, tuple[float, ...], int] | None:
    """For ``1/scale`` an integer ``s``, every output pixel uses the same taps shifted by ``s`` input pixels:
    ``(stride, pad_left, pad_right, taps, first)`` so that ``y[i] = Σ_k taps[k] · xpad[first + s·i + k]`` on
    the symmetrically padded input, or None when that does not apply."""
    inv = 1.0 / scale
    stride = int(round(inv))
    if abs(inv - stride) > 1e-12 or stride < 2:
        return None
    out_length = output_length(in_length, scale)
    kernel_width = 4.0 * stride if antialiasing else 4.0
    x1 = 1.0 / scale + 0.5 * (1.0 - 1.0 / scale)
    left = int(math.floor(x1 - kernel_width / 2.0))  # 1-based index of the first tap of output 1
    n_taps = int(math.ceil(kernel_width)) + 2
    if antialiasing:
        weights = scale * cubic(scale * (x1 - (left + np.arange(n_taps))))
    else:
        weights = cubic(x1 - (left + np.arange(n_taps)))
    weights = weights / weights.sum()
    first0 = left - 1  # 0-based
    last0 = first0 + stride * (out_length - 1) + n_taps - 1
    pad_left, pad_right = max(0, -first0), max(0, last0 - (in_length - 1))
    if pad_left > in_length or pad_right > in_length:
        return None
    return stride, pad_left, pad_right, tuple(float(w) for w in weights), first0 + pad_left


def _symmetric_pad(x: torch.Tensor, dim: int, left: int, right: int) -> torch.Tensor:
    parts = []
    if left:
        parts.append(x.narrow(dim, 0, left).flip(dim))
    parts.append(x)
    if right:
        parts.append(x.narrow(dim, x.shape[dim] - right, right).flip(dim))
    return torch.cat(parts, dim=dim) if len(parts) > 1 else x


def _resize_axis_strided(x: torch.Tensor, dim: int, plan, out_length: int) -> torch.Tensor:
    stride, pad_left, pad_right, taps, first = plan
    padded = _symmetric_pad(x, dim, pad_left, pad_right)
    out = None
    for k, weight in enumerate(taps):
        if weight == 0.0:
            continue
        view = padded.narrow(dim, first + k, stride * (out_length - 1) + 1)
        index = [slice(None)] * padded.ndim
        index[dim] = slice(None, None, stride)
        term = view[tuple(index)]
        out = term * weight if out is None else out.add_(term, alpha=weight)
    return out


def imresize(x: torch.Tensor, scale: float = 0.5, antialiasing: bool = True) -> torch.Tensor:
    """MATLAB ``imresize(x, scale)`` (bicubic) of the last two axes of a float64 tensor ``[..., H, W]``.

    Returns ``[..., ceil(H·scale), ceil(W·scale)]`` in the input's dtype (float64 expected), rows
    resized first as MATLAB does.  No rounding or clamping (MATLAB ``double`` input).
    """
    if x.ndim < 2:
        raise ValueError(f"imresize needs at least 2 dimensions, got {x.ndim}")
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    height, width = x.shape[-2:]
    plans = (_strided_plan(height, float(scale), bool(antialiasing)),
             _strided_plan(width, float(scale), bool(antialiasing)))
    if plans[0] is not None and plans[1] is not None:
        out = _resize_axis_strided(x, x.ndim - 2, plans[0], output_length(height, scale))
        return _resize_axis_strided(out, x.ndim - 1, plans[1], output_length(width, scale))
    return imresize_dense(x, scale, antialiasing)


def imresize_dense(x: torch.Tensor, scale: float = 0.5, antialiasing: bool = True) -> torch.Tensor:
    """:func:`imresize` as two products with the dense ``[out, in]`` weight matrices (any scale)."""
    height, width = x.shape[-2:]
    device = str(x.device)
    rows = _resize_matrix(height, float(scale), bool(antialiasing), device).to(x.dtype)
    cols = _resize_matrix(width, float(scale), bool(antialiasing), device).to(x.dtype)
    return torch.matmul(torch.matmul(rows, x), cols.transpose(0, 1))


__all__ = ["cubic", "output_length", "resize_matrix_np", "imresize", "imresize_dense"]
