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
    # the two malformed names of the real folder are reported, not a crash
    assert out.count("malformed UTKFace name") == 2 and "61_3_20170109150557335.jpg.chip.jpg" in out
    assert main(["leaderboard", "--store", str(store), "--out", str(tmp_path / "lb")]) == 0
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
