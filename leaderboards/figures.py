"""Report figures (seaborn), each saved as PNG + SVG with a tidy CSV of exactly the numbers plotted.

All values are those of the leaderboard tables (:func:`leaderboards.tables.build_tables`): each setting's
runs on the faces they all restored.

* ``attr_vs_resolution``: attribute error rates of the ``attr`` family (``gender_err``, ``age_err`` vs the
  HQ prediction, ``gender_err_label``, ``age_err_label`` vs the labels) against the up-scaling factor ``s``
  of the protocol (``x4`` ... ``x32``, ``debiasfr-x16``: the number after the last ``x``; a protocol without
  one is left out), one line per method, band = the stored 95 % bootstrap interval.  Each point is
  computed on the common faces of ITS setting (the faces may differ between factors: the CSV has ``faces``).
* ``quality_vs_bias``: per run, a quality value (FID, else clean-FID, else mean PSNR) against ``gender_err``.
* ``group_heatmap``: per run, the gender error vs HQ per label group (age bin x gender): ``num/den`` of the
  run's stored prediction vectors on the compared faces (:func:`metrics.attribute_counts.group_table`, the
  attr metric's own per-group statistics, with the metric's stored ``min_group`` and replicates).
* ``flips``: per run, from the stored per-image predictions on the compared faces with a face found on the
  restored image and a prediction on the HQ: ``male→female`` = #(HQ male, restored female) / #(HQ male),
  ``female→male`` likewise (these equal the metric's ``gender_m2f`` / ``gender_f2m``), ``older`` / ``younger`` =
  share of faces whose restored age bin is above / below the HQ's.

A figure without data is skipped: :func:`write_figures` returns a note saying why, never an error.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.harness.store import ResultStore
from leaderboards.paper_table import row_label

ERROR_KEYS = ("gender_err", "age_err", "gender_err_label", "age_err_label")
QUALITY = ("fid", "fid_clean", "psnr")
FIGURES = ("attr_vs_resolution", "quality_vs_bias", "group_heatmap", "flips")


def protocol_scale(protocol: str) -> int | None:
    """The up-scaling factor of a protocol name (``x8`` -> 8, ``debiasfr-x16`` -> 16), else ``None``."""
    match = re.search(r"(?:^|[-_])x(\d+)$", str(protocol))
    return int(match.group(1)) if match else None


def _attr_runs(tables: list[dict[str, Any]]):
    """(table, run, row label, attribute metric, values) of every run with an attr-family result."""
    for table in tables:
        for i, run in enumerate(table["runs"]):
            for metric, values in table["set_values"].get(run["run_id"], {}).items():
                if "gender_err" in values:
                    yield table, run, row_label(str(table["frame"].at[i, "method"])), metric, values


def resolution_data(tables: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for table, run, label, metric, values in _attr_runs(tables):
        scale = protocol_scale(run["protocol"])
        if scale is None:
            continue
        for key in ERROR_KEYS:
            if values.get(key) is not None and math.isfinite(values[key]):
                rows.append({"dataset": run["dataset"], "evaluator": metric, "method": label,
                             "protocol": run["protocol"], "scale": scale, "key": key, "value": values[key],
                             "lo": values.get(f"{key}_lo"), "hi": values.get(f"{key}_hi"),
                             "faces": len(table["compared_ids"][run["run_id"]])})
    return pd.DataFrame(rows, columns=["dataset", "evaluator", "method", "protocol", "scale", "key", "value", "lo",
                                       "hi", "faces"])


def quality_bias_data(tables: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for table, run, label, metric, values in _attr_runs(tables):
        frame = table["frame"]
        i = list(frame["run_id"]).index(run["run_id"])
        quality = next((q for q in QUALITY if q in frame.columns and pd.notna(frame.at[i, q])), None)
        if quality is None or values.get("gender_err") is None:
            continue
        rows.append({"dataset": run["dataset"], "protocol": run["protocol"], "method": label, "evaluator": metric,
                     "quality_metric": quality, "quality": float(frame.at[i, quality]), "bias_metric": "gender_err",
                     "bias": values["gender_err"], "bias_lo": values.get("gender_err_lo"),
                     "bias_hi": values.get("gender_err_hi"), "faces": len(table["compared_ids"][run["run_id"]])})
    return pd.DataFrame(rows, columns=["dataset", "protocol", "method", "evaluator", "quality_metric", "quality",
                                       "bias_metric", "bias", "bias_lo", "bias_hi", "faces"])


def _compared_attr_runs(store: ResultStore, tables: list[dict[str, Any]]):
    """(run, row label, attribute metric, run id, compared ids with stored predictions) of every attr run."""
    for table, run, label, metric, _ in _attr_runs(tables):
        rid = run["run_id"]
        ids = sorted(set(table["compared_ids"][rid]) & set(store.set_member_ids(rid, metric)))
        if ids:
            yield run, label, metric, rid, ids


def group_data(store: ResultStore, tables: list[dict[str, Any]]) -> pd.DataFrame:
    from bench.harness.set_results import merged_state
    from metrics.attribute_counts import group_table

    rows = []
    for run, label, metric, rid, ids in _compared_attr_runs(store, tables):
        instance, state = merged_state(store, rid, metric, ids)
        replicates, min_group = getattr(instance, "replicates", 1000), getattr(instance, "min_group", 30)
        for g in group_table(state, replicates=replicates, min_group=min_group):
            age, _, gender = g["group"].rpartition("/")
            rows.append({"dataset": run["dataset"], "protocol": run["protocol"], "method": label, "evaluator": metric,
                         "grouped_by": g["grouped_by"], "age_bin": age, "gender": gender, "n": g["n"],
                         "gender_err": g.get("gender_err"), "gender_err_lo": g.get("gender_err_lo"),
                         "gender_err_hi": g.get("gender_err_hi"), "age_err": g.get("age_err"),
                         "faces": len(ids)})
    return pd.DataFrame(rows, columns=["dataset", "protocol", "method", "evaluator", "grouped_by", "age_bin", "gender",
                                       "n", "gender_err", "gender_err_lo", "gender_err_hi", "age_err", "faces"])


def flip_data(store: ResultStore, tables: list[dict[str, Any]]) -> pd.DataFrame:
    from leaderboards.export import stored_predictions

    rows = []
    for run, label, metric, rid, ids in _compared_attr_runs(store, tables):
        p = stored_predictions(store, rid, metric, ids)
        found = p["restored.status"] != 1
        rg, hg, ra, ha = p["restored.gender"], p["hq.gender"], p["restored.age_bin"], p["hq.age_bin"]
        ages = found & ra.notna() & ha.notna()
        counts = {"male→female": ((hg == 1) & found & rg.notna(), rg == 0),
                  "female→male": ((hg == 0) & found & rg.notna(), rg == 1),
                  "older": (ages, ra > ha), "younger": (ages, ra < ha)}
        for direction, (den, num) in counts.items():
            d, n = int(den.sum()), int((den & num).sum())
            rows.append({"dataset": run["dataset"], "protocol": run["protocol"], "method": label, "evaluator": metric,
                         "direction": direction, "count": n, "denominator": d, "share": n / d if d else math.nan,
                         "faces": len(ids)})
    return pd.DataFrame(rows, columns=["dataset", "protocol", "method", "evaluator", "direction", "count",
                                       "denominator", "share", "faces"])


# -- drawing ------------------------------------------------------------------------------------------

def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="paper")
    return plt, sns


def _save(fig, out: Path, name: str, data: pd.DataFrame) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"png": out / f"{name}.png", "svg": out / f"{name}.svg", "csv": out / f"{name}.csv"}
    fig.savefig(paths["png"], dpi=110, bbox_inches="tight")
    fig.savefig(paths["svg"], bbox_inches="tight")
    data.to_csv(paths["csv"], index=False)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return paths


def draw_resolution(data: pd.DataFrame, out: Path) -> dict[str, Path]:
    plt, sns = _plt()
    panels = [(d, e) for d, e in data[["dataset", "evaluator"]].drop_duplicates().itertuples(index=False)]
    keys = [k for k in ERROR_KEYS if k in set(data["key"])]
    fig, axes = plt.subplots(len(panels), len(keys), figsize=(3.2 * len(keys), 2.8 * len(panels)), squeeze=False)
    palette = dict(zip(sorted(set(data["method"])), sns.color_palette(n_colors=len(set(data["method"])))))
    for r, (dataset, evaluator) in enumerate(panels):
        for c, key in enumerate(keys):
            ax = axes[r][c]
            part = data[(data["dataset"] == dataset) & (data["evaluator"] == evaluator) & (data["key"] == key)]
            for method, m in part.sort_values("scale").groupby("method"):
                ok = m["lo"].notna() & m["hi"].notna()
                ax.fill_between(m["scale"][ok], m["lo"][ok].astype(float), m["hi"][ok].astype(float),
                                color=palette[method], alpha=0.2, linewidth=0)
            sns.lineplot(data=part, x="scale", y="value", hue="method", palette=palette, marker="o", ax=ax,
                         legend=(r == 0 and c == len(keys) - 1), errorbar=None)
            ax.set_xscale("log", base=2)
            scales = sorted(set(part["scale"]))
            ax.set_xticks(scales, [f"x{s}" for s in scales])
            ax.set_title(f"{dataset} · {evaluator} · {key}", fontsize=8)
            ax.set_xlabel("up-scaling factor")
            ax.set_ylabel("error rate (share)")
    fig.tight_layout()
    return _save(fig, out, "attr_vs_resolution", data)


def draw_quality_bias(data: pd.DataFrame, out: Path) -> dict[str, Path]:
    plt, sns = _plt()
    panels = list(data["quality_metric"].drop_duplicates())
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    for ax, quality in zip(axes[0], panels):
        part = data[data["quality_metric"] == quality]
        ok = part["bias_lo"].notna() & part["bias_hi"].notna()
        ax.errorbar(part["quality"][ok], part["bias"][ok],
                    yerr=[part["bias"][ok] - part["bias_lo"][ok].astype(float),
                          part["bias_hi"][ok].astype(float) - part["bias"][ok]],
                    fmt="none", ecolor="0.6", elinewidth=0.8, zorder=1)
        sns.scatterplot(data=part, x="quality", y="bias", hue="method", style="protocol", s=60, ax=ax, zorder=2)
        ax.set_xlabel(f"{quality} ({'lower' if quality.startswith('fid') else 'higher'} is better)")
        ax.set_ylabel("gender error vs HQ (share)")
    fig.tight_layout()
    return _save(fig, out, "quality_vs_bias", data)


def draw_heatmap(data: pd.DataFrame, out: Path, max_panels: int = 12) -> dict[str, Path]:
    plt, sns = _plt()
    from bench.core.types import AGE_BIN_LABELS

    panels = data[["dataset", "protocol", "method", "evaluator"]].drop_duplicates().head(max_panels)
    ncols = min(4, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.6 * ncols, 3.6 * nrows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, (dataset, protocol, method, evaluator) in zip(axes.flat, panels.itertuples(index=False)):
        part = data[(data["dataset"] == dataset) & (data["protocol"] == protocol) & (data["method"] == method)
                    & (data["evaluator"] == evaluator)]
        grid = part.pivot_table(index="age_bin", columns="gender", values="gender_err", aggfunc="first")
        grid = grid.reindex([b for b in AGE_BIN_LABELS if b in grid.index])
        sns.heatmap(grid.astype(float), vmin=0, vmax=1, cmap="rocket_r", annot=True, fmt=".2f", cbar=False, ax=ax,
                    annot_kws={"fontsize": 7})
        ax.grid(False)
        ax.set_title(f"{method} · {dataset} {protocol}", fontsize=8)
        ax.set_xlabel("gender (label)")
        ax.set_ylabel("age bin (label)")
    fig.suptitle("gender error vs HQ per group", fontsize=9)
    fig.tight_layout()
    return _save(fig, out, "group_heatmap", data)


def draw_flips(data: pd.DataFrame, out: Path) -> dict[str, Path]:
    plt, sns = _plt()
    plot = data.assign(setting=data["dataset"] + " " + data["protocol"], kind=np.where(
        data["direction"].isin(["older", "younger"]), "age bin", "gender"))
    grid = sns.catplot(data=plot, x="method", y="share", hue="direction", col="setting", row="kind", kind="bar",
                       height=2.8, aspect=1.2, sharey=False)
    grid.set_axis_labels("", "share of faces")
    return _save(grid.figure, out, "flips", data)


def write_figures(store: ResultStore, tables: list[dict[str, Any]], out: str | Path) -> tuple[dict[str, dict[str, Path]], list[str]]:
    """Draw every figure whose data exist into ``out``; ``(name -> {png, svg, csv}, notes on skipped figures)``."""
    out = Path(out)
    written: dict[str, dict[str, Path]] = {}
    notes: list[str] = []
    resolution = resolution_data(tables)
    multi = resolution.groupby(["dataset", "evaluator", "method"])["scale"].nunique().max() if len(resolution) else 0
    if multi and multi >= 2:
        written["attr_vs_resolution"] = draw_resolution(resolution, out)
    else:
        notes.append("attr_vs_resolution: skipped (needs attr results of one method at two or more protocols "
                     "x4/x8/x16/x32 of one dataset)")
    quality = quality_bias_data(tables)
    if len(quality):
        written["quality_vs_bias"] = draw_quality_bias(quality, out)
    else:
        notes.append("quality_vs_bias: skipped (needs runs with attr and one of fid, fid_clean, psnr)")
    groups = group_data(store, tables)
    if len(groups) and groups["gender_err"].notna().any():
        written["group_heatmap"] = draw_heatmap(groups, out)
    else:
        notes.append("group_heatmap: skipped (no attr per-group results in the selected runs)")
    flips = flip_data(store, tables)
    if len(flips) and (flips["denominator"] > 0).any():
        written["flips"] = draw_flips(flips, out)
    else:
        notes.append("flips: skipped (no stored per-image attr predictions with an HQ prediction)")
    return written, notes
