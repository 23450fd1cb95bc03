"""Leaderboard tables from the results store: methods x metrics, one table per comparable setting.

A table is one setting: the same dataset (name, root, options), the same protocol with the same
degradation parameters, the same seed and the same sample order.  Its rows are runs (methods).

Same faces in every row (default)
---------------------------------
Runs of one setting may cover different samples (other ``--limit``, failed images, a run still
running).  A mean over each run's own images would compare different faces: a method that fails on hard
faces would look better, and FID depends on the image count.  So every column of a table is computed on
the *common ids*, the samples every run of the table restored successfully:

* per-image metrics: the mean over the common ids that have a value in every run having the metric;
* set-level metrics (FID, KID, attribute errors...): recomputed exactly on the common ids from the
  per-image vectors in the store (:mod:`bench.harness.set_results`); the stored values are used when they
  already cover exactly those ids.

The caption says how many faces are compared, how many of each run's were left out and why (not in
another run, or failed in another run).  ``common_ids=False`` shows each run on its own ids instead: the
caption then says that the rows are NOT a paired comparison, and nothing is bold.

Directions: every stored output declares its direction (:func:`bench.core.types.output_direction`, stored in
``metric_info.directions``): ``↑`` higher is better, ``↓`` lower is better; informational outputs
(counts, signed shifts, the classifier floor on HQ) have no arrow and are never bold.  Beside the bold
best value, ``≈`` marks the runs NOT significantly different from the best run of the column (paired
two-sided test on the common ids, Holm over the table's comparisons, alpha 0.05): Wilcoxon signed-rank
for per-image metrics, exact McNemar for the attribute error rates; other set-level columns (FID, KID,
MAE...) carry no test (a paired bootstrap of each would recompute them hundreds of times; ``bench
compare`` does it for two runs).  The legend under a table says which columns were tested.  Runs that are
still running or were interrupted are marked in the method cell.  Output: one CSV (all runs, long-form
columns) and one Markdown file.

This module reads the store (read-only) and aggregates stored vectors; it loads no network.
"""
from __future__ import annotations

import fnmatch
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from bench.harness.identity import alignment_label
from bench.harness.store import ResultStore, ids_digest
from leaderboards.compare import key_direction as direction

ARROW = {"higher": "↑", "lower": "↓"}
#: marks of runs that are not complete
STATUS_MARK = {"running": " (running)", "interrupted": " (interrupted)"}


@dataclass(frozen=True)
class TableFilter:
    """Which runs and metrics a leaderboard shows (shell patterns; empty = everything)."""

    datasets: Sequence[str] = ()
    protocols: Sequence[str] = ()
    methods: Sequence[str] = ()
    metrics: Sequence[str] = ()
    #: only these runs (full ids; empty = every run)
    run_ids: Sequence[str] = ()

    @staticmethod
    def _match(value: str, patterns: Sequence[str]) -> bool:
        return not patterns or any(fnmatch.fnmatchcase(str(value), p) for p in patterns)

    def keep_run(self, run: dict[str, Any]) -> bool:
        return (self._match(run["dataset"], self.datasets) and self._match(run["protocol"], self.protocols)
                and self._match(run["method"], self.methods) and (not self.run_ids or run["run_id"] in self.run_ids))

    def keep_metric(self, name: str) -> bool:
        base = name.split(".", 1)[0]
        return self._match(name, self.metrics) or self._match(base, self.metrics)


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    value = float(value)
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if abs(value) >= 100:
        return f"{value:.1f}"
    if abs(value) >= 10:
        return f"{value:.2f}"
    return f"{value:.3f}" if abs(value) >= 1 else f"{value:.4f}"


def _setting_key(run: dict[str, Any]) -> str:
    ident = run["identity"]
    degradation = ident.get("degradation") or {}
    protocol = {k: degradation.get(k) for k in ("name", "pipeline", "version", "options")} if degradation else None
    return json.dumps({"dataset": ident.get("dataset", {}), "protocol": ident.get("protocol"),
                       "degradation": protocol, "seed": ident.get("seed"), "selection": ident.get("selection"),
                       "alignment": alignment_label(ident)},  # faces in another frame: another table
                      sort_keys=True, default=str)


