"""Same faces in every row: a table compares its runs on the ids they all restored, set-level metrics included."""
import math

import numpy as np
import pandas as pd
import pytest

from baselines.interpolation import Bicubic, Bilinear
from bench.core.registry import METRICS
from bench.harness.runner import Runner
from bench.harness.store import ResultStore
from leaderboards.tables import TableFilter, build_tables, to_markdown, write_leaderboard
from tests.bench.plugins import ArrayDataset, HalfDegradation, MeanAbsError, PixelSum
from tests.metrics.fid_support import fid_archive, fid_weights  # noqa: F401 (fixtures)


@pytest.fixture
def toy_metrics(registered):
    registered(METRICS, "mae", MeanAbsError, "test mae")
    registered(METRICS, "pixelsum", PixelSum, "test sum")


class FailsOn(Bilinear):
    """Bilinear that fails on some images (a method that cannot restore hard faces)."""

    def __init__(self, bad):
        super().__init__()
        self.bad = bad

    def restore(self, lq, attributes=None, out_size=None):
        if lq.shape[-1] == self.bad:
            raise RuntimeError("cannot restore this face (simulated)")
        return super().restore(lq, attributes=attributes, out_size=out_size)


def _run(store, method, **kw):
    kw.setdefault("dataset", ArrayDataset(n=12, missing=False))
    return Runner(method, kw.pop("dataset"), metrics="mae,psnr,pixelsum", degradation=HalfDegradation(), store=store,
                  progress=False, batch_size=4, **kw).run()


def test_failures_and_limits_drop_ids_for_every_column(tmp_path, toy_metrics):
    store = tmp_path / "r.sqlite"
    _run(store, Bicubic())
    failing = _run(store, FailsOn(bad=10))  # fails on the 20-px faces (ids 0, 3, 6, 9)
    assert failing.n_failed == 4
    (table,) = build_tables(store)
    frame = table["frame"].set_index("method")
    assert set(frame["images"]) == {8} and table["compared_ids"][failing.run_id] == sorted(
        f"s{i:03d}" for i in range(12) if i % 3)
    assert "computed on the 8 faces that all 2 run(s) restored (of 12 in any run)" in table["caption"]
    assert "bicubic: 4 of its 12 left out (4 failed in another run)" in table["caption"]
    # the bicubic mean is over the same 8 faces, not over its own 12 (a failing method must not look better)
    with ResultStore(store) as db:
        bicubic_id = next(r["run_id"] for r in db.runs() if r["method"] == "bicubic")
        own = db.metric_summary(bicubic_id)["psnr"]
        common = db.metric_summary(bicubic_id, table["compared_ids"][bicubic_id])["psnr"]
    assert own["n"] == 12 and common["n"] == 8
    assert frame.loc["bicubic", "psnr"] == pytest.approx(common["mean"]) != pytest.approx(own["mean"])
    # the set-level metric recomputed on the 8 common faces from the stored per-image vectors
    with ResultStore(store) as db:
        sums = {sid: v for _, sid, ch, dt, sh, v in db.conn.execute(
            "SELECT run_id, sample_id, channel, dtype, shape, data FROM vectors WHERE run_id=?", (bicubic_id,))}
    vec = np.stack([np.frombuffer(sums[s], np.float64) for s in table["compared_ids"][bicubic_id]])
    assert frame.loc["bicubic", "pixelsum.mean"] == pytest.approx(vec[:, 0].sum() / (3 * vec[:, 1].sum()), rel=1e-12)
    assert frame.loc["bicubic", "pixelsum.images"] == 8
    # own ids: each run on its own faces, said in the caption, nothing bold
    (own_table,) = build_tables(store, common_ids=False)
    assert sorted(own_table["frame"]["images"]) == [8, 12] and "NOT a paired comparison" in own_table["caption"]
    assert "**" not in to_markdown([own_table]).split("|---", 1)[1]


def test_interrupted_runs_are_marked_and_filters_apply(tmp_path, toy_metrics):
    store = tmp_path / "r.sqlite"
    done = _run(store, Bicubic())
    with ResultStore(store) as db:  # a run whose process died: status running, no live lease
        db.conn.execute("UPDATE runs SET status='running' WHERE run_id=?", (done.run_id,))
    _run(store, Bilinear(), limit=6)
    md = to_markdown(build_tables(store))
    assert "| bicubic (interrupted) |" in md and "Not complete (running or interrupted): bicubic" in md
    only = build_tables(store, TableFilter(methods=["bil*"], metrics=["mae"]))
    assert list(only[0]["frame"]["method"]) == ["bilinear"] and "pixelsum" not in only[0]["frame"].columns
    assert build_tables(store, TableFilter(datasets=["utkface"])) == []


def test_bicubic_100_and_bilinear_50_compared_on_the_common_50_fid_included(tmp_path, utkface_dir, fid_archive,
                                                                            monkeypatch):  # noqa: F811
    """The must-show of the issue: FID depends on the image count, so the table recomputes it on the 50
    faces both runs have; the value equals a run made on those 50 faces alone."""
    monkeypatch.setenv("FRBENCH_ASSET_FID_INCEPTION_TORCHSCRIPT", str(fid_archive))
    store = tmp_path / "r.sqlite"
    common = dict(dataset="utkface", root=utkface_dir, degradation="x8", metrics="psnr,fid", store=store,
                  progress=False, batch_size=25)
    big = Runner("bicubic", limit=100, **common).run()
    small = Runner("bilinear", limit=50, **common).run()
    assert big.set_results["fid"]["n"] == 100 and small.set_results["fid"]["n"] == 50
    paths = write_leaderboard(store, tmp_path / "lb")
    (table,) = build_tables(store)
    frame = table["frame"].set_index("method")
    assert list(frame["images"]) == [50, 50] and list(frame["fid.n"]) == [50, 50]
    assert "computed on the 50 faces that all 2 run(s) restored (of 100 in any run)" in table["caption"]
    assert "bicubic: 50 of its 100 left out (50 not in another run" in table["caption"]
    alone = Runner("bicubic", limit=50, **{**common, "store": tmp_path / "alone.sqlite"}).run()
    assert frame.loc["bicubic", "fid"] == pytest.approx(alone.set_results["fid"]["value"], rel=1e-9)
    assert frame.loc["bicubic", "psnr"] == pytest.approx(alone.metric_means["psnr"]["mean"], rel=1e-12)
    assert frame.loc["bicubic", "fid"] != pytest.approx(big.set_results["fid"]["value"], rel=1e-3)
    assert frame.loc["bilinear", "fid"] == pytest.approx(small.set_results["fid"]["value"], rel=1e-12)
    csv = pd.read_csv(paths["csv"])
    assert set(csv["compared_on"]) == {"common ids"} and set(csv["images"]) == {50}
    assert "50 faces" in paths["markdown"].read_text() and math.isfinite(float(csv["fid"].iloc[0]))
