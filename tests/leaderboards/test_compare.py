"""Paired comparison of two runs, and the significance marks of the leaderboard.

Every expected p-value is recomputed here independently: per-image values read with plain SQL and
``scipy.stats.wilcoxon``; discordant counts from the arrays the test wrote and ``scipy.stats.binomtest``;
the paired bootstrap of a set-level mean from the raw stored vectors with numpy; Holm by hand.
"""
from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from scipy import stats

from bench.harness.store import ResultStore, SampleRecord, SetRows
from leaderboards.compare import compare_runs, to_text
from leaderboards.tables import build_tables, to_markdown


def _holm2(p1: float, p2: float) -> tuple[float, float]:
    """Holm of two p-values by hand: the smaller times 2, the larger times 1 (kept monotone)."""
    lo, hi = sorted((p1, p2))
    first, second = min(1.0, 2 * lo), min(1.0, max(2 * lo, hi))
    return (first, second) if p1 <= p2 else (second, first)


@pytest.fixture(scope="module")
def synthetic_store(tmp_path_factory):
    from bench import api

    store = tmp_path_factory.mktemp("compare") / "r.sqlite"
    common = dict(dataset="synthetic", dataset_options={"n": 24}, metrics="psnr,ssim", store=store, progress=False)
    a = api.run(method="bicubic", **common)
    b = api.run(method="bilinear", **common)
    return store, a.run_id, b.run_id


def _values(store, run_id, metric):
    with sqlite3.connect(store) as conn:
        return dict(conn.execute("SELECT sample_id, value FROM scores WHERE run_id=? AND metric=?", (run_id, metric)))


def test_compare_runs_per_image_wilcoxon_and_holm(synthetic_store):
    store, a, b = synthetic_store
    frame = compare_runs(store, a, b).set_index("metric")
    assert set(frame.index) == {"psnr", "ssim"} and frame.attrs["n_common"] == 24
    raw = {}
    for metric in ("psnr", "ssim"):
        va, vb = _values(store, a, metric), _values(store, b, metric)
        ids = sorted(va)
        x, y = np.array([va[s] for s in ids]), np.array([vb[s] for s in ids])
        row = frame.loc[metric]
        assert row["n"] == 24 and row["a"] == pytest.approx(x.mean()) and row["b"] == pytest.approx(y.mean())
        assert row["difference"] == pytest.approx(x.mean() - y.mean())
        raw[metric] = stats.wilcoxon(x, y).pvalue
        assert row["p"] == pytest.approx(raw[metric], rel=1e-9) and "Wilcoxon" in row["test"]
    hp, hs = _holm2(raw["psnr"], raw["ssim"])
    assert frame.loc["psnr", "p_holm"] == pytest.approx(hp, rel=1e-9)
    assert frame.loc["ssim", "p_holm"] == pytest.approx(hs, rel=1e-9)
    # bicubic is really better than bilinear on these faces: a significant paired difference
    assert frame.loc["psnr", "difference"] > 0 and frame.loc["psnr", "p_holm"] < 0.01
    # swapping the runs flips the difference, not the p-value; a metric filter keeps only that metric
    swapped = compare_runs(store, b, a, metrics=["psnr"]).set_index("metric")
    assert list(swapped.index) == ["psnr"]
    assert swapped.loc["psnr", "difference"] == pytest.approx(-frame.loc["psnr", "difference"])
    assert swapped.loc["psnr", "p"] == pytest.approx(frame.loc["psnr", "p"])
    assert "psnr" in to_text(frame.reset_index()) and "24 faces" in to_text(frame.reset_index())