def _method_note(method: dict[str, Any]) -> str:
    """What a reader must know about a method's weights: a "trained here" label or a random-weights warning."""
    if not isinstance(method, dict):
        return ""
    return str(method.get("label") or method.get("warning") or "")


def _column_direction(info: dict[str, dict[str, Any]], column: str) -> str:
    if column in info and not info[column].get("set_level"):
        return direction(info, column)
    metric, _, key = column.partition(".")
    return direction(info, metric, key or "value")


class _Table:
    """The runs of one setting and the values of every column on the ids they are compared on."""

    def __init__(self, store: ResultStore, runs: list[dict[str, Any]], info: dict[str, dict[str, Any]],
                 flt: TableFilter, common_ids: bool) -> None:
        self.store, self.runs, self.info, self.flt, self.common = store, runs, info, flt, common_ids
        self.ok = {r["run_id"]: set(store.sample_ids(r["run_id"], "ok")) for r in runs}
        self.failed = {r["run_id"]: set(store.sample_ids(r["run_id"], "error")) for r in runs}
        self.common_ids = set.intersection(*self.ok.values()) if runs else set()
        self.notes: list[str] = []
        self.recomputed: list[str] = []
        #: run -> per-image metric -> sample id -> value (the significance marks pair them)
        self.values: dict[str, dict[str, dict[str, float | None]]] = {}

    def ids_for(self, run_id: str) -> set[str]:
        return self.common_ids if self.common else self.ok[run_id]

    # -- per-image metrics ----------------------------------------------------------------------
    def per_image(self) -> dict[str, dict[str, dict[str, float]]]:
        """run -> column -> {mean, std, n, n_infinite} on the compared ids."""
        values: dict[str, dict[str, dict[str, float | None]]] = {}
        for r in self.runs:
            per_run: dict[str, dict[str, float | None]] = {}
            for _, sid, metric, value, _ in self.store.scores(r["run_id"]):
                if self.flt.keep_metric(metric) and not self.info.get(metric, {}).get("set_level"):
                    per_run.setdefault(metric, {})[sid] = value
            values[r["run_id"]] = per_run
        self.values = values
        out: dict[str, dict[str, dict[str, float]]] = {r["run_id"]: {} for r in self.runs}
        for metric in sorted({m for v in values.values() for m in v}):
            having = [rid for rid, v in values.items() if metric in v]
            if self.common:
                ids = set(self.common_ids)
                for rid in having:
                    ids &= {sid for sid, val in values[rid][metric].items() if val is not None}
                short = len(self.common_ids) - len(ids)
                if short and "." not in metric:
                    self.notes.append(f"{metric}: on {len(ids)} of the {len(self.common_ids)} faces (no value in "
                                      f"some run for {short}: metric error)")
            for rid in having:
                wanted = ids if self.common else {s for s, v in values[rid][metric].items() if v is not None} & self.ok[rid]
                arr = np.array([values[rid][metric][s] for s in sorted(wanted)], dtype=np.float64)
                finite = arr[np.isfinite(arr)]
                out[rid][metric] = {"mean": float(finite.mean()) if finite.size else math.nan,
                                    "std": float(finite.std(ddof=1)) if finite.size > 1 else math.nan,
                                    "n": int(finite.size), "n_infinite": int(arr.size - finite.size)}
        return out

    # -- set-level metrics ----------------------------------------------------------------------
    def set_level(self) -> dict[str, dict[str, dict[str, float | None]]]:
        """run -> metric -> values, on the compared ids (recomputed from stored vectors when needed)."""
        from bench.harness.set_results import compute_on_ids

        entries = {r["run_id"]: self.store.run_metrics(r["run_id"]) for r in self.runs}
        metrics = sorted({m for e in entries.values() for m in e
                          if self.info.get(m, {}).get("set_level") and self.flt.keep_metric(m)})
        out: dict[str, dict[str, dict[str, float | None]]] = {r["run_id"]: {} for r in self.runs}
        for metric in metrics:
            having = [rid for rid, e in entries.items() if metric in e]
            members = {rid: set(self.store.set_member_ids(rid, metric)) for rid in having}
            configs = {json.dumps(entries[rid][metric]["config"], sort_keys=True, default=str) for rid in having}
            if len(configs) > 1:
                self.notes.append(f"{metric}: computed with different configurations in these runs (options, "
                                  f"weights or version): its values are NOT comparable")
            labels = {str(entries[rid][metric]["config"].get("describe", {}).get("label") or "") for rid in having}
            self.notes.extend(f"{metric}: {label}" for label in sorted(labels - {""}))  # e.g. a classifier trained here
            ids = set.intersection(*(members[rid] & self.common_ids for rid in having)) if self.common else None
            for rid in having:
                wanted = ids if self.common else members[rid]
                if not wanted:
                    continue
                stored = self.store.set_results_digest(rid).get(metric)
                if stored is not None and stored == (ids_digest(wanted), len(wanted)):
                    out[rid][metric] = self.store.set_results(rid).get(metric, {})
                else:
                    out[rid][metric] = compute_on_ids(self.store, rid, metric, sorted(wanted))
                    self.recomputed.append(metric)
        return out

    def caption(self) -> str:
        first = self.runs[0]
        dataset = first["identity"].get("dataset", {})
        name = (f"{first['dataset']} (SYNTHETIC procedurally drawn faces, not real photographs)"
                if first["synthetic"] else first["dataset"])
        options = dataset.get("options") or {}
        opts = (" [" + ", ".join(f"{k}={v}" for k, v in options.items()) + "]") if options else ""
        root = f", root {dataset.get('root')}" if dataset.get("root") else ""
        selection = first["identity"].get("selection") or {}
        order = ("name order (not a random sample)" if selection.get("order") == "first"
                 else f"seeded random order (seed {selection.get('seed')})")
        parts = [f"Dataset: {name}{opts}{root}; protocol: {first['protocol']}; "
                 f"alignment: {alignment_label(first['identity'])}; seed {first['seed']}; samples in {order}."]
        union = set.union(*self.ok.values(), *self.failed.values())
        if self.common:
            parts.append(f"Every column is computed on the {len(self.common_ids)} faces that all {len(self.runs)} "
                         f"run(s) restored" + (f" (of {len(union)} in any run)" if len(union) != len(self.common_ids)
                                               else "") + ".")
            failed_any = set.union(*self.failed.values()) if self.failed else set()
            for r in self.runs:
                left = self.ok[r["run_id"]] - self.common_ids
                if not left:
                    continue
                failed_elsewhere = len(left & failed_any)
                why = []
                if len(left) - failed_elsewhere:
                    why.append(f"{len(left) - failed_elsewhere} not in another run (limits differ or still running)")
                if failed_elsewhere:
                    why.append(f"{failed_elsewhere} failed in another run")
                parts.append(f"{r['method']}: {len(left)} of its {len(self.ok[r['run_id']])} left out "
                             f"({', '.join(why)}).")
        else:
            counts = sorted({len(v) for v in self.ok.values()})
            parts.append("Each run on its own faces (" + ("/".join(str(c) for c in counts)) +
                         "): NOT a paired comparison; set-level values depend on the image count.")
        failed = sum(len(v) for v in self.failed.values())
        if failed:
            parts.append(f"Failed images (all runs): {failed}.")
        versions = sorted({str(r.get("frbench_version")) for r in self.runs})
        if len(versions) > 1:
            parts.append(f"Runs computed by different frbench versions: {', '.join(versions)}.")
        incomplete = [r["method"] for r in self.runs if r["status"] != "complete"]
        if incomplete:
            parts.append(f"Not complete (running or interrupted): {', '.join(incomplete)}; values cover the faces "
                         f"stored so far.")
        return " ".join(parts + [n + "." for n in self.notes])


