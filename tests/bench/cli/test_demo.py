"""``make demo``: the Makefile's commands, run as written (on 6 of its faces), print the attribute error
columns beside PSNR/SSIM for every method, with the "trained here" labels of both models."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

from bench.cli import main

MAKEFILE = Path(__file__).resolve().parents[3] / "Makefile"


def _demo_commands() -> list[list[str]]:
    """The ``bench`` argument lists of the ``demo`` recipe, with ``$(DEMO)`` expanded."""
    text = MAKEFILE.read_text(encoding="utf-8")
    demo = re.search(r"^DEMO\s*:=\s*(.*)$", text, re.M).group(1)
    recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", text, re.M).group(1)
    commands = []
    for line in recipe.splitlines():
        words = shlex.split(line.strip().replace("$(DEMO)", demo))
        assert words[0] == "$(BIN)/bench", line
        commands.append(words[1:])
    return commands


def test_the_demo_prints_attribute_errors_with_trained_here_labels(tmp_path, capsys):
    commands = _demo_commands()
    runs = [c for c in commands if c[0] == "run"]
    assert {c[c.index("--method") + 1] for c in runs} == {"debiasfr", "bicubic", "bilinear"}
    store = ["--store", str(tmp_path / "r.sqlite")]
    for command in runs:
        assert "attr_synthetic" in command[command.index("--metrics") + 1]
        assert main(command + ["-D", "n=6"] + store) == 0
    capsys.readouterr()
    board = next(c for c in commands if c[0] == "leaderboard")
    assert main(board + store + ["--out", str(tmp_path / "lb")]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("method"))
    header, table = lines[start], lines[start + 1:lines.index("", start)]
    for column in ("psnr", "ssim", "gender_err", "age_err"):
        assert column in header.split(), header
    assert "gender_err = attr_synthetic.gender_err" in out and "age_err = attr_synthetic.age_err" in out
    rows = {line.split()[0] for line in table}
    assert rows == {"bicubic", "bilinear", "debiasfr", "debiasfr[labels]"}
    flat = " ".join(out.split())                                                  # notes are wrapped
    assert "attr_synthetic: attribute classifier trained here" in flat           # the evaluator's label
    assert "debiasfr: tiny DebiasFR trained here" in flat                         # the restorer's label
    assert "debiasfr[labels]: tiny DebiasFR trained here" in flat
