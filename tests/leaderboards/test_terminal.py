"""The compact leaderboard printed by ``bench leaderboard`` (leaderboards/terminal.py).

A store with many metrics (per-image and set-level, colliding keys, intervals, counts, informational keys) and
a long method name: every printed line fits the width, every headline value is printed in its method's row
(expected strings written out by hand from the stored values), informational columns are not, ``--wide``
prints the full Markdown as before and the files keep every column.
"""
from __future__ import annotations

import contextlib
import io

import pandas as pd
import pytest

from bench.cli import main
from bench.harness.store import ResultStore, SampleRecord, SetRows
from leaderboards.tables import build_tables
from leaderboards.terminal import format_tables, short_labels

LONG = "external:MyVeryLongRestorerName-v2"
PER_IMAGE = ("psnr", "ssim", "lpips", "niqe", "brisque", "musiq_koniq_quality")
#: per method: the two per-image values of each metric (means are exact in the printed precision)
VALUES = {
    "bicubic": {"psnr": (27.0, 28.0), "ssim": (0.8, 0.825), "lpips": (0.25, 0.35), "niqe": (7.5, 8.5),
                "brisque": (40.0, 41.0), "musiq_koniq_quality": (55.0, 56.0)},
    "bilinear": {"psnr": (26.0, 26.5), "ssim": (0.75, 0.76), "lpips": (0.4, 0.5), "niqe": (8.0, 9.0),
                 "brisque": (45.0, 46.0), "musiq_koniq_quality": (50.0, 51.0)},
    LONG: {"psnr": (29.0, 29.5), "ssim": (0.85, 0.86), "lpips": (0.2, 0.3), "niqe": (6.0, 6.5),
           "brisque": (30.0, 31.0), "musiq_koniq_quality": (60.0, 61.0)},
}
SET = {  # per method: fid value, attr / attr_detect gender and age errors
    "bicubic": (50.5, 0.2, 0.375, 0.25, 0.4375),
    "bilinear": (60.25, 0.3, 0.5, 0.3125, 0.5625),
    LONG: (40.125, 0.1, 0.25, 0.1875, 0.3125),
}
EXPECTED = {  # the headline strings each method's rows must hold (tables._fmt: 3-4 significant digits)
    "bicubic": ["27.50", "0.8125", "0.3000", "8.000", "40.50", "55.50", "50.50", "0.2000", "0.3750", "0.2500",
                "0.4375"],
    "bilinear": ["26.25", "0.7550", "0.4500", "8.500", "45.50", "50.50", "60.25", "0.3000", "0.5000", "0.3125",
                 "0.5625"],
    LONG: ["29.25", "0.8550", "0.2500", "6.250", "30.50", "60.50", "40.12", "0.1000", "0.2500", "0.1875", "0.3125"],
}


def _fill(path):
    store = ResultStore(path)
    attr = {"higher_is_better": False, "set_level": True, "layout": {"headline": ["gender_err", "age_err"],
                                                                    "counts": ["n"]},
            "directions": {"*_err": "lower"}}
    store.register_metrics([{"name": m, "higher_is_better": m in ("psnr", "ssim", "musiq_koniq_quality")}
                            for m in PER_IMAGE] + [
        {"name": "fid", "higher_is_better": False, "set_level": True, "layout": {"counts": ["n"]}},
        {"name": "attr", **attr}, {"name": "attr_detect", **attr},
        {"name": "niqe.flat_share", "higher_is_better": False}])
    dataset = {"name": "utkface", "root": "/data/utk", "options": {}, "synthetic": False}
    for method, per_image in VALUES.items():
        run_id = store.open_run({"method": method, "dataset": dataset, "protocol": "x8", "seed": 0}, method=method,
                                dataset="utkface", protocol="x8", seed=0, synthetic=False, config={}, n_planned=2)
        records = [SampleRecord(f"img{i}", scores={m: v[i] for m, v in per_image.items()} | {"niqe.flat_share": 0.5})
                   for i in range(2)]
        members = [(m, f"img{i}", None) for m in ("fid", "attr", "attr_detect") for i in range(2)]
        store.register_run_metrics(run_id, {m: {"options": {}, "config": {"m": m}, "channels": {}}
                                            for m in ("fid", "attr", "attr_detect")})
        store.write_batch(run_id, records, SetRows(members=members))
        fid, gender, age, gender_d, age_d = SET[method]
        ids = ["img0", "img1"]
        store.write_set_results(run_id, "fid", {"value": fid, "n": 2}, ids)
        for metric, (g, a) in (("attr", (gender, age)), ("attr_detect", (gender_d, age_d))):
            store.write_set_results(run_id, metric, {"gender_err": g, "gender_err_lo": g - 0.05,
                                                     "gender_err_hi": g + 0.05, "age_err": a, "n": 2,
                                                     "noise_gender_err": 0.01}, ids)
        store.finish_run(run_id)
    store.close()


