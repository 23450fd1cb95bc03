"""``bench compare`` end to end: run-id prefixes, the printed table, the CSV, and one-line errors."""
from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bench.cli import main


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    from bench import api

    store = tmp_path_factory.mktemp("cli_compare") / "r.sqlite"
    common = dict(dataset="synthetic", dataset_options={"n": 24}, metrics="psnr,ssim", store=store, progress=False)
    a = api.run(method="bicubic", **common)
    b = api.run(method="bilinear", **common)
    other = api.run(method="bilinear", degradation="x4", **{**common, "metrics": "psnr"})
    return store, a.run_id, b.run_id, other.run_id


def test_compare_prints_the_table_and_writes_the_csv(two_runs, tmp_path, capsys):
    store, a, b, _ = two_runs
    out = tmp_path / "cmp" / "c.csv"
    assert main(["compare", a[:6], b[:6], "--store", str(store), "--csv", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "bicubic" in printed and "bilinear" in printed and "24 faces both restored" in printed
    assert "| psnr | ↑ |" in printed and "Wilcoxon signed-rank (exact)" in printed and f"wrote {out}" in printed
    frame = pd.read_csv(out).set_index("metric")
    assert list(frame.columns) == ["direction", "a", "b", "difference", "lo", "hi", "test", "p", "p_holm", "n"]
    with sqlite3.connect(store) as conn:
        va, vb = (dict(conn.execute("SELECT sample_id, value FROM scores WHERE run_id=? AND metric='psnr'", (r,)))
                  for r in (a, b))
    x, y = np.array([va[s] for s in sorted(va)]), np.array([vb[s] for s in sorted(va)])
    assert frame.loc["psnr", "p"] == pytest.approx(stats.wilcoxon(x, y).pvalue, rel=1e-9)
    assert frame.loc["psnr", "difference"] == pytest.approx(x.mean() - y.mean())
    # --metric keeps one metric; the API gives the same frame
    assert main(["compare", a, b, "--store", str(store), "--metric", "ssim"]) == 0
    printed = capsys.readouterr().out
    assert "| ssim |" in printed and "| psnr |" not in printed
    from bench.api import compare

    api_frame = compare(a[:6], b[:6], store=store).set_index("metric")
    pd.testing.assert_series_equal(api_frame["p"], frame["p"], check_names=False)


@pytest.mark.parametrize("case,expected", [
    ("other_setting", "are not of the same setting"),
    ("unknown", "no run(s) with id 'zzzz'"),
    ("no_store", "no results store at"),
])
def test_compare_errors_are_one_line(two_runs, tmp_path, capsys, case, expected):
    store, a, _, other = two_runs
    argv = {"other_setting": ["compare", a, other, "--store", str(store)],
            "unknown": ["compare", a, "zzzz", "--store", str(store)],
            "no_store": ["compare", a, other, "--store", str(tmp_path / "none.sqlite")]}[case]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("bench: error: ") and expected in err and err.count("\n") == 1, err
