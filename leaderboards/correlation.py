"""Correlation studies: metric scores against human judgements, as CSV, Markdown and a seaborn figure.

Reads a human-judgement CSV (``docs/human-judgements-format.md``: IFQA-style ranked packs, or per-image
mean opinion scores), takes the metric scores of the same images from the results store (runs selected
by method, dataset, protocol, seed; joined on sample id and method) or from a scores CSV, orients both
sides so that larger = better (a metric whose declared direction is "lower", e.g. NIQE or BRISQUE, is
negated; a human rank is negated, rank 1 = best) and computes SRCC, KRCC (tau-b) and PLCC per pack and
globally with bootstrap intervals (:mod:`metrics.correlation`).

Outputs in ``out``: ``correlation.csv`` (long form: metric, scope, coefficient, value, lo, hi, counts),
``correlation_per_pack.csv`` (ranking studies), ``correlation.md`` and ``correlation.png``.

Every problem in an input file is raised as a ``ValueError`` naming the file and the row (the CSV line
number, header = line 1).
"""
from __future__ import annotations

import csv
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from metrics.bootstrap import DEFAULT_REPLICATES, DEFAULT_SEED
from metrics.correlation import COEFFICIENTS, correlate as correlate_arrays, orient, result_rows

RANKING, MOS = "ranking", "mos"
LQ_ROLES = {"lq", "input", "reference"}
FORMAT_DOC = "docs/human-judgements-format.md"


# -- reading CSV files ----------------------------------------------------------------------------------------

def _read_csv(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header (lower-cased, stripped) and ``(line number, row)`` pairs; blank lines skipped."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise ValueError(f"{path}: the file is empty (expected a header line; see {FORMAT_DOC})") from None
        names = [h.strip().lower() for h in header]
        duplicated = sorted({n for n in names if names.count(n) > 1 and n})
        if duplicated:
            raise ValueError(f"{path}, row 1: duplicated column(s) {', '.join(duplicated)}")
        rows = []
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) > len(names):
                raise ValueError(f"{path}, row {line}: {len(values)} fields for {len(names)} columns")
            values = values + [""] * (len(names) - len(values))
            rows.append((line, {n: v.strip() for n, v in zip(names, values) if n}))
    return names, rows


def _number(path: Path, line: int, column: str, text: str, *, required: bool = True) -> float:
    if text == "":
        if required:
            raise ValueError(f"{path}, row {line}: column '{column}' is empty")
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{path}, row {line}: column '{column}' is not a number: {text!r}") from None
    if required and not math.isfinite(value):
        raise ValueError(f"{path}, row {line}: column '{column}' is not finite: {text!r}")
    return value


def _image_column(path: Path, names: Sequence[str], what: str) -> str:
    for candidate in ("image_id", "path"):
        if candidate in names:
            return candidate
    raise ValueError(f"{path}, row 1 (header): missing column image_id (or path) — {what}; found columns "
                     f"{', '.join(n for n in names if n) or '(none)'}; see {FORMAT_DOC}")


@dataclass
class Judgements:
    """Human judgements aggregated per image: ``frame`` has one row per (pack, image, method).

    Columns: ``pack_id`` (ranking; else the image key), ``image`` (image id or path), ``method`` ("" when
    the file has none), ``human`` (oriented: larger = better), ``mean_rank`` or ``mos``, ``n_ratings``,
    ``line`` (first CSV line of the image).
    """

    path: Path
    kind: str
    image_column: str
    has_method: bool
    frame: pd.DataFrame
    n_raters: int = 0
    n_ratings: int = 0
    n_lq_rows: int = 0
    notes: list[str] = field(default_factory=list)