def test_compare_refuses_other_settings_and_no_common_ids(synthetic_store, tmp_path):
    from bench import api

    store, a, _ = synthetic_store
    other = tmp_path / "o.sqlite"
    import shutil

    shutil.copy(store, other)
    x4 = api.run(method="bilinear", dataset="synthetic", dataset_options={"n": 24}, metrics="psnr",
                 degradation="x4", store=other, progress=False)
    with pytest.raises(ValueError, match="not of the same setting.*protocol"):
        compare_runs(other, a, x4.run_id)
    with pytest.raises(ValueError, match="compared with itself"):
        compare_runs(store, a, a)
    # same setting, disjoint faces
    db = ResultStore(tmp_path / "d.sqlite")
    ident = {"dataset": {"name": "utkface"}, "protocol": "x8", "seed": 0}
    ids = []
    for method, samples in (("m1", ["s0", "s1"]), ("m2", ["s2", "s3"])):
        rid = db.open_run({**ident, "method": method}, method=method, dataset="utkface", protocol="x8", seed=0,
                          synthetic=False, config={}, n_planned=2)
        db.write_batch(rid, [SampleRecord(s, scores={"psnr": 1.0}) for s in samples])
        ids.append(rid)
    with pytest.raises(ValueError, match="no sample id that both restored"):
        compare_runs(db, *ids)
    db.close()


# -- attribute flips: exact McNemar from the stored prediction vectors -----------------------------------

CHANNEL = "attr/stub-0/age_years,age_bin,gender,p_male,status"
N = 40


def _attr_store(path, restored: dict[str, tuple[np.ndarray, np.ndarray]], hq, labels, psnr):
    """A store with one run per method: attr prediction vectors (restored + shared HQ) and a PSNR score."""
    db = ResultStore(path)
    db.register_metrics([
        {"name": "attr", "higher_is_better": False, "set_level": True,
         "layout": {"headline": ["gender_err", "age_err", "gender_err_label", "age_err_label"]},
         "directions": {"*_err": "lower", "*_err_label": "lower"}},
        {"name": "psnr", "higher_is_better": True}])
    ident = {"dataset": {"name": "utkface", "root": "/d", "options": {}}, "protocol": "x8", "seed": 0}
    ids = [f"s{i:02d}" for i in range(N)]
    runs = {}
    for method, (gender, age_bin) in restored.items():
        rid = db.open_run({**ident, "method": method}, method=method, dataset="utkface", protocol="x8", seed=0,
                          synthetic=False, config={}, n_planned=N)
        db.register_run_metrics(rid, {"attr": {"options": {}, "config": {"classifier": "stub"},
                                               "channels": {"restored": ("restored", CHANNEL),
                                                            "hq": ("reference", CHANNEL)}}})
        records = [SampleRecord(s, attributes={"gender": int(labels[0][i]), "age_bin": int(labels[1][i])},
                                hq_key=f"hq{i}", scores={"psnr": float(psnr[method][i])}) for i, s in enumerate(ids)]
        vec = lambda g, b: np.array([30.0, b, g, float(g == 1), 0.0 if g >= 0 else 1.0])
        rows = SetRows(vectors=[(s, CHANNEL, vec(gender[i], age_bin[i])) for i, s in enumerate(ids)],
                       ref_vectors=[(CHANNEL, f"hq{i}", vec(hq[0][i], hq[1][i])) for i in range(N)],
                       members=[("attr", s, None) for s in ids])
        db.write_batch(rid, records, rows)
        errs = _errors(gender, age_bin, hq, labels)
        db.write_set_results(rid, "attr", {k: float(np.nanmean(v)) for k, v in errs.items()}, ids)
        db.finish_run(rid)
        runs[method] = rid
    db.close()
    return runs


def _errors(gender, age_bin, hq, labels):
    """Wrong (1) / right (0) / undefined (nan) per image, written out directly from the definitions: a restored
    image without a face (gender -1, status 1 in the stub's vectors) is wrong wherever the target is known."""
    out = {}
    for key, pred, ref in (("gender_err", gender, hq[0]), ("age_err", age_bin, hq[1]),
                           ("gender_err_label", gender, labels[0]), ("age_err_label", age_bin, labels[1])):
        out[key] = np.array([np.nan if r < 0 else 1.0 if g < 0 else np.nan if p < 0 else float(p != r)
                             for p, r, g in zip(pred, ref, gender)])
    return out


