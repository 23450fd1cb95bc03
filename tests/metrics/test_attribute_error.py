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


def test_reference_label_and_hq_vs_label_definitions():
    state = empty_state()
    hq = pred([0, 0, 1, 1], [5, 5, 6, 6], [25, 25, 35, 35])
    restored = pred([0, 1, 1, 0], [5, 6, 6, 5], [25, 31, 35, 27])
    accumulate(state, restored, hq, *labels([5, 5, 6, 7], [0, 1, 1, 1], [24, 26, 36, 45]))
    r = compute_attribute_stats(state, replicates=200)
    assert r["n"] == 4
    assert r["gender_err"] == pytest.approx(0.5)            # restored vs HQ prediction
    assert r["age_err"] == pytest.approx(0.5)
    assert r["gender_err_found"] == pytest.approx(0.5)      # no missing face: the same
    assert r["gender_err_label"] == pytest.approx(0.25)     # restored vs label: only image 3
    assert r["age_err_label"] == pytest.approx(0.5)         # images 1 and 3
    assert r["hq_gender_err_label"] == pytest.approx(0.25)  # HQ vs label (renamed from floor_*)
    assert r["hq_age_err_label"] == pytest.approx(0.25)
    assert "floor_gender_err" not in r
    assert r["gender_f2m"] == pytest.approx(0.5) and r["gender_m2f"] == pytest.approx(0.5)
    assert r["age_shift"] == pytest.approx((1 - 1) / 4)
    assert r["age_mae"] == pytest.approx((1 + 5 + 1 + 18) / 4)
    assert r["hq_age_mae"] == pytest.approx((1 + 1 + 1 + 10) / 4)
    assert r["age_mae_ref"] == pytest.approx((0 + 6 + 0 + 8) / 4)
    # FD: restored genders f,m,m,f and bins 5,6,6,5; HQ genders f,f,m,m and bins 5,5,6,6 -> same shares
    assert r["fd_gender_ref"] == pytest.approx(0.0) and r["fd_age_ref"] == pytest.approx(0.0)
    # labels: genders f,m,m,m (1 f, 3 m) vs restored 2 f, 2 m -> sqrt(1 + 1) / 4
    assert r["fd_gender_label"] == pytest.approx(np.sqrt(2) / 4)
    # label bins 5,5,6,7 (2,1,1) vs restored bins (2,2,0) -> sqrt(0 + 1 + 1) / 4
    assert r["fd_age_label"] == pytest.approx(np.sqrt(2) / 4)
    # uniform (informational): 2/2 genders -> 0; bins 0.5/0.5 over 10 -> sqrt(8 * 0.01 + 2 * 0.16)
    assert r["fd_gender_uniform"] == pytest.approx(0.0)
    assert r["fd_age_uniform"] == pytest.approx(np.sqrt(0.4))
    assert r["fd_gender_uniform_hq"] == pytest.approx(0.0)
    assert "fd_gender" not in r and "fd_gender_hq" not in r
    assert r["no_face_share"] == 0
    for key in ("gender_err", "age_err_label", "age_mae", "fd_age_label"):
        assert r[key + "_lo"] <= r[key] <= r[key + "_hi"]


def test_missing_restored_face_counts_as_an_error():
    state = empty_state()
    hq = pred([1, 1, 1], [5, 5, 5], [25, 25, 25])
    restored = pred([1, -1, 0], [5, -1, 5], [25, np.nan, 25], status=[0, 1, 2])
    accumulate(state, restored, hq, *labels([5, 5, 5], [1, 1, 1], [25, 25, 25]))
    r = compute_attribute_stats(state, replicates=100)
    assert r["no_face_share"] == pytest.approx(1 / 3) and r["multiple_faces_share"] == pytest.approx(1 / 3)
    assert r["gender_err"] == pytest.approx(2 / 3)          # image 1: no face, image 2: flipped
    assert r["gender_err_found"] == pytest.approx(1 / 2)    # exclusion variant: the 2 images with a face
    assert r["age_err"] == pytest.approx(1 / 3) and r["age_err_found"] == pytest.approx(0.0)
    assert r["gender_err_label"] == pytest.approx(2 / 3) and r["gender_err_label_found"] == pytest.approx(1 / 2)
    assert r["age_err_label"] == pytest.approx(1 / 3) and r["age_err_label_found"] == pytest.approx(0.0)
    # reference FD over 3 images: restored (f 1, m 1, no face 1) vs HQ (f 0, m 3, no face 0)
    assert r["fd_gender_ref"] == pytest.approx(np.sqrt(1 + 4 + 1) / 3)
    assert r["fd_gender_uniform"] == pytest.approx(0.0)     # faces found only: 1 f, 1 m
    assert r["age_mae"] == pytest.approx(0.0)               # MAE over found faces


