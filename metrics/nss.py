"""Natural-scene-statistics (NSS) building blocks shared by NIQE and BRISQUE, batched in torch, float64.

Everything follows the LIVE MATLAB releases (``niqe_release``: ``computequality.m``,
``computefeature.m``, ``estimateaggdparam.m``; ``BRISQUE_release``: ``brisque_feature.m``,
``estimateggdparam.m``, ``estimateaggdparam.m``), re-implemented from their published description;
``docs/protocols/nr-iqa-calibration.md`` lists which details decide the last percent.

MSCN coefficients (mean-subtracted, contrast-normalised)
--------------------------------------------------------
With ``w`` the 7x7 Gaussian window of σ = 7/6 normalised to sum 1 (``fspecial('gaussian', 7, 7/6)``)::

    μ = w ⋆ I,   σ = sqrt(|w ⋆ I² − μ²|),   MSCN = (I − μ) / (σ + 1)

on the 0..255 grey image ``I`` (float64).  NIQE filters with ``imfilter(..., 'replicate')`` (edge pixels
repeated), BRISQUE with ``filter2(..., 'same')`` (zero padding): :func:`mscn` takes the ``padding``.

**Flat windows and exact zeros.**  Where the 7x7 window is constant, exact arithmetic gives MSCN = 0,
but floating point leaves 0 or ±1e-15 depending on the order of the additions.  The fits below split
coefficients into negative and positive sets, so these last bits move the results (NIQE +5.7% on the
TID2013 image I19 without care).  The defined behaviour here is exact arithmetic: coefficients with
``|MSCN| < SNAP_THRESHOLD`` (1e-8; rounding residue is ≲1e-12 on the 0..255 scale, genuine coefficients
of 8-bit images are far larger) are set to exactly 0 (``snap_zeros=True``, the default).
Both metrics report the share of coefficients snapped to 0 as ``flat_share``, their warning signal:
these are the pixels of constant windows (:func:`flat_window_mask`) plus the rare pixels exactly equal to
their local weighted mean (a linear ramp, say), both zero in exact arithmetic and both at the mercy of
rounding otherwise.  With NIQE's padding, TID2013 I03 has 4,265 exact zeros and 3,416 flat-window pixels;
on I04, I06, I08 and I19 the two counts differ by at most 14 pixels.

Speed: the filters are shifted multiply-adds, the pairwise products are written without rolled copies
(:func:`shifted_products`) and each fit needs only five sums (:func:`sign_stats`); the metrics work image
by image on CPU (cache-resident tensors, parallel across images: :func:`map_chunks`) and on whole
batches on GPU.

Parameter fits
--------------
* Generalised Gaussian (GGD, BRISQUE ``estimateggdparam``): ``ρ = mean(x²)/mean(|x|)²`` and
  ``α = argmin over γ ∈ 0.2:0.001:10 of |ρ − Γ(1/γ)Γ(3/γ)/Γ(2/γ)²|``; returns ``α`` and ``mean(x²)``.
* Asymmetric GGD (AGGD, ``estimateaggdparam``): ``σl = sqrt(mean(x[x<0]²))``, ``σr = sqrt(mean(x[x>0]²))``,
  ``γ̂ = σl/σr``, ``r̂ = mean(|x|)²/mean(x²)``, ``R̂ = r̂(γ̂³+1)(γ̂+1)/(γ̂²+1)²`` and
  ``α = argmin over the grid of (Γ(2/γ)²/(Γ(1/γ)Γ(3/γ)) − R̂)²``.  Exact zeros are in neither set.

The grid is exactly MATLAB's ``0.2:0.001:10`` (9,801 values; a 0.01 step costs up to 2%).  Both ratio
curves are strictly monotonic on the grid, so the arg-min is found with a binary search and a comparison
of the two neighbours (ties to the lower index, as MATLAB ``min``); a NaN target returns the first grid
value (MATLAB ``min`` of an all-NaN vector returns index 1), which keeps MATLAB's NaN behaviour for
empty sets (a set with no negative or no positive coefficient).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from metrics.color import check_rgb_batch, rgb_to_gray_matlab

#: Side of the Gaussian window of the MSCN normalisation.
WINDOW_SIZE: int = 7
#: σ of the window (``7/6``, LIVE releases).
WINDOW_SIGMA: float = 7.0 / 6.0
#: |MSCN| below this is rounding residue of an exact 0 and is snapped to 0 (0..255 scale).
SNAP_THRESHOLD: float = 1e-8
#: ``gam = 0.2:0.001:10`` as in the MATLAB releases.
GRID_START, GRID_STEP, GRID_COUNT = 0.2, 0.001, 9801
#: Shifts of the pairwise products, MATLAB ``circshift`` offsets (rows, columns):
#: horizontal, vertical, main diagonal, secondary diagonal.
PAIR_SHIFTS: tuple[tuple[int, int], ...] = ((0, 1), (1, 0), (1, 1), (-1, 1))

PADDINGS = ("replicate", "zeros")

#: Hook of the perturbation studies: ``hook(coefficients [N, H, W], exact_zero_mask, scale) -> coefficients``.
CoefficientHook = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]


def gaussian_window_1d(size: int = WINDOW_SIZE, sigma: float = WINDOW_SIGMA) -> torch.Tensor:
    """Normalised 1-D Gaussian ``g``; ``outer(g, g)`` is ``fspecial('gaussian', size, sigma)`` (float64)."""
    centre = (size - 1) / 2.0
    taps = np.exp(-((np.arange(size) - centre) ** 2) / (2.0 * sigma * sigma))
    return torch.from_numpy(taps / taps.sum())


def _pad(x: torch.Tensor, padding: str, half: int) -> torch.Tensor:
    """``[N, C, H, W]`` padded by ``half`` on every side: zeros, or the edge pixels repeated."""
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    height, width = x.shape[-2:]
    if padding == "zeros":
        out = x.new_zeros(x.shape[:-2] + (height + 2 * half, width + 2 * half))
        out[..., half:half + height, half:half + width] = x
        return out
    out = x.new_empty(x.shape[:-2] + (height + 2 * half, width + 2 * half))
    out[..., half:half + height, half:half + width] = x
    out[..., half:half + height, :half] = x[..., :, :1]
    out[..., half:half + height, half + width:] = x[..., :, width - 1:]
    out[..., :half, :] = out[..., half:half + 1, :]
    out[..., half + height:, :] = out[..., half + height - 1:half + height, :]
    return out


#: Rows per strip of :func:`filter_same` (strips of both images stay in the CPU cache between taps).
FILTER_STRIP_ROWS = 64


def filter_same(x: torch.Tensor, padding: str) -> torch.Tensor:
    """7x7 Gaussian filtering of ``[..., H, W]`` with a 'same' output: ``imfilter(x, w, 'replicate')``
    (``padding="replicate"``) or ``filter2(w, x, 'same')`` (``padding="zeros"``).

    Separable (``w = g gᵀ``), float64, as 7 shifted multiply-adds along each axis, in strips of
    :data:`FILTER_STRIP_ROWS` rows (memory-bound and cache-friendly; agrees with a direct 2-D correlation
    to ~1e-13 on the 0..255 scale).
    """
    half = WINDOW_SIZE // 2
    height, width = x.shape[-2:]
    lead = x.shape[:-2]
    flat = x.reshape((-1, 1, height, width))
    padded = _pad(flat, padding, half)[:, 0]
    taps = gaussian_window_1d().tolist()
    out = torch.empty((flat.shape[0], height, width), dtype=x.dtype, device=x.device)
    for top in range(0, height, FILTER_STRIP_ROWS):
        rows_out = min(height, top + FILTER_STRIP_ROWS) - top
        source = padded[:, top:top + rows_out + 2 * half, :]
        rows = source[..., 0:width] * taps[0]
        for k in range(1, WINDOW_SIZE):
            rows.add_(source[..., k:k + width], alpha=taps[k])
        target = out[:, top:top + rows_out]
        torch.mul(rows[:, 0:rows_out], taps[0], out=target)
        for k in range(1, WINDOW_SIZE):
            target.add_(rows[:, k:k + rows_out], alpha=taps[k])
    return out.reshape(lead + (height, width))


def mscn(x: torch.Tensor, padding: str, snap_zeros: bool = True) -> torch.Tensor:
    """MSCN coefficients ``(x − μ)/(σ + 1)`` of grey images ``[..., H, W]`` (0..255 scale, float64).

    ``snap_zeros`` sets ``|MSCN| < SNAP_THRESHOLD`` to exactly 0 (exact-arithmetic behaviour in flat
    windows, see the module docstring); ``False`` keeps the floating-point residue.
    """
    coeffs, tiny = mscn_and_tiny(x, padding)
    if snap_zeros:
        coeffs.masked_fill_(tiny, 0.0)
    return coeffs


def mscn_and_tiny(x: torch.Tensor, padding: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Unsnapped MSCN coefficients and the mask of the ones below :data:`SNAP_THRESHOLD` (exact zeros in
    exact arithmetic)."""
    both = filter_same(torch.stack([x, x * x]), padding)
    mu, second = both[0], both[1]
    sigma = second.addcmul_(mu, mu, value=-1.0).abs_().sqrt_().add_(1.0)  # sqrt(|w⋆x² − μ²|) + 1
    coeffs = mu.neg_().add_(x).div_(sigma)  # (x − μ) / (σ + 1), in place
    tiny = torch.abs(coeffs, out=sigma) < SNAP_THRESHOLD
    return coeffs, tiny