def _display_columns(frame: pd.DataFrame, info: dict[str, dict[str, Any]], comparable: set[str]) -> list[dict[str, Any]]:
    """The columns of the Markdown table: per-image metric means and the headline set-level values.

    Per-image extra outputs (``niqe.flat_share``), audit metrics (``layout.hidden``) and non-headline
    set-level keys stay in the CSV only.  A column ``c`` with ``c_lo``/``c_hi`` columns is shown with its
    interval.  Count keys (``layout.counts``, shell patterns such as ``ref=*.n``) and informational
    outputs get no arrow and no bold.
    """
    columns: list[dict[str, Any]] = []
    for name, meta in info.items():
        layout = meta.get("layout") or {}
        if layout.get("hidden") or ("." in name and not meta.get("set_level")):
            continue
        if not meta.get("set_level"):
            if name in frame.columns and frame[name].notna().any():
                columns.append({"column": name, "label": name, "direction": direction(info, name),
                                "count": False, "bold": name in comparable})
            continue
        prefix = f"{name}."
        keys = [c[len(prefix):] for c in frame.columns if c.startswith(prefix)] + (["value"] if name in frame else [])
        for key in layout.get("headline") or ["value"]:
            column = name if key in ("value", name) else f"{name}.{key}"
            if column in frame.columns and frame[column].notna().any():
                entry = {"column": column, "label": column, "direction": direction(info, name, key), "count": False,
                         "bold": name in comparable}
                if f"{column}_lo" in frame.columns and f"{column}_hi" in frame.columns:
                    entry["interval"] = (f"{column}_lo", f"{column}_hi")
                columns.append(entry)
        for pattern in layout.get("counts") or []:
            for key in keys:
                column = f"{name}.{key}"
                if fnmatch.fnmatch(key, pattern) and column in frame.columns and frame[column].notna().any():
                    columns.append({"column": column, "label": column, "direction": "info", "count": True,
                                    "bold": False})
    return columns


