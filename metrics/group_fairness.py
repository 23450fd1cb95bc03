"""Group-fairness statistics of restorations: parity of preservation rates and paired representation.

Pure functions on count tables (numpy; ``scipy.stats`` distributions for p-values only), used by the
set-level metric ``attr_groups`` (:mod:`metrics.attribute_groups`), which states the fairness notions
(Laszkiewicz et al., "Benchmarking the Fairness of Image Upsampling Methods", ACM FAccT 2024).

Parity of a rate across groups (representation demographic parity)
-------------------------------------------------------------------
For ``G`` groups with ``k_g`` successes (e.g. restorations that keep the HQ face's predicted gender) out
of ``n_g`` trials, :func:`homogeneity_test` is Pearson's chi-square test of homogeneity on the ``G x C``
table ``O`` (here ``C = 2``: kept, not kept)::

    E_gc = O_g. O_.c / O..,    X^2 = sum_gc (O_gc - E_gc)^2 / E_gc,    df = (G' - 1)(C' - 1)

over the ``G'`` non-empty rows and ``C'`` non-empty columns, p = P(chi2_df >= X^2), no continuity
correction (Pearson 1900; Agresti, *Categorical Data Analysis*, 3rd ed., 2013, §3.2).  Conventions:
fewer than 2 non-empty groups -> no comparison (nan); one non-empty outcome column (every group keeps
everything, or nothing) -> the rates are equal, ``X^2 = 0``, ``p = 1``.

:func:`fisher_exact_2x2` is Fisher's exact test of a ``2 x 2`` table (two-sided: the sum of the
hypergeometric probabilities of the tables with the same margins that are not more likely than the
observed one, with a relative tolerance of 1e-7, the convention of R's ``fisher.test`` and scipy).
:func:`rate_parity_test` chooses: Fisher when exactly 2 groups enter and an expected count is below 5
(Cochran's rule), else the chi-square test.  :func:`rate_gap` is the descriptive discrepancy ``max_g r_g
- min_g r_g`` (range 0..1) over the groups with at least ``min_group`` trials.

Paired representation (proportional representation)
----------------------------------------------------
Each restoration is paired with its own HQ face, so the predicted class of both forms a ``K x K`` table
``N`` (rows: HQ class, columns: restored class).  The restored composition equals the HQ composition
when the margins are equal (marginal homogeneity, ``N_i. = N_.i`` for all ``i``).  The paired test is
Stuart-Maxwell's (Stuart 1955, Maxwell 1970; Agresti 2013 §11.3): ``d_i = N_i. - N_.i`` and::

    S_ii = N_i. + N_.i - 2 N_ii,   S_ij = -(N_ij + N_ji) (i != j),   X^2 = d' S^+ d,  df = rank(S)

``S`` is the Laplacian of the graph of discordant pairs; the usual form drops one class and inverts the
rest, which is the same value when that graph is connected.  The Moore-Penrose inverse ``S^+`` with
``df = rank(S)`` also covers classes that never change (they drop out) and disconnected classes.  For
``K = 2`` it is McNemar's statistic ``(b - c)^2 / (b + c)`` without continuity correction; when only 2
classes are discordant and there are fewer than :data:`EXACT_BELOW` discordant pairs the exact McNemar
p-value (two-sided binomial test of ``b`` out of ``b + c`` at 1/2) replaces the asymptotic one.  No
discordant pair -> ``X^2 = 0``, ``p = 1``.  Why paired: the two compositions are measured on the same
faces; an unpaired goodness-of-fit test would treat the HQ proportions as fixed or independent and
misstate the variance (too conservative when predictions are stable, which they mostly are).

Divergences between compositions (descriptive): total variation ``TV(p, q) = 1/2 sum_i |p_i - q_i|``
(range 0..1) and ``KL(p || q) = sum_i p_i log(p_i / q_i)`` in nats (range 0..inf) of add-``alpha``
smoothed proportions ``p_i = (n_i + alpha) / (n + K alpha)``, ``alpha = 1/2`` (Jeffreys) by default so that
a class absent from one side gives a finite value.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

#: below this many discordant pairs (2 classes), the exact McNemar p-value is used
EXACT_BELOW = 25
#: Cochran's rule: an expected count below this makes the chi-square approximation doubtful
MIN_EXPECTED = 5.0


def _chi2_sf(statistic: float, df: int) -> float:
    from scipy.stats import chi2

    return float(chi2.sf(statistic, df)) if df > 0 else 1.0


def homogeneity_test(table) -> dict[str, float]:
    """Pearson chi-square test of homogeneity of the rows of a ``G x C`` count table (no correction).

    Returns ``statistic`` (X^2 >= 0), ``df``, ``p`` (0..1), ``min_expected`` (smallest expected count);
    nan for fewer than 2 non-empty rows.  Empty rows and columns are dropped first.
    """
    o = np.asarray(table, np.float64)
    if o.ndim != 2 or (o < 0).any():
        raise ValueError("homogeneity_test: expected a 2-D table of non-negative counts")
    o = o[o.sum(axis=1) > 0]
    nan = {"statistic": math.nan, "df": math.nan, "p": math.nan, "min_expected": math.nan}
    if o.shape[0] < 2:
        return nan
    o = o[:, o.sum(axis=0) > 0]
    if o.shape[1] < 2:
        return {"statistic": 0.0, "df": 0.0, "p": 1.0, "min_expected": float(o.sum(axis=1).min())}
    e = np.outer(o.sum(axis=1), o.sum(axis=0)) / o.sum()
    statistic = float(((o - e) ** 2 / e).sum())
    df = (o.shape[0] - 1) * (o.shape[1] - 1)
    return {"statistic": statistic, "df": float(df), "p": _chi2_sf(statistic, df), "min_expected": float(e.min())}


def fisher_exact_2x2(table) -> float:
    """Two-sided p-value of Fisher's exact test of a ``2 x 2`` count table ``[[a, b], [c, d]]``."""
    from scipy.stats import hypergeom

    t = np.asarray(table, np.int64)
    if t.shape != (2, 2) or (t < 0).any():
        raise ValueError("fisher_exact_2x2: expected a 2 x 2 table of non-negative counts")
    row1, col1, total = int(t[0].sum()), int(t[:, 0].sum()), int(t.sum())
    if row1 == 0 or col1 == 0 or row1 == total or col1 == total:
        return 1.0
    lo, hi = max(0, row1 + col1 - total), min(row1, col1)
    support = np.arange(lo, hi + 1)
    # a ~ Hypergeom(total population, col1 successes, row1 draws)
    pmf = hypergeom.pmf(support, total, col1, row1)
    observed = hypergeom.pmf(int(t[0, 0]), total, col1, row1)
    return float(min(1.0, pmf[pmf <= observed * (1 + 1e-7)].sum()))