def read_judgements(path: str | Path, kind: str = "auto", *, mos_higher_is_better: bool = True) -> Judgements:
    """Read and validate a human-judgement CSV (ranking packs or MOS, ``kind='auto'`` detects it)."""
    path = Path(path)
    names, rows = _read_csv(path)
    if kind == "auto":
        has_rank, has_mos = "rank" in names, "mos" in names
        if has_rank and has_mos:
            raise ValueError(f"{path}: has both 'rank' and 'mos' columns; pass the format explicitly "
                             f"(--format ranking|mos)")
        if not (has_rank or has_mos):
            raise ValueError(f"{path}, row 1 (header): missing column 'rank' (ranking packs: pack_id, image_id, "
                             f"method, rank[, rater]) or 'mos' (mean opinion scores: image_id, mos[, std, n]); "
                             f"found columns {', '.join(n for n in names if n) or '(none)'}; see {FORMAT_DOC}")
        kind = RANKING if has_rank else MOS
    if kind not in (RANKING, MOS):
        raise ValueError(f"unknown judgement format {kind!r}: expected 'ranking', 'mos' or 'auto'")
    if not rows:
        raise ValueError(f"{path}: no data rows after the header")
    image_col = _image_column(path, names, "the image each judgement is about")
    has_method = "method" in names
    if kind == RANKING:
        return _read_ranking(path, names, rows, image_col, has_method)
    return _read_mos(path, names, rows, image_col, has_method, mos_higher_is_better)


def _read_ranking(path: Path, names: list[str], rows, image_col: str, has_method: bool) -> Judgements:
    missing = [c for c in ("pack_id", "rank") if c not in names]
    if missing:
        raise ValueError(f"{path}, row 1 (header): missing column(s) {', '.join(missing)} (ranking format: "
                         f"pack_id, image_id or path, method, rank[, rater, role]); see {FORMAT_DOC}")
    has_rater = "rater" in names
    seen: dict[tuple, int] = {}
    records = []
    n_lq = 0
    for line, row in rows:
        role = row.get("role", "").lower()
        if role in LQ_ROLES:
            n_lq += 1
            continue
        if role not in ("", "restored", "restoration", "output"):
            raise ValueError(f"{path}, row {line}: unknown role {row['role']!r} (expected 'lq' or 'restored')")
        pack, image = row["pack_id"], row[image_col]
        method = row.get("method", "")
        if not pack:
            raise ValueError(f"{path}, row {line}: column 'pack_id' is empty")
        if not image:
            raise ValueError(f"{path}, row {line}: column '{image_col}' is empty")
        if has_method and not method:
            raise ValueError(f"{path}, row {line}: column 'method' is empty (the LQ row of a pack needs role=lq)")
        rank = _number(path, line, "rank", row["rank"])
        if rank < 1:
            raise ValueError(f"{path}, row {line}: rank {row['rank']!r} < 1 (rank 1 = best)")
        rater = row.get("rater", "") if has_rater else ""
        key = (pack, image, method, rater)
        if key in seen:
            who = f" by rater {rater!r}" if has_rater else ""
            raise ValueError(f"{path}, row {line}: image {image!r} of method {method!r} in pack {pack!r} is ranked "
                             f"twice{who} (first at row {seen[key]})")
        seen[key] = line
        records.append({"pack_id": pack, "image": image, "method": method, "rater": rater, "rank": rank,
                        "line": line})
    if not records:
        raise ValueError(f"{path}: no ranked restorations (only LQ rows?)")
    raw = pd.DataFrame.from_records(records)
    grouped = raw.groupby(["pack_id", "image", "method"], sort=False)
    frame = grouped.agg(mean_rank=("rank", "mean"), n_ratings=("rank", "size"), line=("line", "min")).reset_index()
    frame["human"] = orient(frame["mean_rank"].to_numpy(), higher_is_better=False)
    sizes = frame.groupby("pack_id", sort=False)["image"].transform("size")
    notes = []
    small = frame.loc[sizes < 2, "pack_id"].unique()
    if len(small):
        notes.append(f"{len(small)} pack(s) with fewer than two ranked restorations (no per-pack coefficient): "
                     + ", ".join(map(str, small[:5])) + (" ..." if len(small) > 5 else ""))
    return Judgements(path, RANKING, image_col, has_method, frame,
                      n_raters=int(raw["rater"].nunique()) if has_rater else 0,
                      n_ratings=int(len(raw)), n_lq_rows=n_lq, notes=notes)