def build_tables(store_path: str | Path, flt: TableFilter | None = None,
                 common_ids: bool = True) -> list[dict[str, Any]]:
    """The leaderboard as a list of tables: ``{"caption", "frame", "display", "info", "notes", "set_values"}``."""
    flt = flt or TableFilter()
    tables = []
    with ResultStore(store_path, readonly=True) as store:
        info = store.metric_info()
        runs = [r for r in store.runs() if flt.keep_run(r)]
        groups: dict[str, list[dict[str, Any]]] = {}
        for run in runs:
            groups.setdefault(_setting_key(run), []).append(run)
        for setting_runs in groups.values():
            setting_runs.sort(key=lambda r: (r["method"], r["created"]))
            table = _Table(store, setting_runs, info, flt, common_ids)
            per_image, set_values = table.per_image(), table.set_level()
            names = [r["method"] for r in setting_runs]
            rows = []
            for r in setting_runs:
                rid = r["run_id"]
                label = r["method"] if names.count(r["method"]) == 1 else f"{r['method']} [{rid[:8]}]"
                row: dict[str, Any] = {
                    "method": label + STATUS_MARK.get(r["status"], ""), "run_id": rid, "status": r["status"],
                    "frbench_version": r.get("frbench_version"), "dataset": r["dataset"],
                    "dataset_root": (r["identity"].get("dataset") or {}).get("root"),
                    "dataset_options": json.dumps((r["identity"].get("dataset") or {}).get("options", {}),
                                                  sort_keys=True),
                    "synthetic": bool(r["synthetic"]), "protocol": r["protocol"], "seed": r["seed"],
                    "compared_on": "common ids" if common_ids else "own ids",
                    "images": len(table.ids_for(rid)), "failed": len(table.failed[rid]),
                    "method_note": _method_note(r["identity"].get("method", {})),
                }
                for metric, stats in per_image[rid].items():
                    row[metric], row[f"{metric}_std"], row[f"{metric}_n"] = stats["mean"], stats["std"], stats["n"]
                for metric, values in set_values[rid].items():
                    for key, value in values.items():
                        row[metric if key in ("value", metric) else f"{metric}.{key}"] = value
                rows.append(row)
            frame = pd.DataFrame(rows)
            shown_info = {k: v for k, v in info.items() if flt.keep_metric(k)}
            if len(names) != len(set(names)):
                table.notes.append("several runs of one method (another frbench version, weights or options): "
                                   "each is labelled with its run id")
            comparable = {m for m in shown_info if common_ids and not any(
                n.startswith(f"{m}: computed with different") for n in table.notes)}
            display = _display_columns(frame, shown_info, comparable)
            ties, legend = _significance(table, frame, display) if common_ids and len(rows) > 1 else ({}, "")
            notes = {row["method"]: row["method_note"] for row in rows if row["method_note"]}
            tables.append({"caption": table.caption(), "frame": frame, "display": display, "info": shown_info,
                           "notes": notes, "ties": ties, "legend": legend, "metrics": [d["column"] for d in display],
                           "set_values": {r["run_id"]: set_values[r["run_id"]] for r in setting_runs},
                           "runs": setting_runs, "compared_ids": {r["run_id"]: sorted(table.ids_for(r["run_id"]))
                                                                  for r in setting_runs}})
    return tables


