"""Agreement between a quality metric and human judgements: SRCC, KRCC (Kendall tau-b), PLCC.

Everything here is plain numpy on 1-D float arrays, with no scipy at run time (the tests compare every
coefficient with ``scipy.stats`` to 1e-12, ties included).

Coefficients
------------
Let ``x`` be the metric scores and ``y`` the human judgements of the same ``n`` images, both already
oriented so that *larger = better* (see :func:`orient`).

* **PLCC** (Pearson linear correlation)::

      r = sum_i (x_i - mean x)(y_i - mean y) / sqrt( sum_i (x_i - mean x)^2 * sum_i (y_i - mean y)^2 )

* **SRCC** (Spearman rank-order correlation) = PLCC of the *average ranks* ``R(x)``, ``R(y)``: tied
  values share the mean of the ranks they occupy (``scipy.stats.rankdata(method='average')``), so that
  the classical ``1 - 6 sum d^2 / (n (n^2 - 1))`` is NOT used (it is wrong with ties).

* **KRCC** (Kendall tau-b).  Over the ``n0 = n (n - 1) / 2`` pairs ``i < j``: ``n_c`` concordant
  (``sign(x_i - x_j) * sign(y_i - y_j) = +1``), ``n_d`` discordant (``-1``), ``n1`` pairs tied in ``x``,
  ``n2`` pairs tied in ``y``, ``n3`` pairs tied in both::

      tau_b = (n_c - n_d) / sqrt( (n0 - n1) (n0 - n2) ),      n_c - n_d = n0 - n1 - n2 + n3 - 2 n_d

  ``n1 = sum_g t_g (t_g - 1) / 2`` over the groups of equal ``x`` (likewise ``n2``, ``n3`` over equal
  ``y`` and equal ``(x, y)``).  ``n_d`` is the number of inversions of ``y`` once the pairs are sorted
  by ``(x, y)`` (Knight 1966): counted by a vectorised bottom-up merge in ``O(n log^2 n)``.

A coefficient is ``nan`` when it is undefined: fewer than two finite pairs, or one side constant.

Per pack and global (IFQA protocol, ``docs/protocols/ifqa.md`` section 5)
----------------------------------------------------------------------
A *pack* is one LQ input and the ``k`` restorations of it that people ranked (IFQA: ``k = 5``).

* **per pack**: each coefficient between the metric's scores of the ``k`` restorations and their mean
  human rank (negated: rank 1 = best), then the **mean over packs** whose coefficient is defined (as the
  IFQA paper averages); the packs where it is ``nan`` (constant scores or tied humans) are counted.
* **global**: the coefficient over all images of all packs (per-image metric score vs per-image mean
  human rank), or over all images of a MOS study.

Bootstrap
---------
Percentile 95 % intervals with the *cluster* bootstrap: the resampled unit is the pack (all its images
come along, a pack drawn twice contributes its images twice: ties in both ``x`` and ``y`` that tau-b
and the average ranks handle), or the image for MOS data.  Draws are multinomial counts over the units
from :func:`metrics.bootstrap.multinomial_replicates` (seeded ``numpy.random.default_rng``), so a
given seed gives the same interval on every machine.  The per-pack mean of a replicate is the
count-weighted mean of the per-pack coefficients (packs with ``nan`` excluded).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from metrics.bootstrap import DEFAULT_REPLICATES, DEFAULT_SEED, Interval, multinomial_replicates

COEFFICIENTS = ("srcc", "krcc", "plcc")


# -- helpers ----------------------------------------------------------------------------------------------

def _pair(x: Sequence[float], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length, got {x.size} and {y.size}")
    return x, y


def _finite(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def orient(values: Sequence[float], higher_is_better: bool) -> np.ndarray:
    """``values`` as float64, negated when lower is better (NIQE, BRISQUE, a human rank): larger = better."""
    values = np.asarray(values, dtype=np.float64)
    return values if higher_is_better else -values


def rankdata_average(values: Sequence[float]) -> np.ndarray:
    """1-based ranks; tied values get the mean of the ranks they span (``rankdata(method='average')``)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    n = values.size
    if n == 0:
        return np.zeros(0)
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], n]  # exclusive
    mean_rank = (starts + 1 + ends) / 2.0  # mean of starts+1 .. ends
    ranks = np.empty(n)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def _tie_pairs(values: np.ndarray) -> int:
    """Number of pairs of equal values: sum over tie groups of t (t - 1) / 2."""
    if values.size < 2:
        return 0
    _, counts = np.unique(values, return_counts=True)
    return int((counts * (counts - 1) // 2).sum())


def _joint_tie_pairs(x: np.ndarray, y: np.ndarray) -> int:
    if x.size < 2:
        return 0
    _, counts = np.unique(np.stack([x, y], axis=1), axis=0, return_counts=True)
    return int((counts * (counts - 1) // 2).sum())


def count_inversions(values: Sequence[float]) -> int:
    """Pairs ``i < j`` with ``values[i] > values[j]`` (strict; equal values are no inversion).

    Bottom-up merge sort, vectorised per level: at width ``w`` the array is sorted inside blocks of ``w``;
    for each element of a right block, the elements of its left partner block that are larger are found
    with one global ``searchsorted`` on keys ``pair_index * m + dense_rank`` (sorted by construction).
    """
    values = np.asarray(values).ravel()
    n = values.size
    if n < 2:
        return 0
    _, dense = np.unique(values, return_inverse=True)
    a = dense.astype(np.int64).ravel()
    m = int(a.max()) + 1
    position = np.arange(n, dtype=np.int64)
    inversions = 0
    width = 1
    while width < n:
        block = position // width
        pair = block // 2
        keys = pair * m + a
        right = (block % 2) == 1
        if right.any():
            left_keys = keys[~right]
            right_keys = keys[right]
            at_most = np.searchsorted(left_keys, right_keys, side="right")
            pair_end = np.searchsorted(left_keys, (pair[right] + 1) * m, side="left")
            inversions += int((pair_end - at_most).sum())
        a = np.sort(keys, kind="stable") - (position // (2 * width)) * m
        width *= 2
    return inversions


# -- the three coefficients -----------------------------------------------------------------------------

def plcc(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson linear correlation of the finite pairs (``scipy.stats.pearsonr(x, y)[0]``); nan if undefined."""
    x, y = _finite(*_pair(x, y))
    if x.size < 2:
        return float("nan")
    xm = x - x.mean()
    ym = y - y.mean()
    nx, ny = np.linalg.norm(xm), np.linalg.norm(ym)
    if (x == x[0]).all() or (y == y[0]).all() or nx == 0.0 or ny == 0.0:
        return float("nan")
    r = float(np.dot(xm / nx, ym / ny))
    return max(-1.0, min(1.0, r))


def srcc(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank-order correlation (PLCC of average ranks; ``scipy.stats.spearmanr``); nan if undefined."""
    x, y = _finite(*_pair(x, y))
    if x.size < 2:
        return float("nan")
    return plcc(rankdata_average(x), rankdata_average(y))


def krcc_tau_b(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall tau-b (``scipy.stats.kendalltau(x, y, variant='b')``), ties handled; nan if undefined."""
    x, y = _finite(*_pair(x, y))
    n = x.size
    if n < 2:
        return float("nan")
    order = np.lexsort((y, x))
    xs, ys = x[order], y[order]
    n0 = n * (n - 1) // 2
    n1 = _tie_pairs(xs)
    n2 = _tie_pairs(ys)
    n3 = _joint_tie_pairs(xs, ys)
    if n0 == n1 or n0 == n2:
        return float("nan")
    discordant = count_inversions(ys)
    numerator = n0 - n1 - n2 + n3 - 2 * discordant
    tau = numerator / np.sqrt(float(n0 - n1) * float(n0 - n2))
    return float(max(-1.0, min(1.0, tau)))


FUNCTIONS = {"srcc": srcc, "krcc": krcc_tau_b, "plcc": plcc}


def coefficients(x: Sequence[float], y: Sequence[float]) -> dict[str, float]:
    """``{"srcc", "krcc", "plcc"}`` of one set of pairs."""
    return {name: fn(x, y) for name, fn in FUNCTIONS.items()}


# -- per pack, global, bootstrap ----------------------------------------------------------------------------

def per_pack(x: Sequence[float], y: Sequence[float], packs: Sequence) -> dict[str, np.ndarray]:
    """Coefficients inside each pack: ``{"pack": [P], "n": [P], "srcc": [P], "krcc": [P], "plcc": [P]}``.

    Packs are in order of first appearance; ``n`` counts the finite pairs of the pack.
    """
    x, y = _pair(x, y)
    packs = np.asarray(packs, dtype=object).ravel()
    if packs.size != x.size:
        raise ValueError(f"packs has {packs.size} entries for {x.size} pairs")
    labels, first, inverse = np.unique(packs.astype(str), return_index=True, return_inverse=True)
    appearance = np.argsort(first, kind="stable")
    out: dict[str, list] = {"pack": [], "n": [], **{name: [] for name in COEFFICIENTS}}
    for index in appearance:
        members = inverse == index
        xs, ys = _finite(x[members], y[members])
        out["pack"].append(packs[first[index]])
        out["n"].append(int(xs.size))
        for name, fn in FUNCTIONS.items():
            out[name].append(fn(xs, ys))
    return {key: np.asarray(value, dtype=object if key == "pack" else
                            (np.int64 if key == "n" else np.float64)) for key, value in out.items()}


def mean_over_packs(values: Sequence[float]) -> float:
    """Mean of the defined (finite) per-pack coefficients; nan when none is defined."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


@dataclass
class CorrelationResult:
    """Per-pack means and global coefficients of one metric, with bootstrap intervals."""

    n_images: int
    n_units: int  # packs (ranking study) or images (MOS study): the bootstrap unit
    per_pack: dict[str, Interval] = field(default_factory=dict)  # empty for MOS studies
    per_pack_undefined: dict[str, int] = field(default_factory=dict)  # packs whose coefficient is nan
    per_pack_values: dict[str, np.ndarray] = field(default_factory=dict)
    global_: dict[str, Interval] = field(default_factory=dict)
    replicates: int = DEFAULT_REPLICATES
    seed: int = DEFAULT_SEED
    level: float = 0.95


def _interval(value: float, draws: list[float], replicates: int, level: float) -> Interval:
    values = np.asarray(draws, dtype=np.float64)
    values = values[np.isfinite(values)]
    if not np.isfinite(value) or values.size == 0:
        return Interval(float(value), float("nan"), float("nan"), int(values.size))
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(values, [alpha, 1.0 - alpha])
    return Interval(float(value), float(lo), float(hi), int(values.size))


def correlate(x: Sequence[float], y: Sequence[float], packs: Sequence | None = None, *,
              replicates: int = DEFAULT_REPLICATES, seed: int = DEFAULT_SEED, level: float = 0.95,
              per_pack_stats: bool | None = None) -> CorrelationResult:
    """SRCC, KRCC and PLCC of oriented ``x`` (metric) and ``y`` (humans), per pack and global, bootstrapped.

    ``packs=None``: every image is its own unit (MOS study): global coefficients only, images resampled.
    Otherwise packs are resampled (cluster bootstrap) and the per-pack means are reported too
    (``per_pack_stats=False`` turns them off).  Pairs with a non-finite side are dropped first.
    """
    x, y = _pair(x, y)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if packs is None:
        units = np.arange(x.size)
        per_pack_stats = False if per_pack_stats is None else per_pack_stats
    else:
        packs_arr = np.asarray(packs, dtype=object).ravel()
        if packs_arr.size != keep.size:
            raise ValueError(f"packs has {packs_arr.size} entries for {keep.size} pairs")
        _, units = np.unique(packs_arr[keep].astype(str), return_inverse=True)
        units = units.ravel()
        per_pack_stats = True if per_pack_stats is None else per_pack_stats
    n_units = int(units.max()) + 1 if units.size else 0
    result = CorrelationResult(n_images=int(x.size), n_units=n_units, replicates=replicates, seed=seed, level=level)

    pack_values: dict[str, np.ndarray] = {}
    if per_pack_stats:
        table = per_pack(x, y, units)
        # per_pack orders packs by first appearance; re-index them by unit number for the bootstrap
        unit_of = np.asarray(table["pack"], dtype=np.int64)
        for name in COEFFICIENTS:
            values = np.full(n_units, np.nan)
            values[unit_of] = table[name]
            pack_values[name] = values
        result.per_pack_values = pack_values
        result.per_pack_undefined = {name: int((~np.isfinite(v)).sum()) for name, v in pack_values.items()}

    point_global = coefficients(x, y)
    point_pack = {name: mean_over_packs(v) for name, v in pack_values.items()}
    draws_global: dict[str, list[float]] = {name: [] for name in COEFFICIENTS}
    draws_pack: dict[str, list[float]] = {name: [] for name in pack_values}
    if n_units > 0 and replicates > 0:
        order = np.argsort(units, kind="stable")
        bounds = np.r_[0, np.cumsum(np.bincount(units, minlength=n_units))]
        members = [order[bounds[u]:bounds[u + 1]] for u in range(n_units)]
        for counts in multinomial_replicates(np.ones(n_units, np.int64), replicates, seed):
            for row in counts:
                index = np.concatenate([np.tile(members[u], row[u]) for u in np.flatnonzero(row)])
                xs, ys = x[index], y[index]
                for name, fn in FUNCTIONS.items():
                    draws_global[name].append(fn(xs, ys))
                for name, values in pack_values.items():
                    defined = np.isfinite(values) & (row > 0)
                    weight = row[defined]
                    draws_pack[name].append(float((values[defined] * weight).sum() / weight.sum())
                                            if weight.sum() else float("nan"))
    result.global_ = {name: _interval(point_global[name], draws_global[name], replicates, level)
                      for name in COEFFICIENTS}
    result.per_pack = {name: _interval(point_pack[name], draws_pack[name], replicates, level)
                       for name in pack_values}
    return result


def result_rows(result: CorrelationResult, **labels) -> list[dict]:
    """Long-form rows (one per scope and coefficient) of a :class:`CorrelationResult`, plus ``labels``."""
    rows = []
    scopes: list[tuple[str, Mapping[str, Interval]]] = [("per_pack", result.per_pack), ("global", result.global_)]
    for scope, intervals in scopes:
        for name, interval in intervals.items():
            rows.append({**labels, "scope": scope, "coefficient": name, "value": interval.value,
                         "lo": interval.lo, "hi": interval.hi,
                         "undefined_packs": result.per_pack_undefined.get(name, 0) if scope == "per_pack" else 0,
                         "n_images": result.n_images, "n_units": result.n_units,
                         "replicates": result.replicates, "valid_replicates": interval.n_replicates,
                         "seed": result.seed, "level": result.level})
    return rows
