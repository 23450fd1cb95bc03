"""Per-image quality results of a run grouped by any attribute the dataset labels (``bench groups``).

Attribute errors per group are the set-level metrics ``attr`` (age bin x gender) and ``attr_groups`` (any
attribute); this module groups the **per-image** results (PSNR, SSIM, NIQE, IFQA, ...) of one run by a
labelled attribute (``race`` of UTKFace, ``gender``, ``age_bin``, any key of the dataset's extra labels),
so that a quality gap between groups is as visible as an attribute gap.

For each per-image metric and each group value ``g`` (faces without the attribute form the group ``?``,
shown but never tested), over the run's complete (``ok``) rows with a finite value:

* ``n``, ``mean`` and a 95 % Student-t interval ``mean ± t_{0.975, n-1} s / sqrt(n)`` (``s``: the sample
  standard deviation; ``nan`` for ``n < 2``); for a 0/1 output (a rate, e.g. ``identity.fail``) Wilson's
  score interval ``(p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)`` instead;
* ``by`` may cross attributes: ``age_bin,gender`` groups by both (``"20-29 female"``); a face missing
  any of them is in ``?``;
* ranked extra outputs are grouped too (``identity.fail``: the per-group verification-failure share);
* across the groups with at least ``min_group`` faces (default 30, as the attribute gaps): the gap of the
  means ``max_g mean_g - min_g mean_g`` (descriptive, in the metric's unit) and the Kruskal-Wallis test of
  equal distributions (:func:`metrics.group_fairness.kruskal_wallis`, rank-based: no normality assumed
  for PSNR's heavy tails), its ``p`` repeated on each row of the metric.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

from bench.core.types import AGE_BIN_LABELS, GENDER_LABELS
from bench.harness.store import ResultStore
from leaderboards.compare import key_direction
from metrics.attribute_gap import wilson
from metrics.group_fairness import kruskal_wallis

#: groups smaller than this are shown but enter neither the gap nor the test
MIN_GROUP = 30
COLUMNS = ("metric", "group", "n", "mean", "lo", "hi", "in_test", "gap", "kruskal_p")


def group_label(by: str, value: Any) -> str:
    """A readable group name: age bins and genders by their labels, anything else as text; ``?`` = unknown."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "?"
    if by == "age_bin" and isinstance(value, (int, float)) and 0 <= int(value) < len(AGE_BIN_LABELS):
        return AGE_BIN_LABELS[int(value)]
    if by == "gender" and isinstance(value, (int, float)) and 0 <= int(value) < len(GENDER_LABELS):
        return GENDER_LABELS[int(value)]
    return str(value)