def _read_mos(path: Path, names, rows, image_col: str, has_method: bool, higher_is_better: bool) -> Judgements:
    seen: dict[tuple, int] = {}
    records = []
    for line, row in rows:
        image, method = row[image_col], row.get("method", "")
        if not image:
            raise ValueError(f"{path}, row {line}: column '{image_col}' is empty")
        if has_method and not method:
            raise ValueError(f"{path}, row {line}: column 'method' is empty")
        key = (image, method)
        if key in seen:
            raise ValueError(f"{path}, row {line}: image {image!r} of method {method!r} has a second MOS "
                             f"(first at row {seen[key]}); give one row per image")
        seen[key] = line
        mos = _number(path, line, "mos", row["mos"])
        std = _number(path, line, "std", row.get("std", ""), required=False)
        n = _number(path, line, "n", row.get("n", ""), required=False)
        records.append({"pack_id": image if not method else f"{method}/{image}", "image": image, "method": method,
                        "mos": mos, "std": std, "n_ratings": n, "line": line})
    frame = pd.DataFrame.from_records(records)
    frame["human"] = orient(frame["mos"].to_numpy(), higher_is_better=higher_is_better)
    n_total = frame["n_ratings"].sum() if frame["n_ratings"].notna().all() else 0
    return Judgements(path, MOS, image_col, has_method, frame, n_ratings=int(n_total))


# -- metric scores ---------------------------------------------------------------------------------------

@dataclass
class Scores:
    """Per-image metric scores: ``frame`` columns ``image``, ``method``, ``metric``, ``value`` (+ ``origin``),
    plus the direction of every metric and a way to find an image of a judgement."""

    frame: pd.DataFrame
    higher_is_better: dict[str, bool]
    source: str
    resolve: Any = None  # callable (judgement row) -> (image key, method key) or raises


def registry_direction(metric: str) -> bool | None:
    """``higher_is_better`` of a registered metric's output (``niqe`` or an extra such as ``ifqa.eyes``), from
    the metric's own declaration (:func:`bench.core.types.output_direction`); ``None`` when the output is
    informational (``niqe.flat_share``: no better direction) or the metric is unknown."""
    from bench.core.registry import METRICS
    from bench.core.types import output_direction

    base, _, key = metric.partition(".")
    if base not in METRICS:
        return None
    try:
        obj = METRICS.get(base)
        if not hasattr(obj, "higher_is_better"):  # a factory (psnr_y, attr_ffhq): its product declares
            obj = obj()
    except Exception:  # pragma: no cover - a broken plug-in
        return None
    direction = output_direction(obj, key or "value")
    return {"higher": True, "lower": False}.get(direction)


