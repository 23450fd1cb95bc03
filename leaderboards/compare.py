"""Paired significance between two runs of one setting: the same faces, restored by both methods.

:func:`compare_runs` compares run A with run B on the sample ids BOTH restored (``ok``), one row per
tested quantity, with a Holm correction over the rows of the comparison (:mod:`metrics.paired_tests` has
the maths of every test):

* **per-image metrics** (PSNR, SSIM, NIQE, ...): Wilcoxon signed-rank test on the paired per-image values
  ``d_i = a_i - b_i`` (pairs with a missing or infinite value in either run are left out; ``n`` says how many
  are used).  Rank-based, so robust to the heavy tails of per-image PSNR; it tests a shift of the paired
  differences, the reported ``difference`` is the difference of the means.
* **attribute error rates** of the ``attr`` family (``gender_err``, ``age_err`` against the HQ prediction,
  ``gender_err_label``, ``age_err_label`` against the dataset label): per image, "the restored prediction
  is wrong" is a paired 0/1 outcome, recomputed from the stored prediction vectors exactly as the set-level
  metric counts it (an image without a prediction is left out of that error); exact McNemar test on the
  discordant counts ``b`` (A wrong, B right) and ``c`` (A right, B wrong).
* **other set-level values** (FID, KID, age MAE, fairness discrepancy...): paired bootstrap over the ids,
  each replicate recomputing BOTH runs' values on the same resampled ids from the stored per-image vectors
  (:func:`bench.harness.set_results.compute_on_ids`).  Default :data:`REPLICATES` = 200, small because every
  replicate recomputes the metric (FID: an Inception-moment fold and a 2048 x 2048 matrix square root per
  run and replicate); the p-value's resolution is ``1/(R+1)``.  Resampling WITH replacement duplicates
  images (a replicate has ~63 % distinct faces), which biases FID/KID of a replicate upward; the bias is
  shared by both arms of the paired difference (same resampled faces), and the point estimate is
  computed on all common ids.  We keep the ordinary (n-out-of-n) bootstrap rather than a subsample
  bootstrap, whose interval would need a rate rescaling that FID does not have in closed form.  The
  attribute metric's own internal bootstrap is switched off in the replicates (only its point values are
  used).

Two runs are compared only when they are of the same setting (dataset name, root and options; protocol
and degradation; seed) and have common ids; otherwise :func:`compare_runs` raises ``ValueError``.
"""
from __future__ import annotations

import fnmatch
import json
import math
from types import SimpleNamespace
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from bench.core.types import output_direction
from bench.harness.store import ResultStore
from metrics.attribute_error import PREDICTION_VECTOR
from metrics.paired_tests import (
    BOOTSTRAP_SEED,
    discordant,
    holm,
    mcnemar_exact,
    paired_bootstrap,
    wilcoxon_signed_rank,
)

#: default bootstrap replicates of set-level values (each replicate recomputes the metric for both runs)
REPLICATES = 200
#: attribute error rates tested per image with McNemar (definitions: :mod:`metrics.attribute_error`)
ATTR_ERROR_KEYS = ("gender_err", "age_err", "gender_err_label", "age_err_label")
ALPHA = 0.05
COLUMNS = ["metric", "direction", "a", "b", "difference", "lo", "hi", "test", "p", "p_holm", "n"]


def setting(run: Mapping[str, Any]) -> dict[str, Any]:
    """What must be equal for two runs to restore the same LQ faces: dataset, protocol, degradation, seed."""
    ident = run["identity"]
    degradation = ident.get("degradation") or {}
    dataset = ident.get("dataset") or {}
    return {"dataset": {k: dataset.get(k) for k in ("name", "root", "options")} if isinstance(dataset, dict)
            else dataset, "protocol": ident.get("protocol"),
            "degradation": {k: degradation.get(k) for k in ("name", "pipeline", "version", "options")}
            if isinstance(degradation, dict) else degradation, "seed": ident.get("seed")}


def key_direction(info: Mapping[str, Mapping[str, Any]], metric: str, key: str = "value") -> str:
    """``higher`` / ``lower`` / ``info`` of output ``key`` of ``metric`` from the store's ``metric_info``."""
    meta = info.get(metric)
    if meta is None:
        return "info"
    declared = SimpleNamespace(name=metric, higher_is_better=meta["higher_is_better"],
                               outputs=meta.get("directions") or {})
    return output_direction(declared, key)


def is_attribute_metric(entry: Mapping[str, Any]) -> bool:
    """A set-level metric of the ``attr`` family: it stores restored and HQ prediction vectors."""
    suffix = "/" + ",".join(PREDICTION_VECTOR)
    channels = entry.get("channels") or {}
    return "restored" in channels and all(str(ch).endswith(suffix) for _, ch in channels.values())


