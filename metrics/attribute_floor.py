"""Measured noise floor of the reference protocol: the classifier on an HQ face vs an imperceptibly changed copy.

Why
---
``gender_err`` / ``age_err`` compare the class predicted on the restored image with the class predicted on
its HQ image.  The classifier already changes its mind under changes nobody can see, so an error at
that level says nothing about the restorer: the reference-protocol errors are read beside the
classifier's own disagreement between each HQ face ``y`` and a copy ``P(y)`` that differs imperceptibly
(a restorer's errors can still be lower, e.g. 0 for one that returns the HQ pixels exactly).  (The classifier's
error on the HQ images against the *labels*, ``hq_*_err_label``, is a different quantity and is **not** a
floor: a restorer can score below it, e.g. a DebiasFR oracle run had 12.0 % gender error vs label where the
HQ faces had 14.8 %.)

The perturbation ``P`` (:data:`PERTURBATION`, fixed; it is part of the stored channel key)
-----------------------------------------------------------------------------------------
1. JPEG re-encode with Pillow at quality 95, chroma subsampling 4:4:4 (``subsampling=0``), default
   quantisation tables, no optimisation, decoded back to ``uint8`` RGB;
2. a 1-pixel horizontal shift to the right with edge replication: ``out[:, 1:] = img[:, :-1]`` and
   ``out[:, 0] = img[:, 0]`` (the left column is repeated, the right column drops out; not a wrap-around
   ``np.roll``).

Statistics (from the count table ``noise``: HQ bin x HQ gender x perturbed bin x perturbed gender,
11 x 3 x 12 x 4; index 10 / 2 = no prediction on the HQ, 11 / 3 = no face found on the perturbed copy)
------------------------------------------------------------------------------------------------------
* ``noise_gender_err`` = ``#{g(P(y)) != g(y)} / #{g(y) known}`` in [0, 1] (share of images), over the
  images whose HQ has a gender prediction; a perturbed copy without a face counts as a disagreement (as a
  restored image without a face counts as an error in ``gender_err``); ``noise_age_err`` the same for the
  10 age bins.
* ``noise_age_mae`` (years, >= 0) = mean ``|age(P(y)) - age(y)|`` over images with an age on both sides
  (computed in :mod:`metrics.attribute_counts` from the fourth age-error histogram).

Each has a bootstrap 95 % interval (``_lo``/``_hi``): percentile interval of the image bootstrap, i.e.
multinomial resampling of the table's non-empty cells (:func:`metrics.bootstrap.bootstrap_linear`).
All are informational: they describe the evaluator, not the restorer.
"""
from __future__ import annotations

import io
from typing import Mapping

import numpy as np

from metrics.bootstrap import DEFAULT_REPLICATES, bootstrap_linear, ratio

#: the exact perturbation, written into the channel key of the perturbed-HQ vectors (never mixed)
PERTURBATION = "jpeg-q95-444-pillow+shift-right-1px-edge"
NB, NG = 10, 2
NOISE_SHAPE = (NB + 1, NG + 1, NB + 2, NG + 2)


def perturb(image: np.ndarray) -> np.ndarray:
    """``uint8 [H, W, 3]`` -> the imperceptibly changed copy :data:`PERTURBATION` (same shape, uint8)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, np.uint8)).save(buffer, format="JPEG", quality=95, subsampling=0)
    buffer.seek(0)
    decoded = np.asarray(Image.open(buffer).convert("RGB"), np.uint8)
    out = np.empty_like(decoded)
    out[:, 1:] = decoded[:, :-1]
    out[:, 0] = decoded[:, 0]
    return out


def perturb_batch(images) -> list[np.ndarray]:
    """Any classifier batch (tensor ``[B, 3, H, W]``, arrays) -> list of perturbed ``uint8 [H, W, 3]``."""
    from reference_models.shared.attribute_classifiers.base import images_to_list

    return [perturb(im) for im in images_to_list(images)]


def empty_noise() -> np.ndarray:
    return np.zeros(NOISE_SHAPE, np.int64)


def accumulate_noise(table: np.ndarray, hb, hg, pb, pg) -> None:
    """Add images: HQ codes ``hb``/``hg`` (10/2 = unknown), perturbed codes ``pb``/``pg`` (11/3 = no face)."""
    np.add.at(table, (np.asarray(hb), np.asarray(hg), np.asarray(pb), np.asarray(pg)), 1)


def noise_stats(table: np.ndarray, replicates: int = DEFAULT_REPLICATES, seed: int = 20_300) -> dict[str, float]:
    """``noise_gender_err`` and ``noise_age_err`` with percentile bootstrap 95 % intervals (nan when empty)."""
    table = np.asarray(table, np.int64)
    out: dict[str, float] = {}
    nz = np.flatnonzero(table)
    if nz.size == 0:
        for key in ("noise_gender_err", "noise_age_err"):
            out[key] = out[key + "_lo"] = out[key + "_hi"] = float("nan")
        return out
    hb, hg, pb, pg = np.unravel_index(nz, NOISE_SHAPE)
    g_den = (hg < NG) & (pg != NG)          # HQ gender known, perturbed copy classified (or no face)
    b_den = (hb < NB) & (pb != NB)
    weights = np.stack([g_den & (pg != hg), g_den, b_den & (pb != hb), b_den], axis=1).astype(np.float64)

    def stats(sums):
        return {"noise_gender_err": ratio(sums[:, 0], sums[:, 1]), "noise_age_err": ratio(sums[:, 2], sums[:, 3])}

    with np.errstate(invalid="ignore", divide="ignore"):
        intervals = bootstrap_linear(table.ravel()[nz], weights, stats, replicates=replicates, seed=seed)
    for key, ci in intervals.items():
        out[key], out[key + "_lo"], out[key + "_hi"] = ci.value, ci.lo, ci.hi
    return out


def noise_table(state: Mapping[str, np.ndarray]) -> np.ndarray:
    """The state's noise table (an all-zero table for states written before it existed)."""
    return np.asarray(state["noise"], np.int64) if "noise" in state else empty_noise()
