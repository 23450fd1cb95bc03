"""Leaderboard tables from the results store: methods x metrics, one table per dataset and protocol.

Each table is one comparable setting: the same dataset (name, root, options) and the same protocol
(degradation, seed).  Rows are methods; columns are the mean of every per-image metric over the images
that succeeded, the set-level metrics, and the image counts.  Column headers carry an arrow for the
better direction (``↑`` higher is better, ``↓`` lower is better); the best value of each column is in
bold in Markdown.  The caption names the dataset (marked SYNTHETIC when it is), the protocol, the
seed and the image count.  Output: one CSV (all runs, long-form columns) and one Markdown file.

This module reads the store only: it imports no network and no metric code.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from bench.store import ResultStore

ARROW = {True: "↑", False: "↓"}


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return str(value)
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
    dataset = ident.get("dataset", {})
    return json.dumps({"dataset": dataset, "protocol": ident.get("protocol"), "seed": ident.get("seed")},
                      sort_keys=True)


def _method_note(method: dict[str, Any]) -> str:
    """What a reader must know about a method's weights: a "trained here" label or a random-weights warning."""
    if not isinstance(method, dict):
        return ""
    return str(method.get("label") or method.get("warning") or "")


def collect(store_path: str | Path) -> tuple[pd.DataFrame, dict[str, dict[str, Any]]]:
    """One row per run: setting columns, counts and one column per metric (per-image means, set values)."""
    with ResultStore(store_path) as store:
        runs = store.runs()
        info = store.metric_info()
        rows = []
        for run in runs:
            dataset = run["identity"].get("dataset", {})
            row: dict[str, Any] = {
                "setting": _setting_key(run),
                "dataset": run["dataset"],
                "dataset_root": dataset.get("root"),
                "dataset_options": json.dumps(dataset.get("options", {}), sort_keys=True),
                "synthetic": bool(run["synthetic"]),
                "protocol": run["protocol"],
                "seed": run["seed"],
                "method": run["method"],
                "method_note": _method_note(run["identity"].get("method", {})),
                "run_id": run["run_id"],
                "status": run["status"],
                "images": run["n_ok"],
                "failed": run["n_error"],
            }
            for metric, stats in store.metric_summary(run["run_id"]).items():
                row[metric] = stats["mean"]
                row[f"{metric}_std"] = stats["std"]
                row[f"{metric}_n"] = stats["n"]
            for metric, values in store.set_results(run["run_id"]).items():
                for key, value in values.items():
                    column = metric if key in ("value", metric) else f"{metric}.{key}"
                    row[column] = value
            rows.append(row)
    return pd.DataFrame(rows), info