def flat_window_mask(x: torch.Tensor, padding: str) -> torch.Tensor:
    """``[N, 1, H, W]`` bool: pixels whose 7x7 window (with the metric's padding) is constant."""
    half = WINDOW_SIZE // 2
    padded = _pad(x, padding, half)
    hi = F.max_pool2d(padded, WINDOW_SIZE, stride=1)
    lo = -F.max_pool2d(-padded, WINDOW_SIZE, stride=1)
    return hi == lo


def flat_window_share(x: torch.Tensor, padding: str) -> torch.Tensor:
    """Share (0..1) of the pixels of each grey image ``[N, 1, H, W]`` whose 7x7 window is constant, ``[N]``."""
    return flat_window_mask(x, padding).flatten(1).double().mean(dim=1)


# ---------------------------------------------------------------------------------------- grids


@lru_cache(maxsize=1)
def _grid_np() -> dict[str, np.ndarray]:
    from scipy.special import gamma

    gam = (200 + np.arange(GRID_COUNT, dtype=np.float64)) / 1000.0  # 0.2, 0.201, ..., 10.0
    g1, g2, g3 = gamma(1.0 / gam), gamma(2.0 / gam), gamma(3.0 / gam)
    return {"gam": gam, "g1": g1, "g2": g2, "g3": g3,
            "r_ggd": (g1 * g3) / (g2 * g2),       # decreasing in gam
            "r_aggd": (g2 * g2) / (g1 * g3)}      # increasing in gam


