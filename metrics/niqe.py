"""NIQE (Natural Image Quality Evaluator), LIVE ``niqe_release`` conventions, batched in torch, float64.

Definition (Mittal, Soundararajan and Bovik, "Making a 'completely blind' image quality analyzer",
IEEE Signal Processing Letters 20(3), 2013; MATLAB ``niqe_release``: ``computequality.m``,
``computefeature.m``, ``estimateaggdparam.m``)
--------------------------------------------------------------------------------------------------
1. Grey image: MATLAB ``rgb2gray`` of the ``uint8`` image, rounded half away from zero to integers
   (:func:`metrics.color.rgb_to_gray_matlab`), as ``double`` on the 0..255 scale.
2. Crop to whole 96x96 blocks from the top-left corner (``blocksizerow = blocksizecol = 96``, no overlap).
3. Two scales.  At each scale: MSCN coefficients with the 7x7 Gaussian window σ = 7/6 and
   ``imfilter(..., 'replicate')`` (:func:`metrics.nss.mscn`, exact zeros in flat windows); the image is
   cut into blocks (96x96, then 48x48) and each block gives 18 features::

       AGGD fit of the coefficients           -> α, (βl + βr)/2
       for each shift s in [0 1; 1 0; 1 1; -1 1] (circshift inside the block):
           AGGD fit of x · circshift(x, s)    -> α, (βr − βl)·Γ(2/α)/Γ(1/α), βl, βr

   with ``βl,r = σl,r · sqrt(Γ(1/α)/Γ(3/α))``.  Then ``imresize(im, 0.5)`` (MATLAB bicubic with
   antialiasing, :func:`metrics.matlab_resize.imresize`) gives the next scale.
4. The 36 features of all blocks are summarised by their mean ``μd`` (``nanmean``: NaN entries skipped
   per feature) and covariance ``Σd`` (``nancov``: blocks with a NaN feature dropped; normalised by
   N − 1, by N for a single block as MATLAB ``cov`` does), and

       NIQE = sqrt( (μp − μd) · pinv((Σp + Σd)/2) · (μp − μd)ᵀ )

   with the pristine model ``μp``, ``Σp`` of LIVE (:func:`metrics.nr_params.niqe_parameters`).

Units and range: dimensionless distance, ≥ 0, **lower is better**; pristine photographs score about
2–5, strongly distorted ones 10–20.

Parameters (provenance): the LIVE pristine model ``modelparameters.mat`` of ``niqe_release``, through
BasicSR's ``niqe_pris_params.npz`` (sdist ``basicsr==1.4.2``, member
``basicsr/metrics/niqe_pris_params.npz``, sha256 ``2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296``),
provisioned by the asset manager (asset ``niqe_pris_params``) and converted to safetensors
(:mod:`metrics.nr_params`).

Calibration: within 0.6% of the official MATLAB values on the five TID2013 images of
the TID2013 calibration pairs of IQA-PyTorch (``chaofengc/IQA-PyTorch`` ``ResultsCalibra``) (``docs/calibration-niqe-brisque.md``).

Flat regions: the per-image share of finest-scale MSCN coefficients that are exact zeros (pixels of
constant 7x7 windows, after the crop, plus the rare pixels equal to their local mean; see
:mod:`metrics.nss`) is reported as ``flat_share``; images with ``flat_share > FLAT_SHARE_WARNING`` are
flagged ``unstable`` (the value depends on arithmetic detail there).

Bad input: images smaller than 96x96 (no whole block) raise ``ValueError``; an image with no usable
block (every block has a NaN feature, e.g. a constant image) raises ``ValueError`` naming the image —
the runner turns both into per-image errors.  NaN or infinite input values raise ``ValueError``.
"""
from __future__ import annotations

from typing import Any, ClassVar

import torch

from metrics.live_metric import LiveMetric

from metrics.matlab_resize import imresize
from metrics.nss import (
    PAIR_SHIFTS,
    CoefficientHook,
    aggd_from_stats,
    gamma_at,
    mscn_and_tiny,
    nonfinite_message,
    shifted_products,
    sign_stats,
    stack_stats,
    to_gray_255,
    image_chunks,
    map_chunks,
)

BLOCK_SIZE: int = 96
N_SCALES: int = 2
N_FEATURES: int = 36
PADDING: str = "replicate"
#: An image is flagged unstable when more than this share of its pixels lie in flat 7x7 windows.
#: NIQE is far less sensitive than BRISQUE: moving only the flat-window coefficients by ±1e-15 changes
#: TID2013 I03 (flat share 1.8%), I06 (0.7%) and I08 (2.2%) by less than 0.5%, but I19 (30%) by +4.6..+4.8%;
#: 10% flags images of the latter kind.
FLAT_SHARE_WARNING: float = 0.10


