"""Per-image results grouped by a labelled attribute (leaderboards.groups, bench groups)."""
import math
import sqlite3

import numpy as np
import pytest
from scipy import stats

from bench.api import group_scores, run
from bench.cli import main


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory):
    store = tmp_path_factory.mktemp("groups") / "g.sqlite"
    summary = run(method="bicubic", dataset="synthetic", dataset_options={"n": 40, "male_fraction": 0.6},
                  metrics="psnr,ssim", store=store, progress=False)
    return store, summary.run_id


def _direct(store, run_id, metric):
    """Values per gender label straight from the store's tables (an independent path)."""
    import json

    with sqlite3.connect(store) as conn:
        rows = conn.execute("SELECT s.attributes, sc.value FROM scores sc JOIN samples s ON s.run_id=sc.run_id AND "
                            "s.sample_id=sc.sample_id WHERE sc.run_id=? AND sc.metric=?", (run_id, metric)).fetchall()
    out = {}
    for attributes, value in rows:
        gender = json.loads(attributes)["gender"]
        out.setdefault({0: "female", 1: "male"}[gender], []).append(value)
    return {k: np.asarray(v) for k, v in out.items()}


def test_group_means_intervals_gap_and_kruskal_wallis_match_a_direct_computation(synthetic_run):
    store, run_id = synthetic_run
    frame = group_scores(run_id, "gender", store=store, min_group=10)
    assert set(frame["metric"]) == {"psnr", "ssim"}
    for metric in ("psnr", "ssim"):
        direct = _direct(store, run_id, metric)
        part = frame[frame["metric"] == metric].set_index("group")
        assert set(part.index) == set(direct)
        for group, values in direct.items():
            row = part.loc[group]
            half = stats.t.ppf(0.975, values.size - 1) * values.std(ddof=1) / math.sqrt(values.size)
            assert row["n"] == values.size and row["mean"] == pytest.approx(values.mean())
            assert (row["lo"], row["hi"]) == pytest.approx((values.mean() - half, values.mean() + half))
        means = [v.mean() for v in direct.values()]
        assert part["gap"].iloc[0] == pytest.approx(max(means) - min(means))
        assert part["kruskal_p"].iloc[0] == pytest.approx(stats.kruskal(*direct.values()).pvalue, rel=1e-9)


def test_small_groups_are_shown_but_not_tested(synthetic_run):
    store, run_id = synthetic_run
    frame = group_scores(run_id, "gender", store=store, min_group=1000)
    assert not frame["in_test"].any() and frame["kruskal_p"].isna().all() and frame["gap"].isna().all()
    assert frame["n"].sum() == 2 * 40  # every face once per metric


def test_cli_prints_the_table_and_refuses_an_unlabelled_attribute(synthetic_run, capsys, tmp_path):
    store, run_id = synthetic_run
    assert main(["groups", run_id[:8], "--by", "gender", "--store", str(store), "--min-group", "5",
                 "--metric", "psnr", "--csv", str(tmp_path / "g.csv")]) == 0
    out = capsys.readouterr().out
    assert "| psnr | female |" in out and "| psnr | male |" in out and "ssim" not in out
    assert (tmp_path / "g.csv").read_text().startswith("metric,group,n,mean")
    assert main(["groups", run_id, "--by", "race", "--store", str(store)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no face is labelled with 'race'" in err


def test_crossed_attributes_group_by_both_labels(synthetic_run):
    """``--by age_bin,gender``: one group per (age bin, gender) pair, each the direct subset of the store."""
    import json

    from bench.core.types import AGE_BIN_LABELS

    store, run_id = synthetic_run
    frame = group_scores(run_id, "age_bin,gender", store=store, metrics=["psnr"], min_group=1)
    with sqlite3.connect(store) as conn:
        rows = conn.execute("SELECT s.attributes, sc.value FROM scores sc JOIN samples s ON s.run_id=sc.run_id AND "
                            "s.sample_id=sc.sample_id WHERE sc.run_id=? AND sc.metric='psnr'", (run_id,)).fetchall()
    direct = {}
    for attributes, value in rows:
        a = json.loads(attributes)
        direct.setdefault(f"{AGE_BIN_LABELS[a['age_bin']]} {['female', 'male'][a['gender']]}", []).append(value)
    part = frame.set_index("group")
    assert set(part.index) == set(direct) and len(direct) > 2
    for group, values in direct.items():
        assert part.loc[group, "n"] == len(values) and part.loc[group, "mean"] == pytest.approx(np.mean(values))


def test_rates_get_wilson_intervals_equal_to_scipys():
    """A 0/1 output (identity.fail) gets Wilson's score interval, as scipy's binomtest computes it."""
    from leaderboards.groups import _mean_interval

    for k, n in ((0, 12), (3, 18), (29, 30)):
        values = np.r_[np.ones(k), np.zeros(n - k)]
        mean, lo, hi = _mean_interval(values)
        ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert mean == pytest.approx(k / n) and (lo, hi) == pytest.approx((ci.low, ci.high), abs=1e-9)
        assert 0.0 <= lo <= hi <= 1.0
