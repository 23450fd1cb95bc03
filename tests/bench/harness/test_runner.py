import numpy as np
import pytest
import torch

from baselines.interpolation import Bilinear
from bench.harness.runner import ConfigurationError, Runner
from bench.harness.store import ResultStore
from bench.core.registry import METRICS

from tests.bench.plugins import ArrayDataset, HalfDegradation, MeanAbsError, PixelSum


@pytest.fixture
def toy_metrics(registered):
    # register the test metrics for the duration of a test
    registered(METRICS, "mae", MeanAbsError, "test mae")
    registered(METRICS, "pixelsum", PixelSum, "test sum")


def _runner(tmp_path, metrics="mae,pixelsum", **kw):
    kw.setdefault("batch_size", 4)
    return Runner(Bilinear(), ArrayDataset(n=kw.pop("n", 10)), metrics=metrics, degradation=HalfDegradation(),
                  store=tmp_path / "r.sqlite", out=tmp_path / "out", progress=False, **kw)


def test_run_records_rows_errors_and_set_states(tmp_path, toy_metrics):
    summary = _runner(tmp_path, save_images=True).run()
    assert summary.n_planned == 11 and summary.n_ok == 10 and summary.n_failed == 1
    with ResultStore(tmp_path / "r.sqlite") as store:
        rows = {r["sample_id"]: r for r in store.sample_rows(summary.run_id)}
        assert rows["zz-missing"]["status"] == "error"
        assert "/nonexistent/face.png" in rows["zz-missing"]["error"] and "not found" in rows["zz-missing"]["error"]
        assert rows["s001"]["degradation"] == {"protocol": "half", "seed": 0, "id": "s001"}
        assert rows["s001"]["attributes"]["gender"] == 1 and rows["s001"]["lq_size"] == [8, 8]
        scores = {(sid, m): (v, e) for _, sid, m, v, e in store.scores()}
        # 20-pixel images: the metric error is recorded per image, the other images keep their value
        assert scores[("s000", "mae")][0] is None and "refused" in scores[("s000", "mae")][1]
        assert scores[("s001", "mae")][0] is not None and scores[("s001", "mae")][0] > 0
        assert summary.set_results["pixelsum"]["images"] == 10
        assert (tmp_path / "out" / "restored").exists()
        saved = sorted(p.name for p in (tmp_path / "out" / "restored").rglob("*.png"))
        assert len(saved) == 10 and "s001.png" in saved


def test_set_metric_equals_single_pass_and_resume_adds_nothing(tmp_path, toy_metrics):
    first = _runner(tmp_path, batch_size=3).run()
    again = _runner(tmp_path, batch_size=5).run()
    assert again.run_id == first.run_id and again.n_processed == 0 and again.n_skipped == 11
    assert again.set_results == first.set_results
    # the direct computation over all restored images
    images = [s.hq for s in ArrayDataset(n=10, missing=False).samples]
    total = count = 0.0
    for image in images:
        lq = torch.from_numpy(np.ascontiguousarray(image[::2, ::2])).permute(2, 0, 1)[None].float() / 255
        out = Bilinear().restore(lq, out_size=image.shape[:2])
        out = out.clamp(0, 1).mul(255).round().to(torch.uint8).double().div(255)
        total += float(out.double().sum()); count += out[:, 0].numel()
    assert first.set_results["pixelsum"]["mean"] == pytest.approx(total / (3 * count), rel=1e-12)


def test_limit_then_extend_processes_only_new_samples(tmp_path, toy_metrics):
    part = _runner(tmp_path, limit=5).run()
    assert part.n_processed == 5
    full = _runner(tmp_path).run()
    assert full.run_id == part.run_id and full.n_skipped == 5 and full.n_processed == 6
    with ResultStore(tmp_path / "r.sqlite") as store:
        assert len(store.sample_rows(full.run_id)) == 11


def test_new_metric_is_computed_only_where_missing(tmp_path, toy_metrics):
    _runner(tmp_path, metrics="mae").run()
    both = _runner(tmp_path, metrics="mae,pixelsum").run()
    # every ok sample lacked pixelsum: all were processed again, and counted once
    assert both.set_results["pixelsum"]["images"] == 10
    third = _runner(tmp_path, metrics="mae,pixelsum").run()
    assert third.n_processed == 0 and third.set_results["pixelsum"]["images"] == 10


def test_reference_metric_on_captured_lq_is_refused(tmp_path):
    class Captured(ArrayDataset):
        has_hq = False

    with pytest.raises(ConfigurationError, match="needs an HQ reference"):
        Runner(Bilinear(), Captured(), metrics="psnr", store=tmp_path / "r.sqlite", progress=False)


def test_method_failure_is_recorded_not_raised(tmp_path, toy_metrics):
    class Broken(Bilinear):
        def restore(self, lq, attributes=None, out_size=None):
            raise RuntimeError("out of memory (simulated)")

    summary = Runner(Broken(), ArrayDataset(n=4, missing=False), metrics="mae", degradation=HalfDegradation(),
                     store=tmp_path / "r.sqlite", progress=False).run()
    assert summary.n_failed == 4 and summary.n_ok == 0
    assert all(stage == "restore" and "simulated" in cause for _, stage, cause in summary.errors)


def test_set_state_of_a_run_done_in_parts_equals_one_pass(tmp_path, toy_metrics):
    whole = Runner(Bilinear(), ArrayDataset(n=10), metrics="pixelsum", degradation=HalfDegradation(),
                   store=tmp_path / "whole.sqlite", progress=False, batch_size=4).run()
    parts = tmp_path / "parts.sqlite"
    for limit in (3, 7, None):
        summary = Runner(Bilinear(), ArrayDataset(n=10), metrics="pixelsum", degradation=HalfDegradation(),
                         store=parts, progress=False, batch_size=2, limit=limit).run()
    # float sums in another order: equal to rounding (counts exactly)
    assert summary.set_results["pixelsum"]["images"] == whole.set_results["pixelsum"]["images"] == 10
    assert summary.set_results["pixelsum"]["mean"] == pytest.approx(whole.set_results["pixelsum"]["mean"], rel=1e-12)
    with ResultStore(parts) as store:
        # one vector row per image (no running state): any subset can be recomputed exactly
        assert store.table_sizes()["vectors"] == 10 and len(store.set_member_ids(summary.run_id, "pixelsum")) == 10