def attribute_wrong(store: ResultStore, run_id: str, metric: str, ids: Sequence[str]) -> dict[str, np.ndarray]:
    """Per image of ``ids``: 1.0 where the restored prediction is wrong, 0.0 right, NaN undefined, per key of
    :data:`ATTR_ERROR_KEYS` (the masks of :func:`metrics.attribute_counts._error_masks`, per image): a restored
    image where no face was found counts as wrong, as in the headline error rates; an unknown target
    (no HQ prediction, no label) is undefined."""
    channels = store.run_metrics(run_id)[metric]["channels"]
    columns = {name: [] for name in ("rg", "ra", "hg", "ha", "lg", "la", "noface")}
    for rows, vectors in store.iter_set_inputs(run_id, list(ids), channels):
        restored = np.asarray(vectors["restored"], np.float64).reshape(-1, len(PREDICTION_VECTOR))
        hq = (np.asarray(vectors["hq"], np.float64).reshape(-1, len(PREDICTION_VECTOR)) if "hq" in vectors
              else np.full_like(restored, -1.0))
        columns["ra"].append(restored[:, 1]), columns["rg"].append(restored[:, 2])
        columns["noface"].append((restored[:, 4] == 1).astype(np.float64))  # status 1: no face found
        columns["ha"].append(hq[:, 1]), columns["hg"].append(hq[:, 2])
        for name, key in (("la", "age_bin"), ("lg", "gender")):
            columns[name].append(np.array([-1.0 if row["attributes"].get(key) is None else
                                           float(row["attributes"][key]) for row in rows]))
    c = {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in columns.items()}
    noface = c.pop("noface") > 0
    c = {k: np.where(np.isfinite(v) & (v >= 0), v, np.nan) for k, v in c.items()}

    def wrong(x, y):
        """As the headline rates: a restored image without a face is wrong wherever the target is known."""
        found = np.where(np.isfinite(x) & np.isfinite(y), (x != y).astype(np.float64), np.nan)
        return np.where(noface & np.isfinite(y), 1.0, found)

    return {"gender_err": wrong(c["rg"], c["hg"]), "age_err": wrong(c["ra"], c["ha"]),
            "gender_err_label": wrong(c["rg"], c["lg"]), "age_err_label": wrong(c["ra"], c["la"])}


def per_image_values(store: ResultStore, run_id: str) -> dict[str, dict[str, float]]:
    """metric -> sample id -> value (None kept out) of a run's per-image scores."""
    out: dict[str, dict[str, float]] = {}
    for _, sid, metric, value, _ in store.scores(run_id):
        if value is not None:
            out.setdefault(metric, {})[sid] = float(value)
    return out


