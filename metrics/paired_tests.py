"""Paired significance tests between two methods restoring the SAME faces (no scipy needed).

Two methods of one benchmark setting restore the same LQ images, so their results are *paired*: image
``i`` gives ``(a_i, b_i)``.  A paired test uses the within-image difference and removes the (large)
between-image variance that an unpaired test would leave in.  Every test below is two-sided.

Exact McNemar test (paired binary outcomes, e.g. "the gender flipped")
-----------------------------------------------------------------------
With ``b`` = #images where A is wrong and B right and ``c`` = #images where A is right and B wrong (the
discordant pairs; concordant pairs carry no information about the difference), under H0 (both methods
err equally often) ``b | b + c ~ Binomial(b + c, 1/2)``, and

    p = min(1, 2 * P[X <= min(b, c)]),   X ~ Binomial(b + c, 1/2),   (p = 1 when b + c = 0).

Wilcoxon signed-rank test (paired continuous values, e.g. per-image PSNR)
--------------------------------------------------------------------------
``d_i = a_i - b_i``; zeros are dropped (Wilcoxon's ``zero_method="wilcox"``), the ``n`` remaining
``|d_i|`` are ranked with mid-ranks for ties, and ``R+ = sum_{d_i > 0} rank_i``.  Under H0 (the
distribution of ``d`` is symmetric about 0) every sign pattern is equally likely:

* no ties and no zeros and ``len(d) <= 50``: the exact distribution of ``R+`` (the number of subsets of
  ``{1..n}`` with sum ``k``, over ``2^n``), ``p = min(1, 2 min(P[R+ >= r+], P[R+ <= r+]))``;
* ties or zeros and ``len(d) <= 13``: the exact sign-flip permutation distribution of ``R+`` (all
  ``2^len(d)`` sign patterns of ``d``, mid-ranks kept), ``p = min(1, 2 min(P[R+* >= r+], P[R+* <= r+]))``;
* otherwise the normal approximation ``z = (R+ - n(n+1)/4) / sigma`` with the tie correction
  ``sigma^2 = (n(n+1)(2n+1) - sum_t (t^3 - t) / 2) / 24`` (``t``: sizes of the groups of tied ``|d|``),
  optionally the continuity correction ``z -= sign(z) / (2 sigma)``, and ``p = 2 Phi(-|z|)``.

This is exactly ``scipy.stats.wilcoxon``'s default (``zero_method="wilcox"``, ``correction=False``,
``method="auto"``), against which it is tested.

Paired bootstrap (any statistic, set-level ones included: FID, KID, error rates)
--------------------------------------------------------------------------------
Replicate ``r`` draws ``n`` image ids with replacement, ``I_r``, and evaluates BOTH methods on the same
``I_r``: ``D_r = T_A(I_r) - T_B(I_r)``.  Reported: ``D = T_A(I) - T_B(I)`` on all ids, the 95 % percentile
interval ``[q_2.5(D_r), q_97.5(D_r)]``, and the two-sided bootstrap p-value (the smallest level at which
the percentile interval would exclude 0, with the usual +1 so that it is never 0):

    p = min(1, 2 * min(1 + #{D_r <= 0}, 1 + #{D_r >= 0}) / (R + 1)).

Holm-Bonferroni (family-wise error over ``m`` tests)
-----------------------------------------------------
Sort the p-values ``p_(1) <= ... <= p_(m)``; ``p~_(j) = max_{k <= j} min(1, (m - k + 1) p_(k))``.  Rejecting
the hypotheses with ``p~ <= alpha`` keeps the family-wise error rate at ``alpha``.  NaN p-values (untestable
rows) are left out of ``m`` and stay NaN.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Mapping, Sequence

import numpy as np

#: default replicates of the paired bootstrap (small: set-level metrics are recomputed per replicate)
BOOTSTRAP_REPLICATES = 200
BOOTSTRAP_SEED = 20_201


# -- McNemar ---------------------------------------------------------------------------------------------

def binom_half_cdf(k: int, n: int) -> float:
    """``P[X <= k]`` for ``X ~ Binomial(n, 1/2)``: ``sum_{j<=k} C(n, j) / 2^n`` (log-space, stable for large n)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    logs = np.array([math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1) for j in range(k + 1)])
    top = logs.max()
    return float(min(1.0, math.exp(top + math.log(np.exp(logs - top).sum()) - n * math.log(2.0))))


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts ``b`` (A wrong, B right), ``c`` (A right, B wrong)."""
    b, c = int(b), int(c)
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be >= 0, got b={b}, c={c}")
    if b + c == 0:
        return 1.0
    return min(1.0, 2.0 * binom_half_cdf(min(b, c), b + c))


def discordant(wrong_a: np.ndarray, wrong_b: np.ndarray) -> tuple[int, int, int]:
    """``(b, c, n)`` of two paired 0/1 "wrong" vectors (NaN = undefined: that pair is left out)."""
    a, b = np.asarray(wrong_a, np.float64), np.asarray(wrong_b, np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok] != 0, b[ok] != 0
    return int((a & ~b).sum()), int((~a & b).sum()), int(ok.sum())


# -- Wilcoxon signed-rank --------------------------------------------------------------------------------

@dataclass(frozen=True)
class WilcoxonResult:
    statistic: float  # min(R+, R-), as scipy reports it
    r_plus: float
    pvalue: float
    n: int            # non-zero differences
    method: str       # "exact", "permutation" or "normal"


def midranks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ranks 1..n of ``values`` with ties given the mean of their ranks, and the sizes of the tie groups."""
    values = np.asarray(values, np.float64)
    order = np.argsort(values, kind="mergesort")
    sorted_v = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_v[1:] != sorted_v[:-1]])
    sizes = np.diff(np.r_[starts, len(values)])
    mean_rank = starts + (sizes + 1) / 2.0  # ranks starts+1 .. starts+size, averaged
    ranks = np.empty(len(values), np.float64)
    ranks[order] = np.repeat(mean_rank, sizes)
    return ranks, sizes


