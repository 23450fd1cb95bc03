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