def paired_values(x: Mapping[str, float], y: Mapping[str, float], ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The values of ``ids`` finite in both mappings, as two aligned arrays."""
    keep = [s for s in ids if s in x and s in y and math.isfinite(x[s]) and math.isfinite(y[s])]
    return np.array([x[s] for s in keep], np.float64), np.array([y[s] for s in keep], np.float64)


def wilcoxon_p(a: np.ndarray, b: np.ndarray) -> float:
    """Wilcoxon signed-rank p of paired values (NaN without a pair or without a non-zero difference)."""
    return wilcoxon_signed_rank(a, b).pvalue if len(a) else math.nan


def mcnemar_p(wrong_a: np.ndarray, wrong_b: np.ndarray) -> float:
    """Exact McNemar p of paired 0/1 vectors (NaN without a defined pair)."""
    b, c, n = discordant(wrong_a, wrong_b)
    return mcnemar_exact(b, c) if n else math.nan


def _wanted(metric: str, patterns: Sequence[str] | None) -> bool:
    return not patterns or any(fnmatch.fnmatchcase(metric, p) or fnmatch.fnmatchcase(metric.split(".", 1)[0], p)
                               for p in patterns)


def _row(metric, direction, a, b, test, p, n, lo=math.nan, hi=math.nan) -> dict[str, Any]:
    return {"metric": metric, "direction": direction, "a": a, "b": b, "difference": a - b, "lo": lo, "hi": hi,
            "test": test, "p": p, "n": int(n)}


def _set_level_keys(info: Mapping[str, Any], metric: str, values: Mapping[str, Any] | None,
                    attribute: bool) -> list[str]:
    """The keys of a set-level metric to bootstrap: its headline keys (else every key of ``values``) that
    rank methods, minus the attribute error rates (tested per image with McNemar)."""
    layout = (info.get(metric) or {}).get("layout") or {}
    keys = list(layout.get("headline") or [k for k in (values or {}) if not k.endswith(("_lo", "_hi"))])
    keys = [k for k in keys if (values is None or k in values)
            and key_direction(info, metric, k) in ("higher", "lower")]
    return [k for k in keys if not (attribute and k in ATTR_ERROR_KEYS)]


def compare_runs(store: ResultStore | str, run_a: str, run_b: str, metrics: Sequence[str] | None = None,
                 replicates: int = REPLICATES, seed: int = BOOTSTRAP_SEED) -> pd.DataFrame:
    """Paired tests of run A against run B on the ids both restored (module docstring).

    Returns a DataFrame with the columns :data:`COLUMNS` (``difference = a - b``; ``lo``/``hi``: the
    bootstrap 95 % interval of the difference, set-level rows only; ``p_holm``: Holm over the rows;
    ``direction``: ``higher``/``lower`` is better).  ``frame.attrs`` holds ``run_a``, ``run_b``,
    ``n_common`` and ``notes``.  ``metrics``: shell patterns of the metrics to test (default: all).
    """
    if not isinstance(store, ResultStore):
        with ResultStore(store, readonly=True) as db:
            return compare_runs(db, run_a, run_b, metrics, replicates, seed)
    runs = {r["run_id"]: r for r in store.runs()}
    for rid in (run_a, run_b):
        if rid not in runs:
            raise KeyError(f"no run {rid!r} in {store.path}")
    if run_a == run_b:
        raise ValueError(f"run {run_a} is compared with itself: give two different runs")
    sa, sb = setting(runs[run_a]), setting(runs[run_b])
    if sa != sb:
        diff = [k for k in sa if sa[k] != sb[k]]
        what = "; ".join(f"{k}: {json.dumps(sa[k], default=str)} vs {json.dumps(sb[k], default=str)}" for k in diff)
        raise ValueError(f"runs {run_a[:12]} and {run_b[:12]} are not of the same setting ({what}); a paired "
                         f"comparison needs the same degraded faces")
    ids = sorted(set(store.sample_ids(run_a, "ok")) & set(store.sample_ids(run_b, "ok")))
    if not ids:
        raise ValueError(f"runs {run_a[:12]} and {run_b[:12]} have no sample id that both restored: nothing to compare")
    info = store.metric_info()
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    # per-image metrics: Wilcoxon signed-rank on paired values
    va, vb = per_image_values(store, run_a), per_image_values(store, run_b)
    for metric in sorted(set(va) & set(vb)):
        meta = info.get(metric, {})
        direction = key_direction(info, metric)
        if meta.get("set_level") or "." in metric or direction == "info" or not _wanted(metric, metrics):
            continue
        a, b = paired_values(va[metric], vb[metric], ids)
        if not len(a):
            notes.append(f"{metric}: no face has a finite value in both runs")
            continue
        result = wilcoxon_signed_rank(a, b)
        rows.append(_row(metric, direction, float(a.mean()), float(b.mean()), f"Wilcoxon signed-rank ({result.method})",
                         result.pvalue, len(a)))
    # set-level metrics: McNemar for attribute error rates, paired bootstrap for the other values
    entries_a, entries_b = store.run_metrics(run_a), store.run_metrics(run_b)
    for metric in sorted(set(entries_a) & set(entries_b)):
        if not info.get(metric, {}).get("set_level") or not _wanted(metric, metrics):
            continue
        if json.dumps(entries_a[metric]["config"], sort_keys=True, default=str) != json.dumps(
                entries_b[metric]["config"], sort_keys=True, default=str):
            notes.append(f"{metric}: computed with different configurations in the two runs: not compared")
            continue
        members = sorted(set(ids) & set(store.set_member_ids(run_a, metric)) & set(store.set_member_ids(run_b, metric)))
        if not members:
            notes.append(f"{metric}: no common face has its vectors in both runs")
            continue
        attribute = is_attribute_metric(entries_a[metric])
        if attribute:
            rows += _attribute_rows(store, run_a, run_b, metric, members, info)
        rows += _bootstrap_rows(store, run_a, run_b, metric, members, info, attribute, replicates, seed, notes)
    frame = pd.DataFrame(rows, columns=[c for c in COLUMNS if c != "p_holm"])
    frame.insert(len(frame.columns) - 1, "p_holm", holm(frame["p"].to_numpy(np.float64)) if len(frame) else [])
    frame.attrs.update({"run_a": run_a, "run_b": run_b, "n_common": len(ids), "notes": notes,
                        "method_a": runs[run_a]["method"], "method_b": runs[run_b]["method"]})
    return frame


def _attribute_rows(store, run_a, run_b, metric, ids, info) -> list[dict[str, Any]]:
    wrong_a, wrong_b = attribute_wrong(store, run_a, metric, ids), attribute_wrong(store, run_b, metric, ids)
    rows = []
    for key in ATTR_ERROR_KEYS:
        b, c, n = discordant(wrong_a[key], wrong_b[key])
        if not n:
            continue
        both = np.isfinite(wrong_a[key]) & np.isfinite(wrong_b[key])
        rows.append(_row(f"{metric}.{key}", key_direction(info, metric, key), float(wrong_a[key][both].mean()),
                         float(wrong_b[key][both].mean()), f"exact McNemar (only A wrong {b}, only B wrong {c})",
                         mcnemar_exact(b, c), n))
    return rows


def _bootstrap_rows(store, run_a, run_b, metric, ids, info, attribute, replicates, seed, notes) -> list[dict[str, Any]]:
    from bench.harness.set_results import aggregator, compute_on_ids

    def statistic(run_id):
        instance, _ = aggregator(store, run_id, metric)
        if hasattr(instance, "replicates"):
            instance.replicates = 0  # the metric's own intervals are not used in a replicate
        sink: list[str] = []
        return lambda chosen: compute_on_ids(store, run_id, metric, chosen, instance=instance, warnings_out=sink)

    headline = ((info.get(metric) or {}).get("layout") or {}).get("headline")
    if headline and not _set_level_keys(info, metric, None, attribute):
        return []
    stat_a, stat_b = statistic(run_a), statistic(run_b)
    keys = _set_level_keys(info, metric, stat_a(ids), attribute)
    if not keys:
        return []
    if replicates <= 0:
        notes.append(f"{metric}: no bootstrap (replicates = 0): values only")
    results = paired_bootstrap(lambda s: {k: v for k, v in stat_a(s).items() if k in keys},
                               lambda s: {k: v for k, v in stat_b(s).items() if k in keys},
                               ids, replicates=max(0, int(replicates)), seed=seed)
    if not isinstance(results, dict):
        results = {keys[0]: results}
    rows = []
    for key in keys:
        if key not in results:
            continue
        r = results[key]
        name = metric if key in ("value", metric) else f"{metric}.{key}"
        rows.append(_row(name, key_direction(info, metric, key), r.a, r.b,
                         f"paired bootstrap ({r.replicates} replicates)", r.pvalue, len(ids), r.lo, r.hi))
    return rows


def to_text(frame: pd.DataFrame) -> str:
    """The comparison as a Markdown table with a header line (runs, common faces) and the notes."""
    attrs = frame.attrs
    head = (f"{attrs.get('method_a', 'A')} [{str(attrs.get('run_a', ''))[:12]}] (A) vs {attrs.get('method_b', 'B')} "
            f"[{str(attrs.get('run_b', ''))[:12]}] (B) on the {attrs.get('n_common', '?')} faces both restored; "
            f"difference = A - B; p two-sided; p_holm: Holm over the {int(frame['p'].notna().sum())} tests "
            f"(significant at {ALPHA}: *).")
    lines = [head, "", "| metric | better | A | B | A - B | 95 % CI | test | p | p_holm | n |",
             "|---|---|---:|---:|---:|---:|---|---:|---:|---:|"]
    arrows = {"higher": "↑", "lower": "↓"}
    for r in frame.itertuples(index=False):
        ci = f"[{r.lo:.4g}, {r.hi:.4g}]" if math.isfinite(r.lo) and math.isfinite(r.hi) else "–"
        star = " *" if math.isfinite(r.p_holm) and r.p_holm <= ALPHA else ""
        lines.append(f"| {r.metric} | {arrows.get(r.direction, '')} | {r.a:.4g} | {r.b:.4g} | {r.difference:+.4g} | "
                     f"{ci} | {r.test} | {r.p:.3g} | {r.p_holm:.3g}{star} | {r.n} |")
    if frame.empty:
        lines.append("| (no metric both runs have) | | | | | | | | | |")
    lines += [f"\n_{n}._" for n in attrs.get("notes", [])]
    return "\n".join(lines)


def ties_with_best(tests: Mapping[str, Mapping[Any, tuple[str, np.ndarray, np.ndarray]]],
                   ) -> dict[str, dict[Any, float]]:
    """Holm-adjusted p of every row against the best row of its column, Holm over ALL tests given (one table).

    ``tests``: column -> row -> ``(kind, values of the best row, values of this row)`` with ``kind``
    ``"wilcoxon"`` (paired per-image values) or ``"mcnemar"`` (paired 0/1 "wrong" vectors).  A NaN p
    (no pair, or no non-zero difference: the rows are identical there) stays NaN.
    """
    flat = [(column, row, kind, x, y) for column, rows in tests.items() for row, (kind, x, y) in rows.items()]
    raw = [wilcoxon_p(x, y) if kind == "wilcoxon" else mcnemar_p(x, y) for _, _, kind, x, y in flat]
    adjusted = holm(raw)
    out: dict[str, dict[Any, float]] = {column: {} for column in tests}
    for (column, row, *_), p in zip(flat, adjusted):
        out[column][row] = float(p)
    return out
