"""Per-image results of a store as a DataFrame (``bench export``, :func:`bench.api.per_image`).

Long form (default): one row per stored value of a sample, with the run's method, dataset, protocol and
seed, the sample's status and its labels (``label_age``, ``label_age_bin``, ``label_gender``, ``label_race``...):

* ``source = "score"``: one row per score row of the store (every per-image metric output: ``psnr``,
  ``niqe.flat_share``, ``attr_pred.hq_age``...; ``value`` empty and ``error`` set when the metric failed on
  the image) -- exactly the rows of :meth:`ResultStore.scores`;
* ``source = "prediction"``: the per-image attribute predictions the set-level ``attr`` family keeps as
  vectors (:data:`metrics.attribute_error.PREDICTION_VECTOR`: ``age_years``, ``age_bin``, ``gender`` (0
  female, 1 male), ``p_male``, ``status`` (0 ok, 1 no face, 2 several faces)), on the restored image
  (``metric = "attr.restored.gender"``) and on its HQ (``"attr.hq.gender"``); a negative or non-finite
  entry (no prediction) is an empty value.

Wide form: one row per (run, sample), every sample of the run (failed ones with their stage and error),
one column per metric output.  CSV and Parquet (pyarrow) writers: :func:`write_export`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from bench.harness.store import ResultStore
from metrics.attribute_error import PREDICTION_VECTOR

RUN_COLUMNS = ("run_id", "method", "dataset", "protocol", "seed")
LONG_COLUMNS = (*RUN_COLUMNS, "sample_id", "status", "source", "metric", "value", "error")
FORMATS = ("csv", "parquet")


def prediction_metrics(store: ResultStore, run_id: str) -> list[str]:
    """The set-level metrics of a run that keep per-image attribute prediction vectors (``attr`` family)."""
    from leaderboards.compare import is_attribute_metric

    return sorted(m for m, entry in store.run_metrics(run_id).items() if is_attribute_metric(entry))


def stored_predictions(store: ResultStore, run_id: str, metric: str,
                       sample_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Per sample (index ``sample_id``): the restored and HQ prediction vectors of ``metric`` as columns
    ``restored.age_years`` ... ``hq.status`` (NaN where there is no prediction), with the labels
    ``label_age_bin`` / ``label_gender``; over ``sample_ids`` (default: the samples the metric covers)."""
    ids = list(store.set_member_ids(run_id, metric) if sample_ids is None else sample_ids)
    channels = {k: v for k, v in store.run_metrics(run_id)[metric]["channels"].items() if k in ("restored", "hq")}
    records: list[dict[str, Any]] = []
    for rows, vectors in store.iter_set_inputs(run_id, ids, channels):
        for i, row in enumerate(rows):
            rec: dict[str, Any] = {"sample_id": row["id"]}
            for side in ("restored", "hq"):
                vec = (np.asarray(vectors[side][i], np.float64).reshape(-1) if side in vectors
                       else np.full(len(PREDICTION_VECTOR), np.nan))
                for name, value in zip(PREDICTION_VECTOR, vec):
                    keep = bool(np.isfinite(value) and value >= 0)
                    rec[f"{side}.{name}"] = float(value) if keep else np.nan
            for key in ("age_bin", "gender"):
                label = (row["attributes"] or {}).get(key)
                rec[f"label_{key}"] = np.nan if label is None else float(label)
            records.append(rec)
    columns = ["sample_id"] + [f"{s}.{n}" for s in ("restored", "hq") for n in PREDICTION_VECTOR] + \
              ["label_age_bin", "label_gender"]
    return pd.DataFrame.from_records(records, columns=columns).set_index("sample_id")


def _labels(attributes: dict[str, Any] | None) -> dict[str, Any]:
    return {f"label_{k}": v for k, v in sorted((attributes or {}).items()) if not isinstance(v, (dict, list))}


