"""Correlation studies: metric scores against human judgements, as CSV, Markdown and a seaborn figure.

Reads a human-judgement CSV (``docs/human-judgements-format.md``: IFQA-style ranked packs, or per-image
mean opinion scores), takes the metric scores of the same images from the results store (runs selected
by method, dataset, protocol, seed; joined on sample id and method) or from a scores CSV, orients both
sides so that larger = better (a metric whose declared direction is "lower", e.g. NIQE or BRISQUE, is
negated; a human rank is negated, rank 1 = best) and computes SRCC, KRCC (tau-b) and PLCC per pack and
globally with bootstrap intervals (:mod:`metrics.correlation`).

Outputs in ``out``: ``correlation.csv`` (long form: metric, scope, coefficient, value, lo, hi, counts),
``correlation_per_pack.csv`` (ranking studies), ``correlation.md`` and ``correlation.png``.

The inputs are read by :mod:`leaderboards.judgements` and :mod:`leaderboards.scores`; every problem in an
input file is raised as a ``ValueError`` naming the file and the row (the CSV line number, header = line 1).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from leaderboards.judgements import RANKING, Judgements
from leaderboards.scores import Scores
from metrics.bootstrap import DEFAULT_REPLICATES, DEFAULT_SEED
from metrics.correlation import COEFFICIENTS, correlate as correlate_arrays, orient, result_rows


@dataclass
class CorrelationReport:
    """What :func:`run_study` computed and wrote."""

    table: pd.DataFrame  # long form: one row per metric, scope, coefficient
    per_pack: pd.DataFrame  # ranking studies: one row per metric and pack
    pairs: pd.DataFrame  # the joined (oriented) data: pack, image, method, metric, score, human
    markdown: str
    paths: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def format(self) -> str:
        written = ", ".join(str(p) for p in self.paths.values())
        return self.markdown + (f"\nwrote {written}\n" if written else "")


def join(judgements: Judgements, scores: Scores, *, allow_missing: bool = False) -> tuple[pd.DataFrame, list[str]]:
    """One row per judged image and metric: ``pack_id, image, method, metric, score, human, line``."""
    notes = []
    keys, unknown = [], []
    for row in judgements.frame.to_dict("records"):
        key = scores.resolve(judgements, row)
        if key is None:
            unknown.append(row)
        keys.append(key)
    if unknown and not allow_missing:
        row = unknown[0]
        method = f" of method {row['method']!r}" if row["method"] else ""
        more = f" ({len(unknown)} unknown images in all)" if len(unknown) > 1 else ""
        raise ValueError(f"{judgements.path}, row {row['line']}: unknown image {row['image']!r}{method}: no score in "
                         f"{scores.source}{more}; pass --allow-missing to leave such images out")
    if unknown:
        notes.append(f"{len(unknown)} judged image(s) without scores left out (--allow-missing), first: "
                     f"{unknown[0]['image']!r} at row {unknown[0]['line']}")
    frame = judgements.frame.copy()
    frame["_image_key"] = [k[0] if k else None for k in keys]
    frame["_method_key"] = [k[1] if k else None for k in keys]
    frame = frame[frame["_image_key"].notna()]
    merged = frame.merge(scores.frame.rename(columns={"image": "_image_key", "method": "_method_key"}),
                         on=["_image_key", "_method_key"], how="inner")
    merged = merged.rename(columns={"value": "score"})
    return merged[["pack_id", "image", "method", "metric", "score", "human", "line"]], notes


def run_study(judgements: Judgements, scores: Scores, *, metrics: Sequence[str] | None = None,
              directions: Mapping[str, bool] | None = None, replicates: int = DEFAULT_REPLICATES,
              seed: int = DEFAULT_SEED, level: float = 0.95, allow_missing: bool = False,
              out: str | Path | None = None, figure: bool = True) -> CorrelationReport:
    """Correlate every metric of ``scores`` with ``judgements``; write the outputs to ``out`` (if given)."""
    pairs, notes = join(judgements, scores, allow_missing=allow_missing)
    notes = list(judgements.notes) + notes
    names = list(metrics) if metrics else sorted(set(pairs["metric"]))
    directions = dict(directions or {})
    rows, pack_rows = [], []
    oriented = []
    for metric in names:
        higher = directions.get(metric, scores.higher_is_better.get(metric))
        if higher is None:
            raise ValueError(f"metric {metric!r} has no better direction (an informational output such as a flat-region "
                             f"share, or a metric neither registered nor in the store's metric_info), so a sign for "
                             f"the correlation would be a guess: pass --higher-is-better {metric} or "
                             f"--lower-is-better {metric}")
        part = pairs[pairs["metric"] == metric]
        if part.empty:
            raise ValueError(f"metric {metric!r} has no score for any judged image")
        x = orient(part["score"].to_numpy(np.float64), higher)
        y = part["human"].to_numpy(np.float64)
        missing = int((~np.isfinite(x)).sum())
        if missing:
            notes.append(f"{metric}: {missing} judged image(s) with no finite score (failed metric or error row) "
                         "left out")
        packs = part["pack_id"].to_numpy() if judgements.kind == RANKING else None
        result = correlate_arrays(x, y, packs, replicates=replicates, seed=seed, level=level)
        rows += result_rows(result, metric=metric, higher_is_better=bool(higher), sign=1 if higher else -1)
        if judgements.kind == RANKING:
            from metrics.correlation import per_pack

            table = per_pack(x, y, packs)
            for i, pack in enumerate(table["pack"]):
                pack_rows.append({"metric": metric, "pack_id": pack, "n": int(table["n"][i]),
                                  **{c: float(table[c][i]) for c in COEFFICIENTS}})
        oriented.append(part.assign(oriented_score=x, higher_is_better=bool(higher)))
    table = pd.DataFrame(rows)
    per_pack_frame = pd.DataFrame(pack_rows, columns=["metric", "pack_id", "n", *COEFFICIENTS])
    pairs_frame = pd.concat(oriented, ignore_index=True) if oriented else pairs
    markdown = to_markdown(table, judgements, scores, notes)
    report = CorrelationReport(table, per_pack_frame, pairs_frame, markdown, notes=notes)
    if out is not None:
        report.paths = write_outputs(report, out, figure=figure)
    return report


# -- tables and figure -----------------------------------------------------------------------------------

def _fmt(value: float) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.4f}"


def to_markdown(table: pd.DataFrame, judgements: Judgements, scores: Scores, notes: Sequence[str]) -> str:
    """Markdown: metrics x (scope, coefficient) with the 95 % intervals, a caption and the notes."""
    study = (f"{judgements.kind} study {judgements.path}: {judgements.frame['pack_id'].nunique()} packs, "
             f"{len(judgements.frame)} ranked restorations, {judgements.n_ratings} ratings"
             + (f" by {judgements.n_raters} raters" if judgements.n_raters else "")
             if judgements.kind == RANKING else
             f"MOS study {judgements.path}: {len(judgements.frame)} images")
    parts = ["# Metric vs human judgement correlation", "",
             f"**{study}; scores from {scores.source}.**", ""]
    if table.empty:
        return "\n".join(parts + ["_No metric to correlate._", ""])
    first = table.iloc[0]
    parts += [f"SRCC (Spearman), KRCC (Kendall tau-b, ties handled), PLCC (Pearson); "
              f"{int(first['level'] * 100)} % percentile bootstrap intervals over "
              f"{'packs' if judgements.kind == RANKING else 'images'} ({int(first['replicates'])} replicates, "
              f"seed {int(first['seed'])}). Lower-is-better metrics (↓) are negated "
              + ("and the human rank is negated (rank 1 = best), so positive = agreement with people. Per pack: "
                 "the mean over packs of the coefficient inside each pack (as IFQA); global: over all images "
                 "(per-image mean human rank)." if judgements.kind == RANKING else
                 "and the MOS is taken as larger = better (a DMOS negated), so positive = agreement with people."),
              ""]
    scopes = [s for s in ("per_pack", "global") if s in set(table["scope"])]
    headers = ["Metric", "Images"] + [f"{s.replace('_', '-')} {c.upper()}" for s in scopes for c in COEFFICIENTS]
    if "per_pack" in scopes:
        headers.append("undefined packs")
    parts += ["| " + " | ".join(headers) + " |", "|" + "|".join(["---"] + ["---:"] * (len(headers) - 1)) + "|"]
    for metric, group in table.groupby("metric", sort=False):
        cells = [f"{metric} {'↑' if group.iloc[0]['higher_is_better'] else '↓'}", str(int(group.iloc[0]["n_images"]))]
        for scope in scopes:
            for coefficient in COEFFICIENTS:
                row = group[(group["scope"] == scope) & (group["coefficient"] == coefficient)]
                if row.empty:
                    cells.append("–")
                    continue
                row = row.iloc[0]
                text = _fmt(row["value"])
                if np.isfinite(row["lo"]) and np.isfinite(row["hi"]):
                    text += f" [{_fmt(row['lo'])}, {_fmt(row['hi'])}]"
                cells.append(text)
        if "per_pack" in scopes:
            undefined = group[group["scope"] == "per_pack"]["undefined_packs"]
            cells.append(str(int(undefined.max())) if len(undefined) else "–")
        parts.append("| " + " | ".join(cells) + " |")
    if notes:
        parts += ["", "Notes:", *[f"- {n}" for n in notes]]
    parts.append("")
    return "\n".join(parts)


def plot(table: pd.DataFrame, per_pack: pd.DataFrame, path: str | Path) -> Path:
    """Bars of each coefficient per metric with the bootstrap intervals (one panel per scope) and, for
    ranking studies, the distribution of the per-pack SRCC."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import seaborn as sns

    path = Path(path)
    scopes = [s for s in ("per_pack", "global") if s in set(table["scope"])]
    panels = len(scopes) + (1 if not per_pack.empty else 0)
    metrics = list(dict.fromkeys(table["metric"]))
    sns.set_theme(style="whitegrid", context="notebook")
    fig, axes = plt.subplots(1, panels, figsize=(max(4.5, 1.2 * len(metrics) + 2.5) * panels, 4.2), squeeze=False)
    palette = sns.color_palette("deep", len(COEFFICIENTS))
    for ax, scope in zip(axes[0], scopes):
        part = table[table["scope"] == scope]
        sns.barplot(data=part, x="metric", y="value", hue="coefficient", order=metrics,
                    hue_order=list(COEFFICIENTS), palette=palette, errorbar=None, ax=ax)
        for container, coefficient in zip(ax.containers, COEFFICIENTS):
            for bar, metric in zip(container, metrics):
                row = part[(part["metric"] == metric) & (part["coefficient"] == coefficient)]
                if row.empty or not np.isfinite(row.iloc[0]["lo"]):
                    continue
                centre = bar.get_x() + bar.get_width() / 2
                value, lo, hi = row.iloc[0]["value"], row.iloc[0]["lo"], row.iloc[0]["hi"]
                ax.errorbar([centre], [value], yerr=[[value - lo], [hi - value]], fmt="none", ecolor="black",
                            capsize=3, lw=1)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_ylim(-1.05, 1.05)
        ax.set_title("mean over packs" if scope == "per_pack" else "global (all images)")
        ax.set_xlabel("")
        ax.set_ylabel("correlation with humans (95 % CI)")
        ax.set_xticks(range(len(metrics)))
        ax.set_xticklabels([f"{m} {'↑' if table[table['metric'] == m].iloc[0]['higher_is_better'] else '↓'}"
                            for m in metrics])
    if not per_pack.empty:
        ax = axes[0][-1]
        with warnings.catch_warnings():  # seaborn 0.13 passes matplotlib's deprecated ``vert`` to bxp
            warnings.simplefilter("ignore", DeprecationWarning)
            sns.boxplot(data=per_pack, x="metric", y="srcc", order=metrics, color="lightgrey", fliersize=0, ax=ax)
        sns.stripplot(data=per_pack, x="metric", y="srcc", order=metrics, size=3, alpha=0.6, jitter=0.25, ax=ax)
        ax.set_ylim(-1.05, 1.05)
        ax.set_title("SRCC inside each pack")
        ax.set_xlabel("")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_outputs(report: CorrelationReport, out: str | Path, *, figure: bool = True) -> dict[str, Path]:
    """``correlation.csv``, ``correlation_per_pack.csv`` (ranking), ``correlation.md``, ``correlation.png``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out / "correlation.csv", "markdown": out / "correlation.md"}
    report.table.to_csv(paths["csv"], index=False)
    paths["markdown"].write_text(report.markdown, encoding="utf-8")
    if not report.per_pack.empty:
        paths["per_pack"] = out / "correlation_per_pack.csv"
        report.per_pack.to_csv(paths["per_pack"], index=False)
    if figure and not report.table.empty:
        paths["figure"] = plot(report.table, report.per_pack, out / "correlation.png")
    return paths