@pytest.fixture
def attr_case(tmp_path):
    rng = np.random.default_rng(4)
    labels = (rng.integers(0, 2, N), rng.integers(0, 10, N))
    hq = (labels[0].copy(), labels[1].copy())
    hq[0][:3] = 1 - hq[0][:3]  # the classifier errs on 3 HQ faces
    good_g, good_b = hq[0].copy(), hq[1].copy()
    good_g[[5, 6]] = 1 - good_g[[5, 6]]
    good_g[7] = -1  # no face found on one restored image: an error wherever its target is known
    bad_g, bad_b = hq[0].copy(), (hq[1] + (rng.random(N) < 0.5)) % 10
    bad_g[5:20] = 1 - bad_g[5:20]
    close_g, close_b = good_g.copy(), good_b.copy()
    close_g[[8, 9]] = 1 - close_g[[8, 9]]
    restored = {"good": (good_g, good_b), "bad": (bad_g, bad_b), "close": (close_g, close_b)}
    psnr = {"good": 30 + rng.normal(size=N), "bad": 25 + rng.normal(size=N)}
    psnr["close"] = psnr["good"] + rng.normal(scale=0.05, size=N) - 0.02  # raw p ~0.03, not significant after Holm
    runs = _attr_store(tmp_path / "a.sqlite", restored, hq, labels, psnr)
    return tmp_path / "a.sqlite", runs, restored, hq, labels