def grid_values() -> np.ndarray:
    """MATLAB ``0.2:0.001:10`` (float64, 9,801 values)."""
    return _grid_np()["gam"].copy()


@lru_cache(maxsize=16)
def _grid_tensors(device: str) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(v).to(device) for k, v in _grid_np().items()}


def grid_argmin(curve: torch.Tensor, target: torch.Tensor, increasing: bool, squared: bool) -> torch.Tensor:
    """Index of ``min(|curve − target|)`` (``squared``: ``min((curve − target)²)``), MATLAB ``min``
    semantics: first index on ties, index 0 for a NaN target.  ``curve`` is strictly monotonic."""
    flat = target.reshape(-1)
    sorted_curve = curve if increasing else -curve
    key = flat if increasing else -flat
    safe_key = torch.nan_to_num(key, nan=0.0)
    pos = torch.searchsorted(sorted_curve, safe_key.contiguous())
    last = curve.numel() - 1
    lo = (pos - 1).clamp(0, last)
    hi = pos.clamp(0, last)
    d_lo = curve[lo] - flat
    d_hi = curve[hi] - flat
    if squared:
        d_lo, d_hi = d_lo * d_lo, d_hi * d_hi
    else:
        d_lo, d_hi = d_lo.abs(), d_hi.abs()
    # MATLAB: first minimum wins; lo < hi so ties go to lo
    idx = torch.where(d_hi < d_lo, hi, lo)
    idx = torch.where(torch.isnan(flat), torch.zeros_like(idx), idx)
    return idx.reshape(target.shape)