def _significance(table: _Table, frame: pd.DataFrame, display: list[dict[str, Any]]) -> tuple[dict[str, set], str]:
    """The rows not significantly different from the best of each column, and the legend saying how.

    Against the (first) best row of a column, on the table's common ids: Wilcoxon signed-rank on paired
    per-image values; exact McNemar on the per-image "wrong" outcomes of the attribute error rates
    (:mod:`leaderboards.compare`); Holm over every test of the table; not significant = ``p_holm > ALPHA``
    (or no non-zero difference at all).  Other set-level values (FID, KID, MAE...) get no test here: a
    paired bootstrap recomputes them hundreds of times (``bench compare`` does it for two runs).
    """
    from leaderboards.compare import ALPHA, ATTR_ERROR_KEYS, attribute_wrong, is_attribute_metric, ties_with_best

    ids = sorted(table.common_ids)
    run_ids = list(frame["run_id"])
    tests: dict[str, dict[int, tuple[str, np.ndarray, np.ndarray]]] = {}
    kinds: dict[str, list[str]] = {"wilcoxon": [], "mcnemar": [], "none": []}
    wrong: dict[tuple, dict[str, np.ndarray]] = {}
    for d in display:
        column = d["column"]
        if d["direction"] not in ARROW or not d["bold"] or d["count"]:
            continue
        best = _best_index(frame[column], d["direction"] == "higher")
        if not best:
            continue
        ref = run_ids[min(best)]
        metric, _, key = column.partition(".")
        if not key and not table.info.get(metric, {}).get("set_level"):
            kind = "wilcoxon"
            per_run = {rid: {s: v for s, v in table.values.get(rid, {}).get(metric, {}).items() if v is not None}
                       for rid in run_ids}
        elif key in ATTR_ERROR_KEYS and all(is_attribute_metric(table.store.run_metrics(rid).get(metric, {}))
                                            for rid in run_ids if pd.notna(frame.at[run_ids.index(rid), column])):
            kind = "mcnemar"
            having = [rid for rid in run_ids if pd.notna(frame.at[run_ids.index(rid), column])]
            members = set(ids).intersection(*(table.store.set_member_ids(rid, metric) for rid in having))
            order = sorted(members)
            for rid in having:  # one read of a run's prediction vectors serves its four error columns
                if (rid, metric, tuple(order)) not in wrong:
                    wrong[(rid, metric, tuple(order))] = attribute_wrong(table.store, rid, metric, order)
            per_run = {rid: dict(zip(order, wrong[(rid, metric, tuple(order))][key])) for rid in having}
        else:
            kinds["none"].append(column)
            continue
        kinds[kind].append(column)
        tests[column] = {}
        for i, rid in enumerate(run_ids):
            if i in best or pd.isna(frame.at[i, column]) or rid not in per_run:
                continue
            pairs = [s for s in ids if s in per_run[ref] and s in per_run[rid]
                     and math.isfinite(per_run[ref][s]) and math.isfinite(per_run[rid][s])]
            tests[column][i] = (kind, np.array([per_run[ref][s] for s in pairs]),
                                np.array([per_run[rid][s] for s in pairs]))
    adjusted = ties_with_best(tests)
    ties = {c: {i for i, p in rows.items() if not p <= ALPHA} for c, rows in adjusted.items()}
    n_tests = sum(len(rows) for rows in adjusted.values())
    if not n_tests:
        return ties, ""
    parts = [f"Bold: the best value of a column; ≈: not significantly different from the best (two-sided paired "
             f"test against the best run on the {len(ids)} common faces, Holm-corrected over the {n_tests} "
             f"comparisons of this table, alpha = {ALPHA})"]
    if kinds["wilcoxon"]:
        parts.append(f"Wilcoxon signed-rank test on per-image values for {', '.join(kinds['wilcoxon'])}")
    if kinds["mcnemar"]:
        parts.append(f"exact McNemar test on per-image errors for {', '.join(kinds['mcnemar'])}")
    if kinds["none"]:
        parts.append(f"no test for {', '.join(kinds['none'])} (set-level values: bold = best value only; "
                     f"`bench compare` tests two runs with a paired bootstrap)")
    return ties, "; ".join(parts) + "."


