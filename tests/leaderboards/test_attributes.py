"""Attribute metric through the runner (stub classifier, synthetic faces) and the attribute leaderboard."""
import pytest

import metrics.attribute_error as ae
from reference_models.shared.attribute_classifiers.base import (
    AttributeClassifier,
    AttributePrediction,
    PredictionCache,
)


class Stub(AttributeClassifier):
    """Gender from mean brightness, no face on very dark images (a 'bad input')."""

    name = "stub"
    predicts_age_years = True

    def __init__(self):
        self.seen = 0

    def _predict_list(self, images):
        self.seen += len(images)
        out = AttributePrediction.empty(len(images), status=0)
        for i, im in enumerate(images):
            m = float(im.mean())
            if m < 5:
                out.status[i], out.n_faces[i] = 1, 0
                continue
            out.gender[i] = int(m > 100)
            out.age_years[i] = m / 4
            out.age_bin[i] = min(9, int(m / 26))
            out.p_male[i] = float(m > 100)
        return out


@pytest.fixture
def stub(monkeypatch, tmp_path):
    clf = Stub()
    caches = (clf, PredictionCache(clf, tmp_path / "pred"), PredictionCache(clf, persistent=False))
    monkeypatch.setattr(ae, "shared_classifier", lambda backend, options: caches)
    return clf


def test_runner_attribute_results_and_leaderboard(stub, tmp_path):
    from bench.harness.runner import Runner
    from leaderboards.tables import write_leaderboard

    store = tmp_path / "s.sqlite"
    for deg in ("x4", "x8"):
        summary = Runner("bicubic", "synthetic", metrics="attr", degradation=deg, limit=12, store=store,
                         out=tmp_path, batch_size=5, progress=False).run()
        r = summary.set_results["attr"]
        assert r["n"] == 12 and 0 <= r["gender_err"] <= 1 and r["gender_err_lo"] <= r["gender_err"] <= r["gender_err_hi"]
    # the HQ images (and their perturbed copies, for the noise floor) were classified once for both runs
    # (content-hash cache): 12 HQ + 12 perturbed HQ + 2 x 12 restored
    assert stub.seen == 48
    assert 0 <= r["noise_gender_err"] <= 1 and "noise_age_err_lo" in r
    paths = write_leaderboard(store, tmp_path / "lb")
    text = paths["attributes"].read_text()
    assert "| x4 | bicubic | attr | 12 |" in text and "| x8 |" in text
    assert "noise floor gender %" in text and "no face %" in text
    markdown = paths["markdown"].read_text()
    assert "attr.gender_err" in markdown and "attr.noise_gender_err" in markdown
    assert "attr.no_face_share" in markdown and "attr.fd_gender_ref" in markdown


def test_resumed_run_gives_the_same_state(stub, tmp_path):
    from bench.harness.runner import Runner

    one = Runner("bicubic", "synthetic", metrics="attr", degradation="x4", limit=10, store=tmp_path / "a.sqlite",
                 out=tmp_path, batch_size=3, progress=False).run().set_results["attr"]
    Runner("bicubic", "synthetic", metrics="attr", degradation="x4", limit=4, store=tmp_path / "b.sqlite",
           out=tmp_path, batch_size=3, progress=False).run()
    two = Runner("bicubic", "synthetic", metrics="attr", degradation="x4", limit=10, store=tmp_path / "b.sqlite",
                 out=tmp_path, batch_size=3, progress=False).run().set_results["attr"]
    assert one == pytest.approx(two, nan_ok=True)


def test_format_cell():
    from leaderboards.attributes import format_cell

    v = {"gender_err": 0.25, "gender_err_lo": 0.2, "gender_err_hi": 0.3, "hq_gender_err_label": 0.1,
         "hq_gender_err_label_lo": 0.05, "hq_gender_err_label_hi": 0.15, "age_mae": float("nan"),
         "gender_err_gap_groups": 4.0, "gender_err_gap_min_n": 31.0}
    assert format_cell(v, "gender_err", "pct") == "25.0 [20.0, 30.0]"
    assert format_cell(v, "hq_gender_err_label", "acc") == "90.0 [85.0, 95.0]"
    assert format_cell(v, "age_mae", "years") == "–"
    assert format_cell(v, "gender_err_gap_groups", "count") == "4 (31)"