def read_scores_csv(path: str | Path, metrics: Sequence[str] | None = None) -> Scores:
    """Scores from a CSV: ``image_id`` (or ``path``), optional ``method``, then either one numeric column per
    metric (wide) or ``metric`` and ``value`` columns (long)."""
    path = Path(path)
    names, rows = _read_csv(path)
    image_col = _image_column(path, names, "the image each score is about")
    long_form = "metric" in names and "value" in names
    fixed = {image_col, "method", "image_id", "path", "pack_id", "role", "rater", "rank", "mos", "std", "n"}
    metric_columns = [] if long_form else [n for n in names if n and n not in fixed]
    if not long_form and not metric_columns:
        raise ValueError(f"{path}, row 1 (header): no metric columns (wide form: image_id[, method], one column "
                         f"per metric; long form: image_id[, method], metric, value); see {FORMAT_DOC}")
    records, seen = [], {}
    for line, row in rows:
        image, method = row[image_col], row.get("method", "")
        if not image:
            raise ValueError(f"{path}, row {line}: column '{image_col}' is empty")
        items = [(row["metric"], row["value"])] if long_form else [(m, row[m]) for m in metric_columns]
        for metric, text in items:
            if not metric:
                raise ValueError(f"{path}, row {line}: column 'metric' is empty")
            key = (image, method, metric)
            if key in seen:
                raise ValueError(f"{path}, row {line}: second score of {metric} for image {image!r} "
                                 f"method {method!r} (first at row {seen[key]})")
            seen[key] = line
            records.append({"image": image, "method": method, "metric": metric,
                            "value": _number(path, line, metric, text, required=False)})
    frame = pd.DataFrame.from_records(records)
    if metrics:
        unknown = [m for m in metrics if m not in set(frame["metric"])]
        if unknown:
            raise ValueError(f"{path}: no scores of metric(s) {', '.join(unknown)} "
                             f"(has {', '.join(sorted(set(frame['metric'])))})")
        frame = frame[frame["metric"].isin(list(metrics))]
    has_method = "method" in names
    index = set(zip(frame["image"], frame["method"]))

    checked: set[int] = set()

    def resolve(judgements: Judgements, row: Mapping[str, Any]) -> tuple[str, str] | None:
        method = row["method"] if has_method else ""
        if id(judgements) not in checked:
            checked.add(id(judgements))
            if has_method and not judgements.has_method:
                raise ValueError(f"{judgements.path}: has no 'method' column but the scores file {path} has one: "
                                 "add the method of every judged image")
            if not has_method and judgements.frame.duplicated(["image"]).any():
                first = judgements.frame[judgements.frame.duplicated(["image"])].iloc[0]
                raise ValueError(f"{judgements.path}, row {first['line']}: image {first['image']!r} is judged more "
                                 f"than once (several methods) but the scores file {path} has no 'method' column")
        key = (row["image"], method)
        return key if key in index else None

    directions = {m: registry_direction(m) for m in sorted(set(frame["metric"]))}
    return Scores(frame, directions, f"scores CSV {path}", resolve)


def _select_runs(runs: list[dict], *, methods, dataset, protocol, seed, run_ids) -> list[dict]:
    chosen = []
    for run in runs:
        if run_ids and run["run_id"] not in run_ids:
            continue
        if methods and run["method"] not in methods and f"{run['method']}@{run['protocol']}" not in methods:
            continue
        if dataset and run["dataset"] != dataset:
            continue
        if protocol and run["protocol"] != protocol:
            continue
        if seed is not None and int(run["seed"]) != int(seed):
            continue
        chosen.append(run)
    return chosen


def _describe(run: Mapping[str, Any]) -> str:
    return f"{run['run_id']} ({run['method']}@{run['protocol']} on {run['dataset']}, seed {run['seed']})"