def _masked_mean(values: torch.Tensor, mask: torch.Tensor, dim: int) -> torch.Tensor:
    """Mean of ``values`` where ``mask`` along ``dim``; NaN for an empty set (MATLAB ``mean([])``)."""
    zero = torch.zeros((), dtype=values.dtype, device=values.device)
    total = torch.where(mask, values, zero).sum(dim=dim)
    count = mask.sum(dim=dim).to(values.dtype)
    return total / count  # 0/0 -> NaN


def ggd_fit(vec: torch.Tensor, dim: int = -1) -> tuple[torch.Tensor, torch.Tensor]:
    """GGD fit (BRISQUE ``estimateggdparam``) along ``dim``: ``(α, σ²)`` with ``σ² = mean(x²)``."""
    grid = _grid_tensors(str(vec.device))
    sigma_sq = (vec * vec).mean(dim=dim)
    e_abs = vec.abs().mean(dim=dim)
    rho = sigma_sq / (e_abs * e_abs)
    idx = grid_argmin(grid["r_ggd"], rho, increasing=False, squared=False)
    alpha = grid["gam"][idx]
    sigma = torch.sqrt(sigma_sq)
    return alpha, sigma * sigma


def aggd_fit(vec: torch.Tensor, dim: int = -1) -> dict[str, torch.Tensor]:
    """AGGD fit (``estimateaggdparam``) along ``dim``.

    Returns ``alpha``, ``left_std`` σl, ``right_std`` σr and the grid index ``index`` (for Γ look-ups:
    :func:`gamma_at`).  Exact zeros belong to neither side; an empty side gives NaN for its σ.
    """
    grid = _grid_tensors(str(vec.device))
    sq = vec * vec
    left_std = torch.sqrt(_masked_mean(sq, vec < 0, dim))
    right_std = torch.sqrt(_masked_mean(sq, vec > 0, dim))
    gammahat = left_std / right_std
    mean_abs = vec.abs().mean(dim=dim)
    rhat = (mean_abs * mean_abs) / sq.mean(dim=dim)
    rhatnorm = (rhat * (gammahat ** 3 + 1.0) * (gammahat + 1.0)) / ((gammahat ** 2 + 1.0) ** 2)
    idx = grid_argmin(grid["r_aggd"], rhatnorm, increasing=True, squared=True)
    return {"alpha": grid["gam"][idx], "left_std": left_std, "right_std": right_std, "index": idx}


def sign_stats(p: torch.Tensor, may_have_zeros: bool = True) -> dict[str, torch.Tensor]:
    """The sums an (A)GGD fit needs, over the last axis of ``p`` ``[M, n]``, in few passes.

    ``n`` count, ``abs`` Σ|p|, ``sq`` Σp², ``signed_sq`` Σ p·|p| = Σp²[p>0] − Σp²[p<0], ``nonzero`` the
    number of non-zero entries and ``signed`` #(p>0) − #(p<0).  ``may_have_zeros=False`` (the caller
    knows no entry is 0) skips one counting pass.
    """
    length = p.shape[-1]
    a = p.abs()
    sgn = torch.sign(p)
    if p.ndim == 1 or p.shape[0] == 1:
        flat_p, flat_a, flat_s = p.reshape(-1), a.reshape(-1), sgn.reshape(-1)
        sq = torch.dot(flat_a, flat_a).reshape(p.shape[:-1])
        signed_sq = torch.dot(flat_p, flat_a).reshape(p.shape[:-1])
        nonzero = torch.dot(flat_s, flat_s).reshape(p.shape[:-1]) if may_have_zeros else None
    else:
        sq = torch.linalg.vecdot(a, a)
        signed_sq = torch.linalg.vecdot(p, a)
        nonzero = torch.linalg.vecdot(sgn, sgn) if may_have_zeros else None
    signed = sgn.sum(-1)
    if nonzero is None:
        nonzero = torch.full_like(signed, float(length))
    return {"n": torch.full_like(signed, float(length)), "abs": a.sum(-1), "sq": sq, "signed_sq": signed_sq,
            "nonzero": nonzero, "signed": signed}


