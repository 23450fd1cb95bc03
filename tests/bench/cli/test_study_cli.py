"""``bench study``: list, show, run --dry-run, run (with the report restricted to the study's runs), --help,
exit codes, and the run options passed to every cell."""
from __future__ import annotations

import sqlite3

import pytest
import yaml

from bench.cli import main

TINY = {"name": "tiny", "description": "two interpolations on synthetic faces", "limit": 4, "batch_size": 2,
        "datasets": [{"name": "synthetic", "options": {"n": 6, "size": 32}, "degradations": ["x4", "x8"]}],
        "methods": [{"name": "bicubic"}, {"name": "bilinear", "label": "linear"}], "metrics": ["psnr", "ssim"]}


@pytest.fixture
def study_file(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def test_help_of_study_run(capsys):
    with pytest.raises(SystemExit) as info:
        main(["study", "run", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for flag in ("FILE_OR_NAME", "--dry-run", "--limit", "--root DATASET=PATH", "--store", "--out", "--executor",
                 "--ray-workers", "--no-report", "--no-progress"):
        assert flag in out, flag


def test_list_and_show_the_shipped_studies(capsys):
    assert main(["study", "list"]) == 0
    out = capsys.readouterr().out
    assert {line.split()[0] for line in out.splitlines()} == {"utkface-small", "debiasfr-paper", "resolution-bias"}
    assert "12 cell(s)" in out.splitlines()[[l.split()[0] for l in out.splitlines()].index("utkface-small")]
    assert main(["study", "show", "utkface-small"]) == 0
    out = capsys.readouterr().out.splitlines()
    cells = [line.split() for line in out if line.strip().split(" ")[0].isdigit()]
    assert [(c[2], c[3]) for c in cells] == [(d, m) for d in ("x4", "x8", "x16", "x32")
                                             for m in ("bicubic", "bilinear", "debiasfr")]
    assert all(c[1] == "utkface" and c[4] == "psnr,ssim,niqe,fid,attr" for c in cells)
    assert "run options: seed=0, limit=500" in out


def test_dry_run_prints_the_cells_and_the_validation_result(capsys, study_file, tmp_path):
    store = tmp_path / "s.sqlite"
    assert main(["study", "run", str(study_file), "--dry-run", "--store", str(store), "--limit", "3"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.strip().split(" ")[0].isdigit()]
    assert rows == [["0", "synthetic", "x4", "bicubic", "psnr,ssim", "3"], ["1", "synthetic", "x4", "linear",
                    "psnr,ssim", "3"], ["2", "synthetic", "x8", "bicubic", "psnr,ssim", "3"],
                    ["3", "synthetic", "x8", "linear", "psnr,ssim", "3"]]
    assert "dry run: 12 image(s) in all; nothing was run" in out and "validation: ok" in out
    assert not store.exists()


def test_dry_run_of_an_invalid_file_lists_the_problems_and_exits_2(capsys, study_file, tmp_path):
    study_file.write_text(yaml.safe_dump({**TINY, "methods": [{"name": "bicubc"}, {"name": "gfpgan"}]}))
    assert main(["study", "run", str(study_file), "--dry-run", "--store", str(tmp_path / "s.sqlite")]) == 2
    out = capsys.readouterr().out
    assert "validation: 2 problem(s):" in out
    assert f"{study_file}: methods[0].name: unknown method 'bicubc'. Did you mean 'bicubic'?" in out
    assert f"{study_file}: methods[1] (gfpgan): weights missing: asset 'gfpgan_v1_3'" in out


def test_run_of_an_invalid_file_is_one_error_listing_every_problem(capsys, study_file, tmp_path):
    study_file.write_text(yaml.safe_dump({**TINY, "seed": -2, "metrics": ["psnr", "sssim"]}))
    store = tmp_path / "s.sqlite"
    assert main(["study", "run", str(study_file), "--store", str(store), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"bench: error: study {study_file}: 2 problem(s), nothing was run:")
    assert f"{study_file}: seed: option seed (--seed) must be an integer" in err
    assert f"{study_file}: metrics: unknown metric 'sssim'. Did you mean 'ssim'" in err
    assert not store.exists()


def test_unknown_study_name_suggests_a_shipped_one(capsys):
    assert main(["study", "run", "utkface-smal", "--dry-run"]) == 2
    assert "Did you mean 'utkface-small'?" in capsys.readouterr().err


def test_run_then_the_report_of_the_study_runs_only(capsys, study_file, tmp_path, monkeypatch):
    import leaderboards.report

    store, out = tmp_path / "s.sqlite", tmp_path / "out"
    # a run of the same store that is not part of the study: the report must leave it out
    assert main(["run", "--method", "bicubic", "--dataset", "synthetic", "-D", "n=6", "--limit", "2",
                 "--store", str(store), "--no-progress"]) == 0
    seen = {}

    def fake_report(store_, out_, run_ids=None, title=None):
        seen.update(store=str(store_), out=str(out_), run_ids=list(run_ids), title=title)
        return {"markdown": out_ / "report.md"}

    monkeypatch.setattr(leaderboards.report, "write_report", fake_report)
    capsys.readouterr()
    assert main(["study", "run", str(study_file), "--store", str(store), "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    with sqlite3.connect(store) as conn:
        study_runs = [r for (r,) in conn.execute("SELECT run_id FROM runs WHERE n_planned = 4 ORDER BY run_id")]
        all_runs = conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    assert all_runs == 5 and len(study_runs) == 4
    assert sorted(seen["run_ids"]) == study_runs and seen["store"] == str(store) and seen["title"] == "study tiny"
    assert seen["out"] == str(out / "studies" / "tiny")
    assert "4 done, 0 skipped (already complete in the store), 0 failed" in text
    assert f"report markdown: {out / 'studies' / 'tiny' / 'report.md'}" in text
    for run_id in study_runs:
        assert run_id in text


def test_the_run_options_reach_the_api(monkeypatch, study_file):
    import bench.api

    seen = {}

    class Summary:
        exit_code = 0

        def format(self):
            return "ok"

    def fake_study(path, **kwargs):
        seen.update(kwargs, path=path)
        return Summary()

    monkeypatch.setattr(bench.api, "study", fake_study)
    assert main(["study", "run", str(study_file), "--executor", "ray", "--address", "auto", "--ray-workers", "3",
                 "--shard-size", "8", "--root", "synthetic=/data/x", "--limit", "5", "--no-report",
                 "--no-progress", "--store", "a.sqlite"]) == 0
    assert (seen["executor"], seen["ray_address"], seen["ray_workers"], seen["shard_size"]) == ("ray", "auto", 3, 8)
    assert (seen["roots"], seen["limit"], seen["report"], seen["progress"], seen["store"]) == \
        ({"synthetic": "/data/x"}, 5, False, False, "a.sqlite")


def test_a_failed_cell_gives_exit_code_1(capsys, study_file, tmp_path, monkeypatch):
    from bench.harness import runner as runner_module

    original = runner_module.Runner.run

    def failing(self):
        if self.plan.protocol_name() == "x8" and self.plan.method_name == "bicubic":
            raise OSError("device full")
        return original(self)

    monkeypatch.setattr(runner_module.Runner, "run", failing)
    code = main(["study", "run", str(study_file), "--store", str(tmp_path / "s.sqlite"), "--no-progress",
                 "--no-report"])
    out = capsys.readouterr().out
    assert code == 1
    assert "3 done, 0 skipped (already complete in the store), 1 failed" in out
    assert "failed cell 2 (synthetic/x8/bicubic): OSError: device full" in out


def test_without_the_report_module_the_study_refuses_to_start_and_names_no_report(capsys, study_file, tmp_path,
                                                                                    monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "leaderboards.report", None)  # `from leaderboards.report import ...` fails
    store = tmp_path / "s.sqlite"
    assert main(["study", "run", str(study_file), "--store", str(store), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "needs leaderboards.report.write_report" in err and "--no-report" in err
    assert not store.exists()
    assert main(["study", "run", str(study_file), "--store", str(store), "--no-progress", "--no-report"]) == 0


def test_study_without_an_action_prints_its_help(capsys):
    assert main(["study"]) == 2
    out = capsys.readouterr().out
    assert "list" in out and "show" in out and "run" in out
