"""Per-image export: long and wide forms, row counts equal the store's, values, labels and predictions."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.harness.store import ResultStore
from leaderboards.export import per_image, stored_predictions, write_export
from metrics.attribute_error import PREDICTION_VECTOR
from tests.leaderboards.report_support import N, report_store  # noqa: F401 (fixture)


@pytest.fixture(scope="module")
def frames(report_store):
    with ResultStore(report_store, readonly=True) as db:
        return per_image(db), per_image(db, wide=True), db.runs()


def test_long_rows_equal_the_store(frames, report_store):
    long, _, runs = frames
    with ResultStore(report_store, readonly=True) as db:
        for run in runs:
            mine = long[long["run_id"] == run["run_id"]]
            scores = db.scores(run["run_id"])
            assert (mine["source"] == "score").sum() == len(scores)
            # restored + HQ prediction vectors of every attr member
            assert (mine["source"] == "prediction").sum() == 2 * len(PREDICTION_VECTOR) * N
            got = {(r.sample_id, r.metric): r.value for r in mine[mine["source"] == "score"].itertuples()}
            for _, sid, metric, value, _ in scores:
                assert got[(sid, metric)] == pytest.approx(value, nan_ok=True)
    assert set(long["method"]) == {"bicubic", "bilinear"} and set(long["protocol"]) == {"x4", "x8"}


def test_predictions_and_labels(frames, report_store):
    long, wide, runs = frames
    run = runs[0]
    with ResultStore(report_store, readonly=True) as db:
        labels = {r["sample_id"]: r["attributes"] for r in db.sample_rows(run["run_id"])}
        scores = {(sid, m): v for _, sid, m, v, _ in db.scores(run["run_id"])}
        preds = stored_predictions(db, run["run_id"], "attr")
    mine = wide[wide["run_id"] == run["run_id"]].set_index("sample_id")
    assert len(mine) == N
    for sid, row in mine.iterrows():
        assert (row["label_age"], row["label_gender"]) == (labels[sid]["age"], labels[sid]["gender"])
        assert row["psnr"] == pytest.approx(scores[(sid, "psnr")])
        # the attr vectors and the attr_pred score rows record the same predictions
        assert row["attr.restored.gender"] == scores[(sid, "attr_pred")] == preds.at[sid, "restored.gender"]
        assert row["attr.hq.age_bin"] == scores[(sid, "attr_pred.hq_age_bin")]
        assert row["attr.restored.age_years"] == pytest.approx(scores[(sid, "attr_pred.age")])


def test_wide_has_one_row_per_run_and_sample(frames):
    _, wide, runs = frames
    assert len(wide) == len(runs) * N and not wide.duplicated(["run_id", "sample_id"]).any()
    assert set(wide["status"]) == {"ok"}
    saved = wide[wide["method"] == "bicubic"]["restored_path"]
    assert saved.notna().all() and wide[wide["method"] == "bilinear"]["restored_path"].isna().all()


def test_csv_and_parquet_round_trip(frames, tmp_path):
    long, wide, runs = frames
    pytest.importorskip("pyarrow")
    for frame, name in ((long, "long"), (wide, "wide")):
        back_csv = pd.read_csv(write_export(frame, tmp_path / f"{name}.csv", "csv"))
        back_pq = pd.read_parquet(write_export(frame, tmp_path / "sub" / f"{name}.parquet", "parquet"))
        assert len(back_csv) == len(back_pq) == len(frame)
        assert np.allclose(back_pq["value" if name == "long" else "psnr"].astype(float),
                           back_csv["value" if name == "long" else "psnr"].astype(float), equal_nan=True)
    with pytest.raises(ValueError, match="export format"):
        write_export(long, tmp_path / "x.xlsx", "xlsx")


def test_api_per_image_selects_runs(frames, report_store):
    from bench import api

    _, _, runs = frames
    one = api.per_image(report_store, run_ids=[runs[1]["run_id"][:6]], wide=True)
    assert set(one["run_id"]) == {runs[1]["run_id"]} and len(one) == N
    with pytest.raises(KeyError, match="no run"):
        api.per_image(report_store, run_ids=["zzzz"])