@lru_cache(maxsize=64)
def _signed_rank_counts(n: int) -> np.ndarray:
    """``counts[k]`` = number of subsets of ``{1..n}`` with sum ``k`` (k = 0 .. n(n+1)/2), as floats."""
    counts = np.zeros(n * (n + 1) // 2 + 1, np.float64)
    counts[0] = 1.0
    for j in range(1, n + 1):
        counts[j:] = counts[j:] + counts[:-j].copy()
    return counts


def _normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def wilcoxon_signed_rank(a: Sequence[float], b: Sequence[float] | None = None, *,
                         correction: bool = False) -> WilcoxonResult:
    """Two-sided Wilcoxon signed-rank test of ``d = a - b`` (or of ``a`` alone); see the module docstring."""
    d = np.asarray(a, np.float64) - (0.0 if b is None else np.asarray(b, np.float64))
    if d.ndim != 1 or not np.isfinite(d).all():
        raise ValueError("wilcoxon_signed_rank needs a 1-d array of finite differences")
    total = len(d)
    nz = d[d != 0]
    n = len(nz)
    if n == 0:
        return WilcoxonResult(0.0, 0.0, math.nan, 0, "none")
    ranks, sizes = midranks(np.abs(nz))
    r_plus = float(ranks[nz > 0].sum())
    r_minus = n * (n + 1) / 2.0 - r_plus
    ties = bool((sizes > 1).any())
    if not ties and n == total and total <= 50:
        counts = _signed_rank_counts(n)
        k = round(r_plus)
        p, method = 2.0 * min(counts[k:].sum(), counts[:k + 1].sum()) / counts.sum(), "exact"
    elif total <= 13:
        # every sign pattern of the non-zero differences (zeros contribute nothing to R+ whatever their sign)
        signs = ((np.arange(2 ** n)[:, None] >> np.arange(n)[None, :]) & 1).astype(bool)
        null = (signs * ranks[None, :]).sum(axis=1)
        gamma = abs(r_plus) * np.finfo(np.float64).eps * 100  # scipy.stats.permutation_test's tolerance
        p = 2.0 * min(np.mean(null >= r_plus - gamma), np.mean(null <= r_plus + gamma))
        method = "permutation"
    else:
        sigma = math.sqrt((n * (n + 1) * (2 * n + 1) - float((sizes ** 3 - sizes).sum()) / 2.0) / 24.0)
        z = (r_plus - n * (n + 1) / 4.0) / sigma
        if correction:
            z -= math.copysign(0.5, z) / sigma if z != 0 else 0.0
        p, method = 2.0 * _normal_sf(abs(z)), "normal"
    return WilcoxonResult(min(r_plus, r_minus), r_plus, float(min(1.0, p)), n, method)


# -- paired bootstrap ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class PairedBootstrap:
    a: float
    b: float
    difference: float
    lo: float
    hi: float
    pvalue: float
    replicates: int  # replicates with a finite difference


def paired_bootstrap(statistic_a: Callable[[Sequence[str]], float | Mapping[str, float]],
                     statistic_b: Callable[[Sequence[str]], float | Mapping[str, float]],
                     ids: Sequence[str], replicates: int = BOOTSTRAP_REPLICATES, seed: int = BOOTSTRAP_SEED,
                     level: float = 0.95) -> PairedBootstrap | dict[str, PairedBootstrap]:
    """Paired bootstrap of ``T_A - T_B`` over image ``ids`` (module docstring).

    ``statistic_a(ids)`` / ``statistic_b(ids)``: the statistic of each method on a list of ids (with
    repeats: an id drawn twice counts twice), a float or a mapping ``key -> float`` (several statistics
    on the same replicates: a dict of results is returned).  Replicate ``r`` uses the ids
    ``ids[rng.integers(0, n, n)]`` (``rng = numpy.random.default_rng(seed)``), the same for both methods.
    """
    ids = list(ids)
    if not ids:
        raise ValueError("paired_bootstrap needs at least one id")

    def as_dict(value):
        return ({k: float(v) if v is not None else math.nan for k, v in value.items()}
                if isinstance(value, Mapping) else {None: float(value)})

    point_a, point_b = as_dict(statistic_a(ids)), as_dict(statistic_b(ids))
    keys = [k for k in point_a if k in point_b]
    rng = np.random.default_rng(seed)
    draws: dict = {k: [] for k in keys}
    for _ in range(int(replicates)):
        sample = [ids[i] for i in rng.integers(0, len(ids), len(ids))]
        va, vb = as_dict(statistic_a(sample)), as_dict(statistic_b(sample))
        for k in keys:
            draws[k].append(va.get(k, math.nan) - vb.get(k, math.nan))
    alpha = (1.0 - level) / 2.0
    out = {}
    for k in keys:
        diffs = np.asarray(draws[k], np.float64)
        diffs = diffs[np.isfinite(diffs)]
        diff = point_a[k] - point_b[k]
        if diffs.size == 0 or not math.isfinite(diff):
            out[k] = PairedBootstrap(point_a[k], point_b[k], diff, math.nan, math.nan, math.nan, int(diffs.size))
            continue
        lo, hi = np.quantile(diffs, [alpha, 1.0 - alpha])
        p = min(1.0, 2.0 * min(1 + int((diffs <= 0).sum()), 1 + int((diffs >= 0).sum())) / (diffs.size + 1))
        out[k] = PairedBootstrap(point_a[k], point_b[k], diff, float(lo), float(hi), p, int(diffs.size))
    return out[None] if list(out) == [None] else out


# -- Holm-Bonferroni -----------------------------------------------------------------------------------

def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-adjusted p-values, in the input order (NaN stays NaN and is not counted in ``m``)."""
    p = np.asarray(pvalues, np.float64)
    out = np.full(p.shape, np.nan)
    valid = np.flatnonzero(np.isfinite(p))
    m = len(valid)
    if m == 0:
        return out
    order = valid[np.argsort(p[valid], kind="mergesort")]
    adjusted = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(adjusted)
    return out