def shifted_products(x: torch.Tensor, out: torch.Tensor | None = None) -> list[torch.Tensor]:
    """The four products ``x · circshift(x, s)`` (:data:`PAIR_SHIFTS`) of ``[M, H, W]`` over its last two
    axes, each written without a rolled copy (one pass); returns four ``[M, H, W]`` tensors."""
    height, width = x.shape[-2:]
    products = []
    for dr, dc in PAIR_SHIFTS:
        p = torch.empty_like(x)
        # p[i, j] = x[i, j] · x[(i − dr) mod H, (j − dc) mod W]: at most four rectangles
        for rows_out, rows_in in _wrap_ranges(height, dr):
            for cols_out, cols_in in _wrap_ranges(width, dc):
                torch.mul(x[..., rows_out, cols_out], x[..., rows_in, cols_in], out=p[..., rows_out, cols_out])
        products.append(p)
    return products


def _wrap_ranges(length: int, shift: int) -> list[tuple[slice, slice]]:
    """(output slice, source slice) pairs covering ``out[i] = src[(i − shift) mod length]``."""
    shift %= length
    if shift == 0:
        return [(slice(0, length), slice(0, length))]
    return [(slice(shift, length), slice(0, length - shift)), (slice(0, shift), slice(length - shift, length))]


