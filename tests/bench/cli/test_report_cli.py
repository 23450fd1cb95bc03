"""``bench report`` and ``bench export`` on the command line: files, progress, one-line errors."""
from __future__ import annotations

import pandas as pd

from bench.cli import main
from bench.harness.store import ResultStore
from tests.leaderboards.report_support import N, report_store  # noqa: F401 (fixture)


def test_report_command(report_store, tmp_path, capsys):
    with ResultStore(report_store, readonly=True) as db:
        runs = db.runs()
    chosen = [r for r in runs if r["protocol"] == "x4"]
    out = tmp_path / "rep"
    code = main(["report", "--store", str(report_store), "--out", str(out), "--gallery", "1", "--intervals",
                 "--runs", ",".join(r["run_id"][:8] for r in chosen)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"wrote {out / 'report.html'}" in captured.out and "building the tables" in captured.err
    table = pd.read_csv(out / "paper_table.csv")
    assert set(table["protocol"]) == {"x4"} and set(table["method"]) == {"bicubic", "bilinear"}
    assert "±" in (out / "paper_table.md").read_text(encoding="utf-8")
    # one protocol: no resolution axis, the figure is skipped with a note in the page
    assert not (out / "figures" / "attr_vs_resolution.png").exists() and (out / "figures" / "flips.png").exists()
    assert "attr_vs_resolution: skipped" in (out / "report.html").read_text(encoding="utf-8")


def test_report_errors_are_one_line(report_store, tmp_path, capsys):
    assert main(["report", "--store", str(tmp_path / "none.sqlite"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no results store at" in err
    assert main(["report", "--store", str(report_store), "--out", str(tmp_path), "--runs", "zzzz"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no run(s) with id 'zzzz'" in err
    assert main(["report", "--store", str(report_store), "--out", str(tmp_path), "--dataset", "ffhq"]) == 2
    assert "matches the selection" in capsys.readouterr().err


def test_export_command(report_store, tmp_path, capsys):
    with ResultStore(report_store, readonly=True) as db:
        runs = db.runs()
        n_scores = sum(len(db.scores(r["run_id"])) for r in runs)
    assert main(["export", "--all", "--store", str(report_store), "--out", str(tmp_path / "all.csv")]) == 0
    frame = pd.read_csv(tmp_path / "all.csv")
    assert (frame["source"] == "score").sum() == n_scores
    assert f"{len(frame)} row(s), {len(runs)} run(s)" in capsys.readouterr().out
    assert main(["export", runs[0]["run_id"][:8], "--wide", "--format", "parquet", "--store", str(report_store),
                 "--out", str(tmp_path / "one.parquet")]) == 0
    assert len(pd.read_parquet(tmp_path / "one.parquet")) == N
    capsys.readouterr()
    assert main(["export", "--store", str(report_store), "--out", str(tmp_path / "x.csv")]) == 2
    assert "give run ids or --all" in capsys.readouterr().err
