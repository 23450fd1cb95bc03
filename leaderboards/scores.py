"""Metric scores of a correlation study, with the better direction of every metric.

From the results store (runs selected by method, dataset, protocol, seed; keyed by sample id and run, see
:func:`store_scores`) or from a scores CSV (:func:`read_scores_csv`).  Each :class:`Scores` carries a
``resolve`` callable finding the score of a judged image (:mod:`leaderboards.judgements`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from leaderboards.csv_input import FORMAT_DOC, image_column, parse_number, read_csv
from leaderboards.judgements import Judgements


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
        cls = METRICS.component_class(base)  # the declaration on the class: no metric is built
    except Exception:  # pragma: no cover - a broken plug-in
        return None
    if cls is None:
        return None
    direction = output_direction(cls, key or "value")
    return {"higher": True, "lower": False}.get(direction)


def read_scores_csv(path: str | Path, metrics: Sequence[str] | None = None) -> Scores:
    """Scores from a CSV: ``image_id`` (or ``path``), optional ``method``, then either one numeric column per
    metric (wide) or ``metric`` and ``value`` columns (long)."""
    path = Path(path)
    names, rows = read_csv(path)
    image_col = image_column(path, names, "the image each score is about")
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
                            "value": parse_number(path, line, metric, text, required=False)})
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


def parse_directions(higher: Iterable[str] = (), lower: Iterable[str] = ()) -> dict[str, bool]:
    """``{metric: higher_is_better}`` from two lists of names (a name in both is an error)."""
    higher, lower = [m for m in higher if m], [m for m in lower if m]
    both = sorted(set(higher) & set(lower))
    if both:
        raise ValueError(f"metric(s) {', '.join(both)} given as both higher- and lower-is-better")
    return {**{m: True for m in higher}, **{m: False for m in lower}}