def store_scores(store_path: str | Path, *, metrics: Sequence[str] | None = None,
                 methods: Sequence[str] | None = None, dataset: str | None = None, protocol: str | None = None,
                 seed: int | None = None, runs: Sequence[str] | None = None) -> Scores:
    """Per-image scores of the selected runs of a results store, keyed by (sample id, run)."""
    from bench.harness.store import ResultStore

    store_path = Path(store_path)
    if not store_path.exists():
        raise FileNotFoundError(f"no results store at {store_path}: run `bench run` first (or pass --store "
                                "or --scores)")
    with ResultStore(store_path, readonly=True) as store:
        every = store.runs()
        selected = _select_runs(every, methods=methods, dataset=dataset, protocol=protocol, seed=seed,
                                run_ids=set(runs or ()))
        if not selected:
            listing = "; ".join(_describe(r) for r in every) or "(none)"
            raise ValueError(f"no run of store {store_path} matches the selection (methods={list(methods or [])}, "
                             f"dataset={dataset}, protocol={protocol}, seed={seed}, runs={list(runs or [])}); "
                             f"runs in the store: {listing}")
        info = store.metric_info()
        records, paths = [], {}
        for run in selected:
            for row in store.sample_rows(run["run_id"]):
                for key in ("restored_path", "source"):
                    if row.get(key):
                        paths.setdefault(run["run_id"], {})[str(Path(row[key]).resolve())] = row["sample_id"]
                        paths[run["run_id"]].setdefault(Path(row[key]).name, row["sample_id"])
                paths.setdefault(run["run_id"], {}).setdefault(row["sample_id"], row["sample_id"])
            for _, sample_id, metric, value, _error in store.scores(run["run_id"]):
                records.append({"image": sample_id, "method": run["run_id"], "metric": metric,
                                "value": math.nan if value is None else float(value)})
    frame = pd.DataFrame.from_records(records, columns=["image", "method", "metric", "value"])
    per_image = [m for m, i in info.items() if not i.get("set_level")]
    if metrics:
        unknown = [m for m in metrics if m not in set(frame["metric"])]
        if unknown:
            raise ValueError(f"the selected runs of {store_path} have no per-image scores of {', '.join(unknown)} "
                             f"(they have {', '.join(sorted(set(frame['metric']))) or 'none'})")
        frame = frame[frame["metric"].isin(list(metrics))]
    else:  # every per-image headline metric (no extras such as niqe.flat_share, no hidden audit values)
        keep = [m for m in per_image if "." not in m and not (info[m].get("layout") or {}).get("hidden")]
        frame = frame[frame["metric"].isin(keep)]
    from leaderboards.tables import direction

    directions = {m: {"higher": True, "lower": False}.get(direction(info, m)) for m in sorted(set(frame["metric"]))
                  if m in info}
    by_run = {r["run_id"]: r for r in selected}
    labels: dict[str, list[str]] = {}
    for run in selected:
        for label in {run["run_id"], run["method"], f"{run['method']}@{run['protocol']}"}:
            labels.setdefault(label, []).append(run["run_id"])
    index = set(zip(frame["image"], frame["method"]))

    def resolve(judgements: Judgements, row: Mapping[str, Any]) -> tuple[str, str] | None:
        where = f"{judgements.path}, row {row['line']}"
        if judgements.has_method:
            candidates = labels.get(row["method"], [])
            if not candidates:
                raise ValueError(f"{where}: method {row['method']!r} matches no selected run of {store_path} "
                                 f"(use METHOD, METHOD@PROTOCOL or a run id; selected: "
                                 f"{'; '.join(_describe(r) for r in selected)})")
            if len(candidates) > 1:
                raise ValueError(f"{where}: method {row['method']!r} matches {len(candidates)} runs of {store_path}: "
                                 f"{'; '.join(_describe(by_run[c]) for c in candidates)}; write METHOD@PROTOCOL in "
                                 "the file or narrow the selection (--dataset, --protocol, --seed, --run)")
            run_id = candidates[0]
        else:
            if len(selected) > 1:
                raise ValueError(f"{judgements.path}: has no 'method' column but {len(selected)} runs are selected "
                                 f"({'; '.join(_describe(r) for r in selected)}); add a method column or select "
                                 "one run (--run, --method, --protocol)")
            run_id = selected[0]["run_id"]
        image = row["image"]
        if judgements.image_column == "path":
            lookup = paths.get(run_id, {})
            image = lookup.get(str(Path(image).resolve())) or lookup.get(Path(image).name) or image
        key = (image, run_id)
        return key if key in index else None

    return Scores(frame, directions, f"results store {store_path} (runs "
                  f"{', '.join(_describe(r) for r in selected)})", resolve)


# -- the study -------------------------------------------------------------------------------------------

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


def parse_directions(higher: Iterable[str] = (), lower: Iterable[str] = ()) -> dict[str, bool]:
    """``{metric: higher_is_better}`` from two lists of names (a name in both is an error)."""
    higher, lower = [m for m in higher if m], [m for m in lower if m]
    both = sorted(set(higher) & set(lower))
    if both:
        raise ValueError(f"metric(s) {', '.join(both)} given as both higher- and lower-is-better")
    return {**{m: True for m in higher}, **{m: False for m in lower}}
