"""Per-image metrics with extra named outputs (``extra_outputs`` + ``details``) in the runner."""
import torch

from baselines.interpolation import Bilinear
from bench.core.registry import METRICS
from bench.harness.processing import metric_extra_outputs
from bench.harness.runner import Runner
from bench.harness.store import ResultStore
from bench.core.types import PerImageMetric, as_float01

from tests.bench.plugins import ArrayDataset, HalfDegradation


class MeanWithShare(PerImageMetric):
    """No-reference test metric: mean intensity, plus the share of pixels above 0.5 and a flag."""

    name = "meanshare"
    needs_reference = False
    higher_is_better = False
    extra_outputs = ("bright_share", "unstable")
    calls = 0

    def details(self, restored, reference=None):
        MeanWithShare.calls += 1
        x = as_float01(restored, torch.float64)
        if x.shape[-1] == 20:
            raise ValueError("20-pixel images are refused by this test metric")
        share = (x > 0.5).double().mean(dim=(1, 2, 3))
        return {"value": x.mean(dim=(1, 2, 3)), "bright_share": share, "unstable": (share > 0.5).double()}

    def __call__(self, restored, reference=None):
        return self.details(restored, reference)["value"]


def test_extra_outputs_are_stored_as_named_columns_and_resume(tmp_path, monkeypatch, registered):
    registered(METRICS, "meanshare", MeanWithShare, "test metric with extras")
    assert metric_extra_outputs(MeanWithShare()) == ("bright_share", "unstable")
    assert metric_extra_outputs(METRICS.create("psnr")) == ()

    def runner():
        return Runner(Bilinear(), ArrayDataset(n=6), metrics="meanshare,psnr", degradation=HalfDegradation(),
                      store=tmp_path / "r.sqlite", out=tmp_path / "out", progress=False, batch_size=4)

    MeanWithShare.calls = 0
    summary = runner().run()
    assert summary.n_ok == 6
    with ResultStore(tmp_path / "r.sqlite") as store:
        scores = {(sid, m): (v, e) for _, sid, m, v, e in store.scores(summary.run_id)}
        infos = {row[0] for row in store.conn.execute("SELECT name FROM metric_info")}
    assert {"meanshare", "meanshare.bright_share", "meanshare.unstable"} <= infos
    # s001 is 16x16: all three columns; s000 (20x20) is refused: one error row, no extras
    value, err = scores[("s001", "meanshare")]
    assert err is None and 0 < value < 1
    assert 0 <= scores[("s001", "meanshare.bright_share")][0] <= 1
    assert scores[("s001", "meanshare.unstable")][0] in (0.0, 1.0)
    assert scores[("s000", "meanshare")][0] is None and "refused" in scores[("s000", "meanshare")][1]
    assert ("s000", "meanshare.bright_share") not in scores
    assert scores[("s001", "psnr")][0] is not None  # ordinary metrics unchanged
    assert "meanshare.bright_share" in summary.metric_means
    again = runner().run()
    assert again.n_processed == 0 and again.run_id == summary.run_id