def _display_columns(frame: pd.DataFrame, info: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The columns of the Markdown table: per-image metric means and the headline set-level values.

    Per-image extra outputs (``niqe.flat_share``), audit metrics (``layout.hidden``) and non-headline
    set-level keys stay in the CSV only.  A column ``c`` with ``c_lo``/``c_hi`` columns is shown with its
    interval.  Count keys (``layout.counts``, shell patterns such as ``ref=*.n``) get no arrow.
    """
    import fnmatch

    columns: list[dict[str, Any]] = []
    for name, meta in info.items():
        layout = meta.get("layout") or {}
        if layout.get("hidden") or name not in info or "." in name and not meta.get("set_level"):
            continue
        if not meta.get("set_level"):
            if name in frame.columns and frame[name].notna().any():
                columns.append({"column": name, "label": name, "higher": meta["higher_is_better"], "count": False})
            continue
        prefix = f"{name}."
        keys = [c[len(prefix):] for c in frame.columns if c.startswith(prefix)] + (["value"] if name in frame else [])
        for key in layout.get("headline") or ["value"]:
            column = name if key in ("value", name) else f"{name}.{key}"
            if column in frame.columns and frame[column].notna().any():
                entry = {"column": column, "label": column, "higher": meta["higher_is_better"], "count": False}
                if f"{column}_lo" in frame.columns and f"{column}_hi" in frame.columns:
                    entry["interval"] = (f"{column}_lo", f"{column}_hi")
                columns.append(entry)
        for pattern in layout.get("counts") or []:
            for key in keys:
                column = f"{name}.{key}"
                if fnmatch.fnmatch(key, pattern) and column in frame.columns and frame[column].notna().any():
                    columns.append({"column": column, "label": column, "higher": None, "count": True})
    return columns


def build_tables(store_path: str | Path) -> list[dict[str, Any]]:
    """The leaderboard as a list of tables: ``{"caption", "frame", "metrics", "info"}`` per setting."""
    frame, info = collect(store_path)
    if frame.empty:
        return []
    tables = []
    for setting, group in frame.groupby("setting", sort=False):
        display = _display_columns(group, info)
        metrics = [d["column"] for d in display]
        extra = sorted({c for d in display for c in d.get("interval", ())})
        first = group.iloc[0]
        n_images = sorted(set(int(n) for n in group["images"]))
        count = str(n_images[0]) if len(n_images) == 1 else f"{n_images[0]}–{n_images[-1]} (differs by method)"
        failed = int(group["failed"].sum())
        dataset = f"{first['dataset']} (SYNTHETIC procedurally drawn faces, not real photographs)" \
            if first["synthetic"] else first["dataset"]
        options = json.loads(first["dataset_options"])
        opts = (" [" + ", ".join(f"{k}={v}" for k, v in options.items()) + "]") if options else ""
        root = f", root {first['dataset_root']}" if first["dataset_root"] else ""
        caption = (f"Dataset: {dataset}{opts}{root}; protocol: {first['protocol']}; seed {first['seed']}; "
                   f"images per method: {count}; failed images (all methods): {failed}.")
        table = group[["method", "images", "failed", *metrics, *[c for c in extra if c not in metrics]]]
        notes = {m: n for m, n in zip(group["method"], group["method_note"]) if n}
        tables.append({"caption": caption, "frame": table.reset_index(drop=True), "metrics": metrics,
                       "display": display, "info": info, "notes": notes})
    return tables


def _best_index(series: pd.Series, higher: bool) -> set[int]:
    values = pd.to_numeric(series, errors="coerce")
    finite = values[values.apply(lambda v: v is not None and math.isfinite(v))]
    if finite.empty:
        return set()
    best = finite.max() if higher else finite.min()
    return set(finite.index[finite == best])


def to_markdown(tables: list[dict[str, Any]]) -> str:
    """Markdown: per table a caption line, then methods x metrics with arrows and the best in bold."""
    parts = ["# Leaderboard", ""]
    if not tables:
        parts.append("_The store holds no runs yet: run `bench run` first._")
    for table in tables:
        frame, display = table["frame"], table["display"]
        headers = ["Method", "Images", "Failed"] + [
            d["label"] if d["count"] else f"{d['label']} {ARROW[d['higher']]}" for d in display]
        best = {d["column"]: (set() if d["count"] else _best_index(frame[d["column"]], d["higher"])) for d in display}
        parts += [f"**{table['caption']}**", "", "| " + " | ".join(headers) + " |",
                  "|" + "|".join(["---"] + ["---:"] * (len(headers) - 1)) + "|"]
        for i, row in frame.iterrows():
            cells = [str(row["method"]), str(int(row["images"])), str(int(row["failed"]))]
            for d in display:
                value = row[d["column"]]
                text = _fmt(int(value) if d["count"] and pd.notna(value) and float(value).is_integer() else value)
                if i in best[d["column"]] and len(frame) > 1:
                    text = f"**{text}**"
                if "interval" in d:
                    lo, hi = (row[c] for c in d["interval"])
                    if pd.notna(lo) and pd.notna(hi):
                        text += f" [{_fmt(lo)}, {_fmt(hi)}]"
                cells.append(text)
            parts.append("| " + " | ".join(cells) + " |")
        for method, note in table.get("notes", {}).items():
            parts.append(f"\n_{method}: {note}._")
        parts.append("")
    return "\n".join(parts)


def write_leaderboard(store_path: str | Path, out_dir: str | Path) -> dict[str, Path]:
    """Write ``leaderboard.csv`` (one row per run) and ``leaderboard.md``; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frame, info = collect(store_path)
    csv_path, md_path = out_dir / "leaderboard.csv", out_dir / "leaderboard.md"
    if not frame.empty:
        directions = {}
        for column in frame.columns:
            metric = column if column in info else column.split(".", 1)[0]
            if metric in info and not column.endswith(("_lo", "_hi", "_std", "_n")):
                directions[column] = "higher" if info[metric]["higher_is_better"] else "lower"
        frame = frame.drop(columns=["setting"])
        frame.to_csv(csv_path, index=False)
        (out_dir / "metric_directions.json").write_text(json.dumps(directions, indent=2, sort_keys=True))
    else:
        pd.DataFrame().to_csv(csv_path, index=False)
    md_path.write_text(to_markdown(build_tables(store_path)), encoding="utf-8")
    paths = {"csv": csv_path, "markdown": md_path}
    from .attributes import write_attribute_leaderboard

    attributes = write_attribute_leaderboard(store_path, out_dir)
    if attributes is not None:
        paths["attributes"] = attributes
    return paths