def _rows(text: str, method: str) -> list[str]:
    """Every value printed in the rows of ``method`` (all blocks)."""
    return [token for line in text.splitlines() if line.startswith(method + " ") for token in line.split()]


@pytest.mark.parametrize("width", [120, 80])
def test_lines_fit_and_every_headline_value_is_printed(tmp_path, width):
    _fill(tmp_path / "r.sqlite")
    text = format_tables(build_tables(tmp_path / "r.sqlite"), width=width)
    assert max(len(line) for line in text.splitlines()) <= width
    for method, expected in EXPECTED.items():
        printed = _rows(text, method)
        assert [value for value in expected if value not in printed] == []
    headers = [line for line in text.splitlines() if line.startswith("method ")]
    assert len(headers) >= (2 if width == 120 else 3)  # columns split into blocks, method column repeated
    assert "fid.n" not in text and "noise" not in text and "flat_share" not in text and "Images" not in text
    assert "[0.1500, 0.2500]" not in text  # no intervals unless asked
    assert "att_det.gender_err = attr_detect.gender_err" in " ".join(text.split())  # legend of shortened labels


def test_intervals_on_request(tmp_path):
    _fill(tmp_path / "r.sqlite")
    text = format_tables(build_tables(tmp_path / "r.sqlite"), width=120, intervals=True)
    assert max(len(line) for line in text.splitlines()) <= 120
    assert "[0.1500, 0.2500]" in text and "[0.0500, 0.1500]" in text


def test_short_labels_are_unique_and_short():
    columns = ["psnr", "attr.gender_err", "attr_detect.gender_err", "attr.gender_err_label", "attr.age_err",
               "musiq_koniq_quality", "x.a_b", "y.a_b"]
    labels = short_labels(columns)
    assert len(set(labels.values())) == len(columns)
    assert labels["psnr"] == "psnr" and labels["attr.age_err"] == "age_err"
    assert labels["attr.gender_err"] == "attr.gender_err" and labels["attr_detect.gender_err"] == "att_det.gender_err"
    assert labels["attr.gender_err_label"] == "gen_err_lab" and labels["musiq_koniq_quality"] == "mus_kon_qua"


def _cli(*argv):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["leaderboard", *argv]) == 0
    return out.getvalue()


@pytest.mark.parametrize("columns, width", [("300", 120), ("60", 80), ("100", 100)])
def test_cli_prints_within_the_clamped_terminal_width(tmp_path, monkeypatch, columns, width):
    _fill(tmp_path / "r.sqlite")
    monkeypatch.setenv("COLUMNS", columns)
    text = _cli("--store", str(tmp_path / "r.sqlite"), "--out", str(tmp_path / "lb"))
    tables, _, written = text.rpartition("\nwrote ")  # the last line names the files (its length is the paths')
    assert "leaderboard.csv" in written and max(len(line) for line in tables.splitlines()) <= width
    assert all(value in _rows(text, LONG) for value in EXPECTED[LONG])


def test_cli_wide_keeps_the_markdown_and_files_keep_every_column(tmp_path, monkeypatch):
    _fill(tmp_path / "r.sqlite")
    monkeypatch.setenv("COLUMNS", "120")
    wide = _cli("--store", str(tmp_path / "r.sqlite"), "--out", str(tmp_path / "lb"), "--wide")
    markdown = (tmp_path / "lb" / "leaderboard.md").read_text(encoding="utf-8")
    assert markdown.strip() in wide and "| Method | Images | Failed |" in wide
    assert max(len(line) for line in wide.splitlines()) > 120  # the old, full table
    compact = _cli("--store", str(tmp_path / "r.sqlite"), "--out", str(tmp_path / "lb"))
    assert (tmp_path / "lb" / "leaderboard.md").read_text(encoding="utf-8") == markdown  # files unchanged
    assert "| Method |" not in compact
    frame = pd.read_csv(tmp_path / "lb" / "leaderboard.csv")
    assert {"fid.n", "attr.noise_gender_err", "attr.gender_err_lo", "niqe.flat_share", "attr_detect.age_err",
            "musiq_koniq_quality"} <= set(frame.columns)


def test_own_ids_tables_keep_an_image_count_column(tmp_path):
    _fill(tmp_path / "r.sqlite")
    text = format_tables(build_tables(tmp_path / "r.sqlite", common_ids=False), width=120)
    header = next(line for line in text.splitlines() if line.startswith("method "))
    assert header.split()[1] == "n" and _rows(text, "bicubic")[1] == "2"
    assert "*" not in " ".join(_rows(text, "bicubic") + _rows(text, LONG))  # not a paired comparison: no marks