def rate_parity_test(kept, total) -> dict[str, float]:
    """Test that the rates ``kept_g / total_g`` are equal across groups (see the module documentation).

    ``kept``, ``total``: counts per group (groups with ``total = 0`` are ignored).  Returns ``statistic``
    (X^2; nan for Fisher), ``df``, ``p`` and ``fisher`` (1.0 when Fisher's exact test gave ``p``), ``groups``
    (number of groups compared).
    """
    kept, total = np.asarray(kept, np.int64), np.asarray(total, np.int64)
    if kept.shape != total.shape or (kept < 0).any() or (kept > total).any():
        raise ValueError("rate_parity_test: need 0 <= kept <= total per group")
    nonempty = total > 0
    table = np.stack([kept[nonempty], total[nonempty] - kept[nonempty]], axis=1)
    out = homogeneity_test(table) if len(table) else {"statistic": math.nan, "df": math.nan, "p": math.nan,
                                                      "min_expected": math.nan}
    out = {"statistic": out["statistic"], "df": out["df"], "p": out["p"], "fisher": 0.0,
           "groups": float(len(table)), "min_expected": out["min_expected"]}
    if len(table) == 2 and out["df"] == 1 and out["min_expected"] < MIN_EXPECTED:
        out.update({"statistic": math.nan, "p": fisher_exact_2x2(table), "fisher": 1.0})
    return out


def rates(kept, total) -> np.ndarray:
    """``kept / total`` per group (nan where ``total = 0``)."""
    kept, total = np.asarray(kept, np.float64), np.asarray(total, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, kept / np.where(total > 0, total, 1), np.nan)


def rate_gap(kept, total, min_group: int = 1) -> float:
    """``max - min`` of the rates over groups with ``total >= max(1, min_group)``; nan below 2 such groups."""
    kept, total = np.asarray(kept, np.float64), np.asarray(total, np.float64)
    big = total >= max(1, int(min_group))
    if big.sum() < 2:
        return math.nan
    r = kept[big] / total[big]
    return float(r.max() - r.min())


def stuart_maxwell(square) -> dict[str, float]:
    """Stuart-Maxwell test of marginal homogeneity of a paired ``K x K`` count table (rows: before/HQ).

    Returns ``statistic``, ``df`` (rank of ``S``), ``p``, ``exact`` (1.0 when the exact McNemar p-value is
    used: 2 discordant classes, fewer than :data:`EXACT_BELOW` discordant pairs) and ``discordant``.
    """
    n = np.asarray(square, np.float64)
    if n.ndim != 2 or n.shape[0] != n.shape[1] or (n < 0).any():
        raise ValueError("stuart_maxwell: expected a square table of non-negative counts")
    off = n + n.T
    np.fill_diagonal(off, 0.0)
    discordant = float(off.sum() / 2)
    if discordant == 0:
        return {"statistic": 0.0, "df": 0.0, "p": 1.0, "exact": 0.0, "discordant": 0.0}
    d = n.sum(axis=1) - n.sum(axis=0)
    s = np.diag(off.sum(axis=1)) - off
    statistic = float(max(0.0, d @ np.linalg.pinv(s) @ d))
    df = int(np.linalg.matrix_rank(s))
    involved = np.flatnonzero(off.sum(axis=1) > 0)
    out = {"statistic": statistic, "df": float(df), "p": _chi2_sf(statistic, df), "exact": 0.0,
           "discordant": discordant}
    if len(involved) == 2 and discordant < EXACT_BELOW:
        out.update({"p": mcnemar_exact(n[involved[0], involved[1]], n[involved[1], involved[0]]), "exact": 1.0})
    return out