def _run_rows(store: ResultStore, run: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(long rows, per-sample rows) of one run."""
    base = {k: run[k] for k in RUN_COLUMNS}
    samples = {r["sample_id"]: r for r in store.sample_rows(run["run_id"])}
    failed = set(store.sample_ids(run["run_id"], "error"))
    status = {sid: ("error" if sid in failed else "ok") for sid in samples}
    labels = {sid: _labels(r["attributes"]) for sid, r in samples.items()}
    long: list[dict[str, Any]] = []
    for _, sid, metric, value, error in store.scores(run["run_id"]):
        long.append({**base, "sample_id": sid, "status": status.get(sid, "ok"), "source": "score", "metric": metric,
                     "value": np.nan if value is None else float(value), "error": error, **labels.get(sid, {})})
    for metric in prediction_metrics(store, run["run_id"]):
        frame = stored_predictions(store, run["run_id"], metric)
        for sid, row in frame.iterrows():
            for column in frame.columns:
                if column.startswith(("restored.", "hq.")):
                    long.append({**base, "sample_id": sid, "status": status.get(sid, "ok"), "source": "prediction",
                                 "metric": f"{metric}.{column}", "value": row[column], "error": None,
                                 **labels.get(sid, {})})
    wide = [{**base, "sample_id": sid, "status": status[sid], "stage": r["stage"],
             "error": r["error"] or r["output_error"], "restored_path": r["restored_path"], **labels[sid]}
            for sid, r in samples.items()]
    return long, wide


def select_runs(store: ResultStore, run_ids: Sequence[str] | None) -> list[dict[str, Any]]:
    """The runs of ``run_ids`` (full ids or unambiguous prefixes; ``None``: every run), in store order."""
    runs = store.runs()
    if run_ids is None:
        return runs
    chosen = []
    for prefix in run_ids:
        matches = [r for r in runs if r["run_id"].startswith(prefix)]
        if len(matches) != 1:
            known = ", ".join(r["run_id"] for r in runs) or "(none)"
            raise KeyError(f"{'no' if not matches else 'several'} run(s) with id {prefix!r} in {store.path}; "
                           f"runs: {known}")
        if matches[0] not in chosen:
            chosen.append(matches[0])
    return chosen


def per_image(store: ResultStore, run_ids: Sequence[str] | None = None, wide: bool = False) -> pd.DataFrame:
    """Per-image results of the runs (module docstring): long form, or wide (one row per run and sample)."""
    long_rows, wide_rows = [], []
    for run in select_runs(store, run_ids):
        long, samples = _run_rows(store, run)
        long_rows += long
        wide_rows += samples
    long_frame = pd.DataFrame.from_records(long_rows)
    for column in LONG_COLUMNS:
        if column not in long_frame:
            long_frame[column] = pd.Series(dtype=object)
    label_columns = sorted(c for c in long_frame.columns if c.startswith("label_"))
    long_frame = long_frame[list(LONG_COLUMNS) + label_columns]
    if not wide:
        return long_frame
    samples = pd.DataFrame.from_records(wide_rows)
    if samples.empty:
        return samples
    values = long_frame.pivot_table(index=["run_id", "sample_id"], columns="metric", values="value",
                                    aggfunc="first", dropna=False) if not long_frame.empty else None
    if values is not None:
        values.columns.name = None
        samples = samples.merge(values.reset_index(), on=["run_id", "sample_id"], how="left")
    return samples


def write_export(frame: pd.DataFrame, out: str | Path, fmt: str) -> Path:
    """Write ``frame`` as CSV or Parquet to ``out`` (parent folders created)."""
    if fmt not in FORMATS:
        raise ValueError(f"export format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        frame.to_csv(out, index=False)
    else:
        try:
            frame.to_parquet(out, index=False)
        except ImportError as exc:
            raise RuntimeError(f"{out}: Parquet needs pyarrow ({exc}); use --format csv") from exc
    return out