def test_attribute_flips_exact_mcnemar(attr_case):
    store, runs, restored, hq, labels = attr_case
    frame = compare_runs(store, runs["bad"], runs["good"]).set_index("metric")
    assert set(frame.index) == {"attr.gender_err", "attr.age_err", "attr.gender_err_label", "attr.age_err_label",
                                "psnr"}
    wrong_a, wrong_b = _errors(*restored["bad"], hq, labels), _errors(*restored["good"], hq, labels)
    for key in ("gender_err", "age_err", "gender_err_label", "age_err_label"):
        a, b = wrong_a[key], wrong_b[key]
        ok = ~np.isnan(a) & ~np.isnan(b)
        only_a, only_b = int(((a == 1) & (b == 0)).sum()), int(((a == 0) & (b == 1)).sum())
        row = frame.loc[f"attr.{key}"]
        expected = stats.binomtest(only_a, only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
        assert row["p"] == pytest.approx(expected, rel=1e-9), key
        assert row["n"] == ok.sum() and row["a"] == pytest.approx(a[ok].mean())
        assert row["b"] == pytest.approx(b[ok].mean())
        assert f"only A wrong {only_a}, only B wrong {only_b}" in row["test"]
    assert frame.loc["attr.gender_err", "n"] == N  # the restored image without a face counts (as an error)
    assert wrong_b["gender_err"][7] == 1.0
    assert frame.loc["attr.gender_err", "p_holm"] < 0.05
    # Holm over the five rows, by hand
    p = frame["p"].to_numpy()
    order = np.argsort(p)
    adjusted = np.maximum.accumulate([min(1.0, (5 - k) * p[order[k]]) for k in range(5)])
    np.testing.assert_allclose(frame["p_holm"].to_numpy()[order], adjusted, rtol=1e-12)


def test_leaderboard_marks_the_runs_not_significantly_different_from_the_best(attr_case):
    store, runs, restored, hq, labels = attr_case
    (table,) = build_tables(store)
    md = to_markdown([table])
    rows = {line.split(" | ")[0][2:]: line for line in md.splitlines() if line.startswith("| ") and "---" not in line}
    frame = table["frame"].set_index("method")
    # the independent expectation: each non-best run against the best of the column, Holm over every test
    tests = {}
    for column, higher in (("psnr", True), ("attr.gender_err", False), ("attr.age_err", False),
                           ("attr.gender_err_label", False), ("attr.age_err_label", False)):
        best = frame[column].idxmax() if higher else frame[column].idxmin()
        for method in frame.index:
            if frame.loc[method, column] == frame.loc[best, column]:
                continue
            if column == "psnr":
                x, y = (np.array(list(_values(store, runs[m], "psnr").values())) for m in (best, method))
                tests[(column, method)] = stats.wilcoxon(x, y).pvalue
            else:
                key = column.split(".")[1]
                a, b = (_errors(*restored[m], hq, labels)[key] for m in (best, method))
                ok = ~np.isnan(a) & ~np.isnan(b)
                n10, n01 = int(((a == 1) & (b == 0) & ok).sum()), int(((a == 0) & (b == 1) & ok).sum())
                tests[(column, method)] = stats.binomtest(n10, n10 + n01, 0.5).pvalue if n10 + n01 else np.nan
    keys = [k for k in tests if np.isfinite(tests[k])]
    p = np.array([tests[k] for k in keys])
    order = np.argsort(p)
    adj = np.empty(len(p))
    adj[order] = np.maximum.accumulate([min(1.0, (len(p) - k) * p[order[k]]) for k in range(len(p))])
    expected_tied = {k for k, q in zip(keys, adj) if q > 0.05} | {k for k in tests if not np.isfinite(tests[k])}
    # the case is informative: "close" ties with the best on PSNR only thanks to Holm (raw p < 0.05), "bad" differs
    assert ("psnr", "close") in expected_tied and tests[("psnr", "close")] < 0.05
    assert ("psnr", "bad") not in expected_tied
    assert ("attr.gender_err", "bad") not in expected_tied
    headers = next(line for line in md.splitlines() if line.startswith("| Method"))
    names = [h.strip().split(" ")[0] for h in headers.strip("|").split("|")]
    for (column, method) in tests:
        cell = rows[method].strip("|").split("|")[names.index(column)]
        assert ("≈" in cell) == ((column, method) in expected_tied), (column, method, cell)
        assert "**" not in cell
    assert "≈: not significantly different from the best" in md and "Holm-corrected" in md
    assert "Wilcoxon signed-rank test on per-image values for psnr" in md
    assert "exact McNemar test on per-image errors for attr.gender_err" in md


# -- set-level values: paired bootstrap over the common ids ---------------------------------------------

def test_set_level_paired_bootstrap_matches_a_direct_numpy_bootstrap(tmp_path, registered):
    from baselines.interpolation import Bicubic, Bilinear
    from bench.core.registry import METRICS
    from bench.harness.runner import Runner
    from tests.bench.plugins import ArrayDataset, HalfDegradation, PixelSum

    class MeanPixel(PixelSum):
        name = "meanpx"
        outputs = {"mean": "higher"}

    registered(METRICS, "meanpx", MeanPixel, "test set-level mean intensity")
    store = tmp_path / "r.sqlite"
    ids = {}
    for method in (Bicubic(), Bilinear()):
        summary = Runner(method, ArrayDataset(n=12, missing=False), metrics="meanpx", degradation=HalfDegradation(),
                         store=store, progress=False, batch_size=4).run()
        ids[method.name] = summary.run_id
    frame = compare_runs(store, ids["bicubic"], ids["bilinear"], replicates=300, seed=9).set_index("metric")
    row = frame.loc["meanpx.mean"]
    # independently: the mean intensity from the raw stored vectors, bootstrapped with numpy
    with sqlite3.connect(store) as conn:
        vec = {rid: {sid: np.frombuffer(data, np.float64) for sid, data in conn.execute(
            "SELECT sample_id, data FROM vectors WHERE run_id=?", (rid,))} for rid in ids.values()}
    common = sorted(vec[ids["bicubic"]])

    def mean(rid, chosen):
        v = np.stack([vec[rid][s] for s in chosen])
        return v[:, 0].sum() / (3 * v[:, 1].sum())

    rng = np.random.default_rng(9)  # the documented convention: one rng.integers(0, n, n) draw per replicate
    diffs = []
    for _ in range(300):
        chosen = [common[i] for i in rng.integers(0, len(common), len(common))]
        diffs.append(mean(ids["bicubic"], chosen) - mean(ids["bilinear"], chosen))
    diffs = np.array(diffs)
    assert row["a"] == pytest.approx(mean(ids["bicubic"], common), rel=1e-12)
    assert row["difference"] == pytest.approx(mean(ids["bicubic"], common) - mean(ids["bilinear"], common), rel=1e-9)
    assert [row["lo"], row["hi"]] == pytest.approx(list(np.quantile(diffs, [0.025, 0.975])), rel=1e-9)
    p = min(1.0, 2 * min(1 + (diffs <= 0).sum(), 1 + (diffs >= 0).sum()) / 301)
    assert row["p"] == pytest.approx(p) and row["n"] == 12 and "paired bootstrap (300 replicates)" in row["test"]
    assert "meanpx.images" not in frame.index  # a count is not tested