def mcnemar_exact(b, c) -> float:
    """Exact two-sided McNemar p-value: binomial test of ``b`` successes in ``b + c`` trials at 1/2."""
    from scipy.stats import binom

    b, c = int(round(float(b))), int(round(float(c)))
    if b + c == 0:
        return 1.0
    return float(min(1.0, 2.0 * binom.cdf(min(b, c), b + c, 0.5)))


def smoothed(counts, alpha: float = 0.5) -> np.ndarray:
    """Add-``alpha`` smoothed proportions ``(n_i + alpha) / (n + K alpha)`` of a ``[..., K]`` count vector."""
    c = np.asarray(counts, np.float64) + float(alpha)
    return c / c.sum(axis=-1, keepdims=True)


def total_variation(p, q) -> np.ndarray:
    """``1/2 sum_i |p_i - q_i|`` of two ``[..., K]`` distributions (0..1)."""
    return 0.5 * np.abs(np.asarray(p, np.float64) - np.asarray(q, np.float64)).sum(axis=-1)


def kl_divergence(p, q) -> np.ndarray:
    """``KL(p || q)`` in nats of ``[..., K]`` distributions (``0 log 0 = 0``; inf where ``q_i = 0 < p_i``)."""
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p / q), 0.0)
    return terms.sum(axis=-1)


def representation(square, alpha: float = 0.5) -> dict[str, Any]:
    """Paired representation of a ``K x K`` (HQ class x restored class) table: divergences and the test.

    ``tv``: TV of the raw proportions (nan without pairs); ``kl``: KL(restored || HQ) of the
    add-``alpha`` smoothed proportions (nats); ``statistic`` / ``df`` / ``p`` / ``exact``: Stuart-Maxwell.
    """
    n = np.asarray(square, np.float64)
    hq, restored = n.sum(axis=1), n.sum(axis=0)
    total = n.sum()
    out: dict[str, Any] = {"n": float(total)}
    if total == 0:
        out.update({"tv": math.nan, "kl": math.nan, "statistic": math.nan, "df": math.nan, "p": math.nan,
                    "exact": math.nan})
        return out
    out["tv"] = float(total_variation(restored / total, hq / total))
    out["kl"] = float(kl_divergence(smoothed(restored, alpha), smoothed(hq, alpha)))
    test = stuart_maxwell(n)
    out.update({k: test[k] for k in ("statistic", "df", "p", "exact")})
    return out



def kruskal_wallis(samples) -> dict[str, float]:
    """Kruskal-Wallis H test that ``G`` independent samples (e.g. per-image PSNR of the faces of each race)
    come from the same distribution (Kruskal and Wallis, JASA 1952).

    All ``N`` values are ranked together (ties get their mid-rank); with ``R_g`` the rank sum of group ``g``::

        H = 12 / (N (N + 1)) * sum_g R_g^2 / n_g - 3 (N + 1),     C = 1 - sum_t (t^3 - t) / (N^3 - N)

    over the tie groups ``t``, ``H' = H / C`` and ``p = P(chi2_{G-1} >= H')``.  Non-finite values are dropped;
    groups left empty do not count; fewer than 2 groups, or all values equal, give ``p = nan``.
    Returns ``statistic`` (H'), ``df``, ``p``, ``n``.
    """
    groups = [np.asarray(s, np.float64) for s in samples]
    groups = [g[np.isfinite(g)] for g in groups]
    groups = [g for g in groups if g.size]
    n = sum(g.size for g in groups)
    out = {"statistic": math.nan, "df": float(len(groups) - 1), "p": math.nan, "n": float(n)}
    if len(groups) < 2:
        return out
    values = np.concatenate(groups)
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(n, np.float64)
    sorted_values = values[order]
    start = 0
    ties = 0.0
    while start < n:  # mid-ranks of each run of equal values
        stop = start
        while stop + 1 < n and sorted_values[stop + 1] == sorted_values[start]:
            stop += 1
        ranks[order[start:stop + 1]] = (start + stop) / 2.0 + 1.0
        t = stop - start + 1
        ties += t ** 3 - t
        start = stop + 1
    correction = 1.0 - ties / (n ** 3 - n)
    if correction <= 0:
        return out
    h, offset = 0.0, 0
    for g in groups:
        h += ranks[offset:offset + g.size].sum() ** 2 / g.size
        offset += g.size
    h = (12.0 / (n * (n + 1)) * h - 3.0 * (n + 1)) / correction
    out["statistic"], out["p"] = float(h), _chi2_sf(h, len(groups) - 1)
    return out
