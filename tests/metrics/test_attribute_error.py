"""Attribute-bias metric: definitions on hand-made predictions, mergeable states, runner integration."""
import numpy as np
import pytest
import torch

from bench.core.types import Attributes, Sample
from metrics.attribute_error import AttributeBias, accumulate, compute_attribute_stats, empty_state, group_table
from reference_models.shared.attribute_classifiers.base import AttributePrediction
from tests.attribute_support import aag_env, aag_models  # noqa: F401
from tests.conftest import require_module


def pred(genders, bins, ages=None, status=None):
    n = len(genders)
    p = AttributePrediction.empty(n, status=0)
    p.gender[:] = genders
    p.age_bin[:] = bins
    p.p_male[:] = np.asarray(genders, float)
    if ages is not None:
        p.age_years[:] = ages
    if status is not None:
        p.status[:] = status
    return p


def labels(bins, genders, ages):
    return np.array(bins), np.array(genders), np.array(ages, float)


def test_reference_label_and_floor_definitions():
    state = empty_state()
    hq = pred([0, 0, 1, 1], [5, 5, 6, 6], [25, 25, 35, 35])
    restored = pred([0, 1, 1, 0], [5, 6, 6, 5], [25, 31, 35, 27])
    accumulate(state, restored, hq, *labels([5, 5, 6, 7], [0, 1, 1, 1], [24, 26, 36, 45]))
    r = compute_attribute_stats(state, replicates=200)
    assert r["n"] == 4
    assert r["gender_err"] == pytest.approx(0.5)            # restored vs HQ prediction
    assert r["age_err"] == pytest.approx(0.5)
    assert r["gender_err_label"] == pytest.approx(0.25)     # restored vs label: only image 3
    assert r["age_err_label"] == pytest.approx(0.5)         # images 1 and 3
    assert r["floor_gender_err"] == pytest.approx(0.25)     # HQ vs label
    assert r["floor_age_err"] == pytest.approx(0.25)
    assert r["gender_f2m"] == pytest.approx(0.5) and r["gender_m2f"] == pytest.approx(0.5)
    assert r["age_shift"] == pytest.approx((1 - 1) / 4)
    assert r["age_mae"] == pytest.approx((1 + 5 + 1 + 18) / 4)
    assert r["floor_age_mae"] == pytest.approx((1 + 1 + 1 + 10) / 4)
    assert r["age_mae_ref"] == pytest.approx((0 + 6 + 0 + 8) / 4)
    assert r["fd_gender"] == pytest.approx(0.0) and r["fd_gender_ref"] == pytest.approx(0.0)
    assert r["no_face_share"] == 0
    for key in ("gender_err", "age_err_label", "age_mae", "fd_age"):
        assert r[key + "_lo"] <= r[key] <= r[key + "_hi"]


def test_no_face_is_reported_and_left_out():
    state = empty_state()
    hq = pred([1, 1, 1], [5, 5, 5], [25, 25, 25])
    restored = pred([1, -1, 0], [5, -1, 5], [25, np.nan, 25], status=[0, 1, 2])
    accumulate(state, restored, hq, *labels([5, 5, 5], [1, 1, 1], [25, 25, 25]))
    r = compute_attribute_stats(state, replicates=100)
    assert r["no_face_share"] == pytest.approx(1 / 3) and r["multiple_faces_share"] == pytest.approx(1 / 3)
    assert r["gender_err"] == pytest.approx(0.5)            # over the 2 images with a prediction
    assert r["fd_gender"] == pytest.approx(0.0)


def test_states_merge_to_the_one_pass_result():
    rng = np.random.default_rng(0)
    n = 60
    g_h, g_r = rng.integers(0, 2, n), rng.integers(0, 2, n)
    b_h, b_r = rng.integers(0, 10, n), rng.integers(0, 10, n)
    a_h, a_r = rng.uniform(0, 80, n), rng.uniform(0, 80, n)
    lb, lg, la = rng.integers(0, 10, n), rng.integers(0, 2, n), rng.uniform(0, 80, n)
    whole = empty_state()
    accumulate(whole, pred(g_r, b_r, a_r), pred(g_h, b_h, a_h), lb, lg, la)
    parts = []
    for sl in (slice(0, 17), slice(17, 40), slice(40, n)):
        s = empty_state()
        accumulate(s, pred(g_r[sl], b_r[sl], a_r[sl]), pred(g_h[sl], b_h[sl], a_h[sl]), lb[sl], lg[sl], la[sl])
        parts.append(s)
    merged = AttributeBias.merge(parts)
    for k in whole:
        np.testing.assert_allclose(merged[k], whole[k])
    a, b = compute_attribute_stats(whole, replicates=100), compute_attribute_stats(merged, replicates=100)
    assert a == pytest.approx(b, nan_ok=True)
    assert a["gender_err"] == pytest.approx(np.mean(g_r != g_h))
    assert a["age_mae"] == pytest.approx(np.mean(np.abs(a_r - la)))