def stack_stats(stats: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack a list of :func:`sign_stats` results along a new last axis."""
    return {k: torch.stack([torch.broadcast_to(st[k], stats[0]["abs"].shape) for st in stats], dim=-1)
            for k in stats[0]}


def ggd_stats(x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The two sums a GGD fit needs over the last axis of ``x`` ``[M, n]``: ``n``, ``abs`` Σ|x|, ``sq`` Σx²."""
    if x.ndim == 1 or x.shape[0] == 1:
        flat = x.reshape(-1)
        sq = torch.dot(flat, flat).reshape(x.shape[:-1])
    else:
        sq = torch.linalg.vecdot(x, x)
    return {"n": torch.full_like(sq, float(x.shape[-1])), "abs": x.abs().sum(-1), "sq": sq}


def ggd_from_stats(st: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """GGD fit (``estimateggdparam``) from :func:`sign_stats` sums: ``(α, σ²)``."""
    grid = _grid_tensors(str(st["sq"].device))
    sigma_sq = st["sq"] / st["n"]
    e_abs = st["abs"] / st["n"]
    rho = sigma_sq / (e_abs * e_abs)
    idx = grid_argmin(grid["r_ggd"], rho, increasing=False, squared=False)
    sigma = torch.sqrt(sigma_sq)
    return grid["gam"][idx], sigma * sigma


def aggd_from_stats(st: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """AGGD fit (``estimateaggdparam``) from :func:`sign_stats` sums; same outputs as :func:`aggd_fit`.

    ``Σx²[x<0] = (Σx² − Σx|x|)/2`` and ``#(x<0) = (#nonzero − Σsign)/2`` (and the same with + for the
    right side): exact zeros are in neither set.  Agrees with :func:`aggd_fit` to float64 rounding.
    """
    grid = _grid_tensors(str(st["sq"].device))
    nan = torch.full((), float("nan"), dtype=st["sq"].dtype, device=st["sq"].device)
    n_neg = torch.round((st["nonzero"] - st["signed"]) / 2.0)
    n_pos = torch.round((st["nonzero"] + st["signed"]) / 2.0)
    s_neg = ((st["sq"] - st["signed_sq"]) / 2.0).clamp(min=0.0)
    s_pos = ((st["sq"] + st["signed_sq"]) / 2.0).clamp(min=0.0)
    left_std = torch.where(n_neg > 0, torch.sqrt(s_neg / n_neg.clamp(min=1.0)), nan)
    right_std = torch.where(n_pos > 0, torch.sqrt(s_pos / n_pos.clamp(min=1.0)), nan)
    gammahat = left_std / right_std
    mean_abs = st["abs"] / st["n"]
    rhat = (mean_abs * mean_abs) / (st["sq"] / st["n"])
    rhatnorm = (rhat * (gammahat ** 3 + 1.0) * (gammahat + 1.0)) / ((gammahat ** 2 + 1.0) ** 2)
    idx = grid_argmin(grid["r_aggd"], rhatnorm, increasing=True, squared=True)
    return {"alpha": grid["gam"][idx], "left_std": left_std, "right_std": right_std, "index": idx}


def gamma_at(index: torch.Tensor, which: int) -> torch.Tensor:
    """``Γ(which/α)`` for grid indices ``index`` (``which`` in 1, 2, 3), float64 table values."""
    grid = _grid_tensors(str(index.device))
    return grid[f"g{which}"][index]


# ---------------------------------------------------------------------------------------- inputs


#: Grey conversions: ``"matlab"`` (the LIVE releases; default) and ``"pyiqa"`` (pyiqa's convention, only
#: for explaining cross-check differences: YIQ luma 0.299/0.587/0.114 in float32 on [0, 1], times 255,
#: rounded half to even).
GRAY_CONVERSIONS = ("matlab", "pyiqa")


def to_gray_255(images: torch.Tensor, quantize: bool = True, gray: str = "matlab") -> torch.Tensor:
    """``[B, 3, H, W]`` RGB (``uint8`` or float in [0, 1]) or ``[B, 1, H, W]`` grey -> ``[B, 1, H, W]``
    float64 grey on the 0..255 scale: MATLAB ``rgb2gray`` of the ``uint8`` image (rounded half away from
    zero, :func:`metrics.color.rgb_to_gray_matlab`), as both LIVE releases do for colour input.
    ``gray="pyiqa"`` uses pyiqa's convention instead (cross-checks only, see :data:`GRAY_CONVERSIONS`)."""
    if gray not in GRAY_CONVERSIONS:
        raise ValueError(f"gray must be one of {GRAY_CONVERSIONS}, got {gray!r}")
    if gray == "pyiqa" and isinstance(images, torch.Tensor) and images.ndim == 4 and images.shape[1] == 3:
        x = images.to(torch.float32) / 255.0 if images.dtype == torch.uint8 else images.to(torch.float32)
        weights = torch.tensor([0.299, 0.587, 0.114], dtype=torch.float32, device=x.device)
        luma = torch.matmul(x.permute(0, 2, 3, 1), weights)[:, None] * 255.0
        return torch.round(luma).to(torch.float64)
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor [B, 3, H, W], got {type(images).__name__}")
    if images.ndim == 4 and images.shape[1] == 1:
        if images.dtype == torch.uint8:
            return images.to(torch.float64)
        gray = images.to(torch.float64) * 255.0
        return torch.round(gray.clamp(0.0, 255.0)) if quantize else gray
    check_rgb_batch(images, "images")
    return rgb_to_gray_matlab(images, quantize)


def image_chunks(batch: int, device: torch.device, chunk_size: int | None) -> list[slice]:
    """Images per step: one at a time on CPU (cache-resident), the whole batch on GPU, or ``chunk_size``."""
    size = chunk_size or (batch if device.type != "cpu" else 1)
    return [slice(i, min(batch, i + size)) for i in range(0, batch, size)]


def map_chunks(fn: Callable[[slice], object], parts: list[slice], device: torch.device) -> list:
    """``[fn(part) for part in parts]``; on CPU with several parts, the parts run in parallel threads
    (as many as torch's intra-op threads) with torch's intra-op parallelism set to 1 meanwhile and restored
    afterwards.  Per-image tensors are small, so parallelism across images beats splitting every small
    operation (whose fork/join overhead dominates when the cores are busy)."""
    threads = torch.get_num_threads()
    if device.type != "cpu" or len(parts) < 2 or threads < 2:
        return [fn(part) for part in parts]
    from concurrent.futures import ThreadPoolExecutor

    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(max_workers=min(threads, len(parts)), thread_name_prefix="frbench-nss") as pool:
            return list(pool.map(fn, parts))
    finally:
        torch.set_num_threads(threads)


def nonfinite_message(kind: str, bad: list[int], reason: str) -> str:
    """Error text naming the images of a batch for which ``kind`` is undefined."""
    which = ", ".join(str(i) for i in bad[:10]) + (" ..." if len(bad) > 10 else "")
    return f"{kind} is undefined for image(s) {which} of the batch: {reason}"


__all__ = ["WINDOW_SIZE", "WINDOW_SIGMA", "SNAP_THRESHOLD", "PAIR_SHIFTS", "PADDINGS", "gaussian_window_1d",
           "filter_same", "mscn", "mscn_and_tiny", "sign_stats", "ggd_stats", "shifted_products", "stack_stats", "ggd_from_stats", "aggd_from_stats", "flat_window_mask", "flat_window_share", "CoefficientHook", "grid_values",
           "grid_argmin", "ggd_fit", "aggd_fit", "gamma_at", "to_gray_255", "image_chunks", "map_chunks", "nonfinite_message"]