def crop_to_blocks(gray: torch.Tensor, block: int = BLOCK_SIZE) -> torch.Tensor:
    """Crop ``[B, 1, H, W]`` to whole ``block``-sized blocks from the top-left corner; raises when none."""
    height, width = gray.shape[-2:]
    rows, cols = (height // block) * block, (width // block) * block
    if rows == 0 or cols == 0:
        raise ValueError(f"NIQE needs images of at least {block}x{block} pixels (one {block}x{block} block); "
                         f"got {height}x{width} (HxW)")
    return gray[..., :rows, :cols]


def _scale_block_features(x: torch.Tensor, size: int, snap_zeros: bool, hook: CoefficientHook | None,
                          scale: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``[N, n_blocks, 18]`` features of one scale for ``[N, H, W]`` images (H, W multiples of ``size``),
    and the share of exact-zero coefficients ``[N]``."""
    coeffs, tiny = mscn_and_tiny(x, PADDING)
    if snap_zeros:
        coeffs.masked_fill_(tiny, 0.0)
    if hook is not None:
        coeffs = hook(coeffs, tiny, scale)
    batch, height, width = coeffs.shape
    n_blocks = (height // size) * (width // size)
    blocks = (coeffs.reshape(batch, height // size, size, width // size, size).permute(0, 1, 3, 2, 4)
              .reshape(batch * n_blocks, size, size))  # block-contiguous copy
    n_tiny = torch.count_nonzero(tiny.reshape(tiny.shape[0], -1), dim=-1)
    zeros = bool(n_tiny.any()) or hook is not None or not snap_zeros
    first = aggd_from_stats(sign_stats(blocks.reshape(batch * n_blocks, -1), zeros))
    idx = first["index"]
    spread = torch.sqrt(gamma_at(idx, 1) / gamma_at(idx, 3))
    feats = [first["alpha"], (first["left_std"] * spread + first["right_std"] * spread) / 2.0]
    fit = aggd_from_stats(stack_stats([sign_stats(p.reshape(batch * n_blocks, -1), zeros)
                                       for p in shifted_products(blocks)]))
    idx = fit["index"]
    spread = torch.sqrt(gamma_at(idx, 1) / gamma_at(idx, 3))
    beta_l, beta_r = fit["left_std"] * spread, fit["right_std"] * spread
    mean = (beta_r - beta_l) * (gamma_at(idx, 2) / gamma_at(idx, 1))
    for k in range(len(PAIR_SHIFTS)):
        feats += [fit["alpha"][..., k], mean[..., k], beta_l[..., k], beta_r[..., k]]
    out = torch.stack(feats, dim=-1).reshape(batch, -1, len(feats))
    return out, n_tiny.to(torch.float64) / float(tiny[0].numel())


def niqe_block_features(gray: torch.Tensor, snap_zeros: bool = True, hook: CoefficientHook | None = None,
                        chunk_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The 36 features of every 96x96 block: ``[B, 1, H, W]`` grey (0..255, float64) ->
    ``([B, n_blocks, 36], flat_share [B])``.

    ``flat_share`` is the share of finest-scale MSCN coefficients (after the crop) that are exact zeros
    (|MSCN| < 1e-8: pixels of constant 7x7 windows, plus the rare pixels exactly equal to their local
    mean).  ``snap_zeros=False`` keeps floating-point residue in flat windows; ``hook(coeffs, tiny_mask,
    scale)`` may replace the MSCN coefficients ``[N, H, W]`` (perturbation studies).  ``chunk_size``:
    images per step (default: 1 on CPU, the whole batch on GPU).
    """
    gray = crop_to_blocks(gray.to(torch.float64))
    features, shares = [], []
    for part in image_chunks(gray.shape[0], gray.device, chunk_size):
        x = gray[part, 0]
        per_scale = []
        for scale in range(1, N_SCALES + 1):
            feats, share = _scale_block_features(x, BLOCK_SIZE // scale, snap_zeros, hook, scale)
            per_scale.append(feats)
            if scale == 1:
                shares.append(share)
            if scale < N_SCALES:
                x = imresize(x, 0.5)
        features.append(torch.cat(per_scale, dim=-1))
    return torch.cat(features), torch.cat(shares)


def niqe_from_features(features: torch.Tensor, mu_pris: torch.Tensor, cov_pris: torch.Tensor) -> torch.Tensor:
    """NIQE of each image from its block features ``[B, n, 36]`` and the pristine model; ``[B]`` float64,
    NaN where the image has no block without NaN features."""
    valid = ~torch.isnan(features)
    zero = torch.zeros((), dtype=features.dtype, device=features.device)
    mu = torch.where(valid, features, zero).sum(1) / valid.sum(1).to(features.dtype)  # nanmean
    complete = valid.all(dim=-1)  # nancov: rows with any NaN dropped
    n = complete.sum(1).to(features.dtype)
    feats_c = torch.where(complete[..., None], features, zero)
    mean_c = feats_c.sum(1) / n.clamp(min=1)[:, None]
    centred = torch.where(complete[..., None], features - mean_c[:, None, :], zero)
    denom = torch.where(n > 1, n - 1, torch.ones_like(n))
    cov = centred.transpose(1, 2) @ centred / denom[:, None, None]
    ok = (n > 0) & torch.isfinite(mu).all(dim=1)
    diff = torch.where(ok[:, None], mu_pris[None, :] - mu, zero)
    cov = torch.where(ok[:, None, None], cov, zero)
    invcov = torch.linalg.pinv((cov_pris[None] + cov) / 2.0)
    quality = torch.sqrt((diff[:, None, :] @ invcov @ diff[:, :, None])[:, 0, 0])
    return torch.where(ok, quality, torch.full_like(quality, float("nan")))


def niqe_details(images: torch.Tensor, *, snap_zeros: bool = True, hook: CoefficientHook | None = None,
                 params=None, quantize: bool = True, chunk_size: int | None = None,
                 gray: str = "matlab") -> dict[str, torch.Tensor]:
    """NIQE and its flat-window share per image: ``{"value": [B], "flat_share": [B]}`` (float64).

    ``images``: ``[B, 3, H, W]`` RGB ``uint8`` or float in [0, 1] (or ``[B, 1, H, W]`` grey), at least
    96x96.  Raises ``ValueError`` (naming the images) when NIQE is undefined for an image of the batch.
    """
    if images.is_floating_point() and not torch.isfinite(images).all():
        bad = [i for i in range(images.shape[0]) if not torch.isfinite(images[i]).all()]
        raise ValueError(nonfinite_message("NIQE", bad, "the input holds NaN or infinite values"))
    if params is None:
        from metrics.nr_params import niqe_parameters

        params = niqe_parameters()
    device = images.device
    mu_pris = torch.as_tensor(params.mu, dtype=torch.float64, device=device)
    cov_pris = torch.as_tensor(params.cov, dtype=torch.float64, device=device)
    grey = to_gray_255(images, quantize, gray)  # once per batch (shared with other metrics, metrics.color)

    def one(part: slice):
        return niqe_block_features(grey[part], snap_zeros=snap_zeros, hook=hook, chunk_size=chunk_size)

    parts = map_chunks(one, image_chunks(images.shape[0], images.device, chunk_size), images.device)
    features, share = torch.cat([f for f, _ in parts]), torch.cat([s for _, s in parts])
    values = niqe_from_features(features, mu_pris, cov_pris)
    bad = [i for i in range(values.shape[0]) if not torch.isfinite(values[i])]
    if bad:
        raise ValueError(nonfinite_message(
            "NIQE", bad, "no 96x96 block has finite features (a constant or nearly constant image: every block "
                         "lacks negative or positive MSCN coefficients)"))
    return {"value": values, "flat_share": share}


def niqe(images: torch.Tensor, **options: Any) -> torch.Tensor:
    """NIQE of each image (LIVE ``niqe_release``), ``[B]`` float64, lower is better; see :mod:`metrics.niqe`."""
    return niqe_details(images, **options)["value"]


class NIQE(LiveMetric):
    """NIQE (Mittal et al. 2013), LIVE ``niqe_release`` with the real pristine model; no reference.

    ``NIQE()(restored) -> [B]`` float64 (lower is better).  :meth:`details` adds the per-image
    ``flat_share`` and ``unstable`` flag (``flat_share > FLAT_SHARE_WARNING``), which the runner stores
    as ``niqe.flat_share`` and ``niqe.unstable``.
    """
    description = (
        "NIQE (LIVE niqe_release, real pristine model; no reference). Lower is better. Adds "
        "niqe.flat_share/unstable."
    )
    citation = (
        "Mittal, Soundararajan, Bovik, Making a 'Completely Blind' Image Quality Analyzer, IEEE SPL 2013;"
        " LIVE niqe_release (MATLAB)"
    )
    licence = (
        "MIT (frbench code); LIVE pristine parameters: academic use, LIVE copyright notice (via basicsr "
        "1.4.2, Apache-2.0)"
    )
    value_range = (0.0, float("inf"))
    #: one whole 96x96 block (niqe_release's blocksizerow/blocksizecol; no block below it)
    min_size: ClassVar[int] = BLOCK_SIZE

    name: ClassVar[str] = "niqe"

    def __init__(self, snap_zeros: bool = True, flat_share_warning: float = FLAT_SHARE_WARNING) -> None:
        self.snap_zeros = bool(snap_zeros)
        self.flat_share_warning = float(flat_share_warning)
        self._params = None  # loaded (fetched, verified, converted) at the first use

    def _load_parameters(self):
        from metrics.nr_params import niqe_parameters

        return niqe_parameters()

    def _details(self, restored: torch.Tensor, params) -> dict[str, torch.Tensor]:
        return niqe_details(restored, snap_zeros=self.snap_zeros, params=params)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out["definition"] = ("Mittal et al. 2013, LIVE niqe_release: rgb2gray, 96x96 blocks, 2 scales, MSCN 7x7 "
                             "sigma 7/6 replicate, AGGD grid 0.2:0.001:10, MATLAB imresize, exact zeros in flat "
                             "windows; LIVE pristine model (basicsr 1.4.2 npz)")
        return out

    def __repr__(self) -> str:
        return f"NIQE(snap_zeros={self.snap_zeros}, flat_share_warning={self.flat_share_warning})"


__all__ = ["BLOCK_SIZE", "FLAT_SHARE_WARNING", "crop_to_blocks", "niqe_block_features", "niqe_from_features",
           "niqe_details", "niqe", "NIQE"]