def _best_index(series: pd.Series, higher: bool) -> set[int]:
    values = pd.to_numeric(series, errors="coerce")
    finite = values[values.apply(lambda v: v is not None and math.isfinite(v))]
    if finite.empty:
        return set()
    best = finite.max() if higher else finite.min()
    return set(finite.index[finite == best])


def to_markdown(tables: list[dict[str, Any]]) -> str:
    """Markdown: per table a caption line, then methods x metrics with arrows, the best in bold and ``≈`` on the
    rows not significantly different from it (:func:`_significance`; the legend under the table says which
    test each column carries)."""
    parts = ["# Leaderboard", ""]
    if not tables:
        parts.append("_The store holds no runs (matching the filters) yet: run `bench run` first._")
    for table in tables:
        frame, display = table["frame"], table["display"]
        headers = ["Method", "Images", "Failed"] + [
            f"{d['label']} {ARROW[d['direction']]}" if d["direction"] in ARROW else d["label"] for d in display]
        best = {d["column"]: (_best_index(frame[d["column"]], d["direction"] == "higher")
                              if d["direction"] in ARROW and d["bold"] else set()) for d in display}
        parts += [f"**{table['caption']}**", "", "| " + " | ".join(headers) + " |",
                  "|" + "|".join(["---"] + ["---:"] * (len(headers) - 1)) + "|"]
        for i, row in frame.iterrows():
            cells = [str(row["method"]), str(int(row["images"])), str(int(row["failed"]))]
            for d in display:
                value = row[d["column"]]
                text = _fmt(int(value) if d["count"] and pd.notna(value) and float(value).is_integer() else value)
                if i in best[d["column"]] and len(frame) > 1:
                    text = f"**{text}**"
                elif i in table.get("ties", {}).get(d["column"], ()):
                    text = f"{text} ≈"
                if "interval" in d:
                    lo, hi = (row[c] for c in d["interval"])
                    if pd.notna(lo) and pd.notna(hi):
                        text += f" [{_fmt(lo)}, {_fmt(hi)}]"
                cells.append(text)
            parts.append("| " + " | ".join(cells) + " |")
        if table.get("legend"):
            parts.append(f"\n_{table['legend']}_")
        for method, note in table.get("notes", {}).items():
            parts.append(f"\n_{method}: {note}._")
        parts.append("")
    return "\n".join(parts)


def write_leaderboard(store_path: str | Path, out_dir: str | Path, flt: TableFilter | None = None,
                      common_ids: bool = True) -> dict[str, Path]:
    """Write ``leaderboard.csv`` (one row per run and table), ``leaderboard.md`` and ``metric_directions.json``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = build_tables(store_path, flt, common_ids)
    csv_path, md_path = out_dir / "leaderboard.csv", out_dir / "leaderboard.md"
    frames = [t["frame"] for t in tables]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    frame.to_csv(csv_path, index=False)
    if not frame.empty:
        info = tables[0]["info"]
        directions = {c: _column_direction(info, c) for c in frame.columns
                      if (c in info or c.split(".", 1)[0] in info) and not c.endswith(("_lo", "_hi", "_std", "_n"))}
        (out_dir / "metric_directions.json").write_text(json.dumps(directions, indent=2, sort_keys=True))
    md_path.write_text(to_markdown(tables), encoding="utf-8")
    paths = {"csv": csv_path, "markdown": md_path}
    from leaderboards.attributes import write_attribute_leaderboard

    attributes = write_attribute_leaderboard(tables, out_dir)
    if attributes is not None:
        paths["attributes"] = attributes
    return paths
