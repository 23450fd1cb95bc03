"""Bootstrap confidence intervals over images, computed exactly from count tables.

Why counts are enough
---------------------
The attribute metrics keep mergeable count states (flat memory): a table whose cells are the distinct
per-image outcomes (label bin, label gender, class on HQ, class on restored, ...) and how many images fell
in each.  Every statistic we report (an error rate, a per-group error, the worst-group gap, a fairness
discrepancy, a mean of binned absolute errors) depends on the images only through these cell counts.
Resampling ``N`` images with replacement gives cell counts distributed as ``Multinomial(N, n_k / N)``.
So the image bootstrap is *exactly* a multinomial draw over the non-empty cells; no per-image list is
needed.  (Age MAE is bootstrapped from a 0.5-year histogram of absolute errors: its point estimate is
exact, the interval is that of the binned errors.)

:func:`bootstrap_counts` draws ``B`` replicates (seeded, in chunks: memory ``chunk x cells``), applies a
vectorised statistic ``f(counts[R, K]) -> [R]`` and returns the percentile interval.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

DEFAULT_REPLICATES = 1000
DEFAULT_SEED = 20_200


@dataclass(frozen=True)
class Interval:
    value: float
    lo: float
    hi: float
    n_replicates: int

    def as_tuple(self) -> tuple[float, float, float]:
        return self.value, self.lo, self.hi


def multinomial_replicates(counts: np.ndarray, replicates: int = DEFAULT_REPLICATES,
                           seed: int = DEFAULT_SEED, chunk: int = 250):
    """Yield ``[r, K]`` bootstrap count tables of the flattened non-empty cells of ``counts``."""
    flat = np.asarray(counts, dtype=np.int64).ravel()
    n = int(flat.sum())
    p = flat / n if n else flat.astype(float)
    rng = np.random.default_rng(seed)
    done = 0
    while done < replicates:
        r = min(chunk, replicates - done)
        yield rng.multinomial(n, p, size=r) if n else np.zeros((r, flat.size), np.int64)
        done += r


def bootstrap_counts(counts: np.ndarray, statistic: Callable[[np.ndarray], np.ndarray],
                     replicates: int = DEFAULT_REPLICATES, seed: int = DEFAULT_SEED,
                     level: float = 0.95) -> Interval:
    """Percentile interval of ``statistic`` under the image bootstrap of a count table.

    ``statistic`` takes ``[R, *counts.shape]`` count tables and returns ``[R]`` values (nan allowed:
    replicates where the statistic is undefined, e.g. an empty group, are dropped).
    """
    counts = np.asarray(counts, dtype=np.int64)
    value = float(np.asarray(statistic(counts[None]))[0])
    nonzero = np.flatnonzero(counts.ravel())
    values = []
    if nonzero.size:
        for draw in multinomial_replicates(counts.ravel()[nonzero], replicates, seed):
            full = np.zeros((draw.shape[0], counts.size), np.int64)
            full[:, nonzero] = draw
            values.append(np.asarray(statistic(full.reshape((draw.shape[0],) + counts.shape)), np.float64))
    values = np.concatenate(values) if values else np.array([])
    values = values[np.isfinite(values)]
    if not np.isfinite(value) or values.size == 0:
        return Interval(value, float("nan"), float("nan"), int(values.size))
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(values, [alpha, 1.0 - alpha])
    return Interval(value, float(lo), float(hi), int(values.size))


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = np.asarray(num, np.float64)
    den = np.asarray(den, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def bootstrap_linear(cell_counts: np.ndarray, weights: np.ndarray,
                     statistics: Callable[[np.ndarray], dict[str, np.ndarray]],
                     replicates: int = DEFAULT_REPLICATES, seed: int = DEFAULT_SEED,
                     level: float = 0.95) -> dict[str, Interval]:
    """Intervals of several statistics that are functions of weighted cell sums.

    ``cell_counts [K]`` are the counts of the non-empty outcome cells, ``weights [K, S]`` turn them into
    ``S`` sums (``sums = counts @ weights``: masks for counts, masks times a value for totals), and
    ``statistics(sums [R, S]) -> {name: [R]}``.  All statistics share the same replicates.
    """
    cell_counts = np.asarray(cell_counts, np.int64)
    weights = np.asarray(weights, np.float64)
    point = {k: float(np.asarray(v)[0]) for k, v in statistics((cell_counts @ weights)[None]).items()}
    draws: dict[str, list[np.ndarray]] = {k: [] for k in point}
    if cell_counts.sum() > 0:
        for draw in multinomial_replicates(cell_counts, replicates, seed):
            for k, v in statistics(draw.astype(np.float64) @ weights).items():
                draws[k].append(np.asarray(v, np.float64))
    alpha = (1.0 - level) / 2.0
    out = {}
    for k, value in point.items():
        values = np.concatenate(draws[k]) if draws[k] else np.array([])
        values = values[np.isfinite(values)]
        if not np.isfinite(value) or values.size == 0:
            out[k] = Interval(value, float("nan"), float("nan"), int(values.size))
        else:
            lo, hi = np.quantile(values, [alpha, 1.0 - alpha])
            out[k] = Interval(value, float(lo), float(hi), int(values.size))
    return out