def test_hq_without_a_face_leaves_the_reference_denominators():
    state = empty_state()
    hq = pred([1, 1, -1, 1], [5, 5, -1, 5], [25, 25, np.nan, 25], status=[0, 0, 1, 0])
    restored = pred([1, -1, 1, 0], [5, -1, 5, 5], [25, np.nan, 25, 25], status=[0, 1, 0, 0])
    accumulate(state, restored, hq, *labels([10] * 4, [2] * 4, [np.nan] * 4))  # no labels
    r = compute_attribute_stats(state, replicates=100)
    assert r["hq_no_face_share"] == pytest.approx(1 / 4) and r["no_face_share"] == pytest.approx(1 / 4)
    assert r["gender_err"] == pytest.approx(2 / 3)          # images 0, 1, 3; errors: 1 (no face), 3 (flip)
    assert r["gender_err_found"] == pytest.approx(1 / 2)    # images 0, 3
    assert np.isnan(r["gender_err_label"]) and r["groups_by_label"] == 0.0


def test_noise_floor_from_the_perturbed_hq():
    state = empty_state()
    hq = pred([0, 1, 1, 0, -1], [3, 4, 5, 6, -1], [20, 30, 40, 50, np.nan], status=[0, 0, 0, 0, 1])
    perturbed = pred([0, 1, 0, -1, 1], [3, 5, 5, -1, 4], [21, 30, 43, np.nan, 10], status=[0, 0, 0, 1, 0])
    restored = pred([0, 1, 1, 0, 1], [3, 4, 5, 6, 4], [20, 30, 40, 50, 10])
    accumulate(state, restored, hq, *labels([10] * 5, [2] * 5, [np.nan] * 5), pred_p=perturbed)
    r = compute_attribute_stats(state, replicates=200)
    # HQ known for images 0-3; image 2 flips gender, image 3 loses its face on the copy
    assert r["noise_gender_err"] == pytest.approx(2 / 4)
    # image 1 moves from bin 4 to 5, image 3 no face
    assert r["noise_age_err"] == pytest.approx(2 / 4)
    assert r["noise_age_mae"] == pytest.approx((1 + 0 + 3) / 3)
    for key in ("noise_gender_err", "noise_age_err", "noise_age_mae"):
        assert r[key + "_lo"] <= r[key] <= r[key + "_hi"]
    # without perturbed predictions (older runs) the floor is undefined, not zero
    plain = empty_state()
    accumulate(plain, restored, hq, *labels([10] * 5, [2] * 5, [np.nan] * 5))
    assert np.isnan(compute_attribute_stats(plain, replicates=20)["noise_gender_err"])


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
    rows = {r["group"]: r for r in group_table(state, replicates=200, min_group=10)}
    assert set(rows) == {"20-29/female", "30-39/male"}
    assert rows["20-29/female"]["gender_err"] == pytest.approx(0.5) and rows["30-39/male"]["gender_err"] == 0
    assert rows["20-29/female"]["n"] == 20 and rows["20-29/female"]["gender_err_n"] == 20
    assert "gender_err" in rows["20-29/female"]["in_gap"].split(",")
    r = compute_attribute_stats(state, replicates=200, min_group=10)
    assert r["gender_err_gap"] == pytest.approx(0.5)
    assert r["gender_err_gap_lo"] < 0.5 < r["gender_err_gap_hi"]
    assert r["gender_err_gap_groups"] == 2 and r["gender_err_gap_min_n"] == 20
    assert r["groups_by_label"] == 1.0
    # default minimum group size 30: both groups are listed but too small for the gap
    default = compute_attribute_stats(state, replicates=50)
    assert np.isnan(default["gender_err_gap"]) and default["gender_err_gap_groups"] == 0
    assert {r["in_gap"] for r in group_table(state, replicates=20)} == {""}


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
    assert r["hq_gender_err_label"] < 0.4                  # accuracy above chance on HQ
    assert r["hq_age_mae"] < 15
    assert r["noise_gender_err"] <= r["gender_err"] + 0.1   # a 1-px shift + JPEG q95 barely moves it
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


def test_declared_directions_and_headline_keys():
    from bench.core.types import output_direction

    info = ("noise_gender_err", "noise_age_mae_hi", "hq_gender_err_label", "hq_age_mae", "fd_gender_uniform",
            "fd_age_uniform_hq", "gender_err_found", "age_err_label_found", "gender_err_gap_groups",
            "age_err_gap_min_n", "hq_no_face_share", "min_group")
    lower = ("gender_err", "age_err_label", "fd_gender_ref", "fd_age_label", "gender_err_gap", "no_face_share",
             "age_mae", "age_mae_ref")
    assert [output_direction(AttributeBias, k) for k in info] == ["info"] * len(info)
    assert [output_direction(AttributeBias, k) for k in lower] == ["lower"] * len(lower)
    state = empty_state()
    hq = pred([0, 1], [5, 6], [25, 35])
    accumulate(state, pred([0, 1], [5, 6], [25, 35]), hq, *labels([5, 6], [0, 1], [25, 35]), pred_p=hq)
    r = compute_attribute_stats(state, replicates=20)
    assert set(AttributeBias.leaderboard_headline) <= set(r)
    assert r["noise_gender_err"] == 0 and r["fd_gender_ref"] == 0 and r["fd_gender_label"] == 0