def _mean_interval(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95 % interval: Student t, or Wilson's score interval when every value is 0 or 1 (a rate such
    as ``identity.fail``: the t-interval would leave [0, 1] for small groups and rare events)."""
    from scipy.stats import t

    n = values.size
    if n and np.isin(values, (0.0, 1.0)).all():
        low, high = wilson(np.array([values.sum()]), np.array([n]), 1.959963984540054)
        return float(values.mean()), float(low[0]), float(high[0])
    mean = float(values.mean()) if n else math.nan
    if n < 2:
        return mean, math.nan, math.nan
    half = float(t.ppf(0.975, n - 1) * values.std(ddof=1) / math.sqrt(n))
    return mean, mean - half, mean + half


def group_scores(store: ResultStore, run_id: str, by: str, metrics: Sequence[str] | None = None,
                 min_group: int = MIN_GROUP) -> pd.DataFrame:
    """Per metric and group value: ``n``, mean with its 95 % t-interval, and per metric the gap of the means
    and the Kruskal-Wallis p over the groups with at least ``min_group`` faces (module docstring)."""
    info = store.metric_info()
    rows = {r["sample_id"]: r for r in store.sample_rows(run_id)}
    complete = set(store.sample_ids(run_id, "ok"))
    labelled = [r for r in rows.values() if r["sample_id"] in complete]
    keys = [k.strip() for k in by.split(",") if k.strip()]
    if not keys:
        raise ValueError("--by needs an attribute name (e.g. race, or age_bin,gender for crossed groups)")
    for key in keys:
        if labelled and not any(key in (r.get("attributes") or {}) for r in labelled):
            known = sorted({k for r in labelled for k in (r.get("attributes") or {})})
            raise ValueError(f"run {run_id}: no face is labelled with {key!r}; labelled attributes: "
                             f"{', '.join(known) or 'none'}")

    order: dict[str, tuple] = {"?": (1,)}

    def label(attributes: dict) -> str:
        parts = [group_label(key, attributes.get(key)) for key in keys]
        if "?" in parts:
            return "?"
        name = " ".join(parts)  # ordered by the raw values (age bins by age, not as text)
        order.setdefault(name, (0,) + tuple((0, v, "") if isinstance(v, (int, float)) else (1, 0, str(v))
                                            for v in (attributes.get(key) for key in keys)))
        return name

    group_of = {sid: label(rows[sid].get("attributes") or {}) for sid in complete}
    values: dict[str, dict[str, list[float]]] = {}
    for _, sid, metric, value, _ in store.scores(run_id):
        if sid not in complete or value is None or not math.isfinite(value):
            continue
        base, _, output = metric.partition(".")
        entry = info.get(base, {})
        if entry.get("set_level") or (entry.get("layout") or {}).get("hidden"):
            continue  # audit rows (attr_pred) are not quality results
        if output and key_direction(info, base, output) == "info":
            continue  # informational extra outputs (counts, flat-region shares); ranked ones (identity.fail) stay
        if metrics and metric not in metrics:
            continue
        values.setdefault(metric, {}).setdefault(group_of[sid], []).append(float(value))
    out = []
    for metric in sorted(values):
        by_group = {g: np.asarray(v) for g, v in values[metric].items()}
        tested = {g: v for g, v in by_group.items() if g != "?" and v.size >= min_group}
        test = kruskal_wallis(list(tested.values())) if len(tested) >= 2 else {"p": math.nan}
        means = [v.mean() for v in tested.values()]
        gap = float(max(means) - min(means)) if len(means) >= 2 else math.nan
        for group in sorted(by_group, key=lambda g: order.get(g, (0,))):
            mean, lo, hi = _mean_interval(by_group[group])
            out.append({"metric": metric, "group": group, "n": int(by_group[group].size), "mean": mean, "lo": lo,
                        "hi": hi, "in_test": group in tested, "gap": gap, "kruskal_p": test["p"]})
    frame = pd.DataFrame(out, columns=list(COLUMNS))
    frame.attrs.update({"run_id": run_id, "by": by, "min_group": min_group})
    return frame


def to_text(frame: pd.DataFrame) -> str:
    """The grouped table as Markdown (interval in brackets; ``*`` = group below the minimum size, untested)."""
    lines = [f"Run {frame.attrs.get('run_id', '?')} grouped by {frame.attrs.get('by', '?')}: mean [95 % interval: Student t; Wilson for 0/1 "
             "outputs]; "
             f"gap of the means and Kruskal-Wallis p over the groups with >= {frame.attrs.get('min_group')} faces "
             "(* = below that size: shown, not tested).", "",
             "| metric | group | n | mean [95 % CI] | gap | Kruskal-Wallis p |", "|---|---|---:|---|---:|---:|"]
    for row in frame.itertuples(index=False):
        interval = "–" if math.isnan(row.lo) else f"[{row.lo:.4g}, {row.hi:.4g}]"
        lines.append(f"| {row.metric} | {row.group}{'' if row.in_test else ' *'} | {row.n} | {row.mean:.4g} "
                     f"{interval} | {row.gap:.4g} | {row.kruskal_p:.3g} |")
    return "\n".join(lines)