def test_group_table_and_worst_group_gap():
    state = empty_state()
    # group 20-29/female: 20 images, 10 gender flips; group 30-39/male: 20 images, no flip
    hq = pred([0] * 20 + [1] * 20, [5] * 20 + [6] * 20, [25] * 20 + [35] * 20)
    restored = pred([1] * 10 + [0] * 10 + [1] * 20, [5] * 20 + [6] * 20, [25] * 20 + [35] * 20)
    accumulate(state, restored, hq, *labels([5] * 20 + [6] * 20, [0] * 20 + [1] * 20, [25] * 20 + [35] * 20))
    rows = {r["group"]: r for r in group_table(state, replicates=200)}
    assert set(rows) == {"20-29/female", "30-39/male"}
    assert rows["20-29/female"]["gender_err"] == pytest.approx(0.5) and rows["30-39/male"]["gender_err"] == 0
    assert rows["20-29/female"]["n"] == 20
    r = compute_attribute_stats(state, replicates=200, min_group=10)
    assert r["gender_err_gap"] == pytest.approx(0.5)
    assert r["gender_err_gap_lo"] < 0.5 < r["gender_err_gap_hi"]
    assert r["groups_by_label"] == 1.0


def test_real_pipeline_on_30_utkface_faces(aag_env, utkface_dir, tmp_path):
    """Runner + attr + attr_pred on real faces: sane floor, identity restoration has zero error."""
    from bench.harness.runner import Runner
    from bench.harness.store import ResultStore

    store = tmp_path / "s.sqlite"
    ds_root = utkface_dir.parent
    # x4 bicubic: mild; the HQ floor must beat chance
    runner = Runner("bicubic", "utkface", root=str(ds_root), metrics="attr,attr_pred", degradation="x4",
                    limit=None, store=store, out=tmp_path, batch_size=8, progress=False)
    runner.dataset._samples = runner.dataset.samples[3000:3240:8]      # 30 faces of mixed ages
    summary = runner.run()
    r = summary.set_results["attr"]
    assert r["n"] == 30 and summary.n_ok == 30
    assert r["floor_gender_err"] < 0.4                     # accuracy above chance on HQ
    assert r["floor_age_mae"] < 15
    assert r["gender_err"] <= 0.3
    assert r["no_face_share"] == 0
    with ResultStore(store) as st:
        rows = st.conn.execute("SELECT COUNT(*) FROM scores WHERE metric='attr_pred.hq_gender'").fetchone()[0]
    assert rows == 30


def test_classifier_failure_is_recorded_not_raised(monkeypatch):
    import metrics.attribute_error as ae
    from reference_models.shared.attribute_classifiers.base import AttributeClassifier, PredictionCache

    class Flaky(AttributeClassifier):
        name = "flaky"

        def _predict_list(self, images):
            if any(im.mean() > 200 for im in images):
                raise RuntimeError("boom")
            return pred([1] * len(images), [5] * len(images), [25.0] * len(images))

    clf = Flaky()
    caches = (clf, PredictionCache(clf, persistent=False), PredictionCache(clf, persistent=False))
    monkeypatch.setattr(ae, "shared_classifier", lambda backend, options: caches)
    metric = ae.AttributeBias()
    restored = torch.zeros(3, 3, 8, 8, dtype=torch.uint8)
    restored[1] = 255
    samples = [Sample(id=str(i), attributes=Attributes(age=25, gender=1)) for i in range(3)]
    r = metric.compute(metric.partial(restored, restored.clone(), samples))
    assert r["classifier_error_share"] == pytest.approx(1 / 3)
    assert r["gender_err"] == 0 and r["n"] == 3


def test_unavailable_classifier_fails_before_the_run(tmp_path, monkeypatch):
    from bench.core.assets import AssetUnavailableError
    from bench.harness.runner import Runner

    monkeypatch.setenv("FRBENCH_OFFLINE", "1")
    with pytest.raises(AssetUnavailableError):
        Runner("bicubic", "synthetic", metrics="attr_dbfr", limit=2, store=tmp_path / "s.sqlite", out=tmp_path)


def test_detection_failures_on_degraded_faces_are_reported(aag_env, utkface_dir, tmp_path):
    """attr_detect at x16 bicubic: the HOG detector misses faces; the run records the share, never crashes."""
    require_module("dlib", reason="dlib (extra [dlib]) is not installed")
    from bench.harness.runner import Runner

    runner = Runner("bicubic", "utkface", root=str(utkface_dir.parent), metrics="attr_detect", degradation="x16",
                    store=tmp_path / "s.sqlite", out=tmp_path, batch_size=8, progress=False)
    runner.dataset._samples = runner.dataset.samples[5000:5160:10]     # 16 faces
    summary = runner.run()
    r = summary.set_results["attr_detect"]
    assert summary.n_ok == 16 and r["n"] == 16
    assert 0 < r["no_face_share"] <= 1                      # 12x12 faces upsampled: the detector fails on some
    assert r["hq_no_face_share"] < r["no_face_share"]
