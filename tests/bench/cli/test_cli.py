"""The command line, end to end, as the README uses it."""
import subprocess
import sys

import pandas as pd
import pytest

from bench.cli import main


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("run", "leaderboard", "list", "errors", "assets"):
        assert command in out


def test_list_has_one_line_descriptions(capsys):
    assert main(["list", "methods"]) == 0
    out = capsys.readouterr().out
    assert "bicubic" in out and "bilinear" in out and "Bicubic upsampling" in out


def test_unknown_method_gets_did_you_mean(capsys, tmp_path):
    code = main(["run", "--method", "bicubc", "--limit", "2", "--store", str(tmp_path / "r.sqlite")])
    assert code == 2
    assert "Did you mean 'bicubic'" in capsys.readouterr().err


def test_synthetic_run_then_leaderboard_in_a_subprocess(tmp_path):
    store, out = tmp_path / "r.sqlite", tmp_path / "lb"
    done = subprocess.run([sys.executable, "-m", "bench", "run", "--method", "bicubic", "--dataset", "synthetic",
                           "-D", "n=8", "--store", str(store), "--no-progress"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "SYNTHETIC" in done.stdout and "psnr" in done.stdout and "8 ok, 0 failed" in done.stdout
    board = subprocess.run([sys.executable, "-m", "bench", "leaderboard", "--store", str(store), "--out", str(out)],
                           capture_output=True, text=True)
    assert board.returncode == 0, board.stderr
    assert "psnr ↑" in board.stdout and "SYNTHETIC" in board.stdout
    frame = pd.read_csv(out / "leaderboard.csv")
    assert frame.loc[0, "method"] == "bicubic" and frame.loc[0, "images"] == 8 and 5 < frame.loc[0, "psnr"] < 60


def test_utkface_x8_limit_500_fills_store_and_leaderboard(tmp_path, utkface_dir, capsys):
    store = tmp_path / "r.sqlite"
    assert main(["run", "--method", "bicubic", "--dataset", "utkface", "--root", str(utkface_dir),
                 "--degradation", "x8", "--limit", "500", "--metrics", "psnr,ssim", "--store", str(store),
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "500 ok, 0 failed" in out
    # the malformed name of the real folder is reported, not a crash (a 16-digit datetime parses: issue 22)
    assert out.count("malformed UTKFace name") == 1 and "61_3_20170109150557335.jpg.chip.jpg" in out
    assert main(["leaderboard", "--store", str(store), "--out", str(tmp_path / "lb"), "--wide"]) == 0
    md = capsys.readouterr().out
    row = next(line for line in md.splitlines() if line.startswith("| bicubic"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "500" and cells[2] == "0"
    assert 15 < float(cells[3]) < 40 and 0.3 < float(cells[4]) < 1.0  # PSNR dB, SSIM


def test_unknown_dataset_option_is_a_clear_error(capsys, tmp_path):
    code = main(["run", "--dataset", "synthetic", "-D", "nn=4", "--store", str(tmp_path / "r.sqlite")])
    assert code == 2
    err = capsys.readouterr().err
    assert "dataset 'synthetic' has no option 'nn'" in err and "Did you mean 'n'" in err


def test_metric_options_reach_the_metric_and_a_changed_configuration_is_refused(tmp_path, capsys):
    store = str(tmp_path / "r.sqlite")
    base = ["run", "--method", "bicubic", "--dataset", "synthetic", "-D", "n=4", "--metrics", "psnr",
            "--store", store, "--no-progress"]
    assert main(base) == 0
    rgb = [float(line.split("mean")[1].split()[0]) for line in capsys.readouterr().out.splitlines()
           if line.strip().startswith("psnr:")]
    # the same run asked for psnr with another configuration: refused, naming what changed, nothing mixed
    assert main(base + ["-X", "psnr.channel=y"]) == 2
    err = capsys.readouterr().err
    assert "already holds metric 'psnr' computed with another configuration" in err
    assert 'channel: "rgb" -> "y"' in err and "bench runs remove" in err
    assert main(["runs", "remove", "--store", store, "--metric", "psnr", "--yes",
                 __import__("bench.api", fromlist=["runs"]).runs(store)[0]["run_id"]]) == 0
    capsys.readouterr()
    assert main(base + ["-X", "psnr.channel=y"]) == 0  # after removing the old values, computed anew
    y = [float(line.split("mean")[1].split()[0]) for line in capsys.readouterr().out.splitlines()
         if line.strip().startswith("psnr:")]
    from bench.harness.store import ResultStore

    with ResultStore(store) as s:
        runs = s.runs()
        assert s.run_metrics(runs[0]["run_id"])["psnr"]["options"] == {"channel": "y"}
    assert len(runs) == 1 and len(rgb) == len(y) == 1 and rgb[0] != y[0]


def test_bad_metric_options_are_clear_errors(tmp_path, capsys):
    store = str(tmp_path / "r.sqlite")
    base = ["run", "--dataset", "synthetic", "-D", "n=2", "--metrics", "psnr", "--store", store, "--no-progress"]
    assert main(base + ["-X", "psnr.chanel=y"]) == 2
    assert "Did you mean 'channel'" in capsys.readouterr().err
    assert main(base + ["-X", "ssim.channel=y"]) == 2
    assert "does not compute" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(base + ["-X", "channel=y"])
    assert "METRIC.KEY=VALUE" in capsys.readouterr().err


def test_attributes_flag_is_the_debiasfr_attribute_option(tmp_path, capsys):
    store = str(tmp_path / "r.sqlite")
    base = ["run", "--method", "debiasfr", "-M", "weights=random", "-M",
            "config={out_size: 32, num_style_feat: 32, channel_multiplier: 1, narrow: 0.0625, num_mlp: 1}",
            "--dataset", "synthetic", "-D", "n=2", "--metrics", "psnr", "--store", store, "--no-progress"]
    assert main(base + ["--attributes", "age=30-39:0.7,40-49:0.3;gender=female"]) == 0
    assert main(base + ["--attributes", "age=ancient"]) == 2
    assert "unknown age 'ancient'" in capsys.readouterr().err


def test_weights_flag_is_the_method_weights_option(tmp_path, capsys):
    store = str(tmp_path / "r.sqlite")
    code = main(["run", "--method", "gfpgan", "--weights", str(tmp_path / "GFPGANv1.3.pth"), "--dataset", "synthetic",
                 "-D", "n=2", "--metrics", "psnr", "--store", store, "--no-progress"])
    assert code == 2
    assert "GFPGANv1.3.pth does not exist" in capsys.readouterr().err
