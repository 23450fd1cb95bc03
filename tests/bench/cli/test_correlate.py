"""``bench correlate`` end to end: file formats, sign convention, bad input, and a real-data check.

The real-data check degrades 12 real UTKFace faces at five increasing strengths (bicubic x2, x4, x8, x16,
x32 down, then the ``bicubic`` method up again), so that the human ranking of every pack is known by
construction (less degradation = better), and asserts the sign and rough size of each metric's agreement.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bench.cli import main
from tests.conftest import shared_path

LEVELS = (2, 4, 8, 16, 32)  # bicubic down-scale of each restoration of a pack: rank 1 = x2, ..., 5 = x32
N_FACES = 12


def _write(path: Path, header, rows) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


# -- formats on small hand-made files ---------------------------------------------------------------------

@pytest.fixture
def small_study(tmp_path):
    """4 packs x 4 methods ranked by 2 raters, and a wide scores CSV with a lower-is-better column."""
    rng = np.random.default_rng(0)
    methods = ["m1", "m2", "m3", "m4"]
    rows, scores = [], []
    for p in range(4):
        image = f"img{p:02d}"
        rows.append([f"pack{p}", image, "", "", "", "lq"])
        for rater in ("r1", "r2"):
            order = list(range(4)) if rater == "r1" or p % 2 else [1, 0, 2, 3]
            for k, method in enumerate(methods):
                rows.append([f"pack{p}", image, method, order[k] + 1, rater, "restored"])
        for k, method in enumerate(methods):
            good = 4 - k + rng.normal(scale=0.7)
            scores.append([image, method, round(20 + 3 * good, 6), round(10 - good, 6), round(good, 6)])
    judgements = _write(tmp_path / "packs.csv", ["pack_id", "image_id", "method", "rank", "rater", "role"], rows)
    table = _write(tmp_path / "scores.csv", ["image_id", "method", "psnr", "niqe", "mine"], scores)
    return judgements, table


def test_ranking_study_from_a_scores_csv(small_study, tmp_path, capsys):
    judgements, table = small_study
    out = tmp_path / "out"
    assert main(["correlate", "-j", str(judgements), "--scores", str(table), "--higher-is-better", "mine",
                 "--replicates", "200", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "niqe ↓" in printed and "psnr ↑" in printed and "4 packs" in printed and "2 raters" in printed
    for name in ("correlation.csv", "correlation.md", "correlation_per_pack.csv", "correlation.png"):
        assert (out / name).stat().st_size > 0
    frame = pd.read_csv(out / "correlation.csv")
    # recompute the global SRCC by hand: mean rank per image (negated), NIQE negated (lower is better)
    raw = pd.read_csv(judgements)
    raw = raw[raw["role"] != "lq"]
    mean_rank = raw.groupby(["image_id", "method"])["rank"].mean()
    scores = pd.read_csv(table).set_index(["image_id", "method"]).loc[mean_rank.index]
    for metric, sign in (("psnr", 1), ("niqe", -1), ("mine", 1)):
        row = frame[(frame.metric == metric) & (frame.scope == "global") & (frame.coefficient == "srcc")].iloc[0]
        assert row.value == pytest.approx(stats.spearmanr(sign * scores[metric], -mean_rank)[0], abs=1e-12)
        assert row.higher_is_better == (sign == 1) and row.value > 0
        assert row.lo <= row.value <= row.hi
    per_pack = pd.read_csv(out / "correlation_per_pack.csv")
    assert len(per_pack) == 3 * 4 and set(per_pack["n"]) == {4}


def test_unknown_direction_needs_a_flag(small_study, tmp_path, capsys):
    judgements, table = small_study
    assert main(["correlate", "-j", str(judgements), "--scores", str(table), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "metric 'mine' has no better direction" in err and "--lower-is-better mine" in err


def test_mos_study_and_dmos(tmp_path):
    rng = np.random.default_rng(1)
    quality = rng.normal(size=30)
    mos = _write(tmp_path / "mos.csv", ["image_id", "mos", "std", "n"],
                 [[f"i{k}", round(3 + q, 6), 0.5, 20] for k, q in enumerate(quality)])
    dmos = _write(tmp_path / "dmos.csv", ["image_id", "mos"], [[f"i{k}", round(-q, 6)] for k, q in enumerate(quality)])
    table = _write(tmp_path / "s.csv", ["image_id", "psnr"],
                   [[f"i{k}", round(30 + 2 * q + rng.normal(), 6)] for k, q in enumerate(quality)])
    from bench.api import correlate

    a = correlate(mos, scores=table, replicates=100, out=tmp_path / "a")
    b = correlate(dmos, scores=table, replicates=100, out=None, mos_higher_is_better=False)
    assert set(a.table["scope"]) == {"global"} and a.per_pack.empty
    pd.testing.assert_frame_equal(a.table, b.table)
    assert a.table.query("coefficient == 'plcc'").value.iloc[0] > 0.5
    assert (tmp_path / "a" / "correlation.png").exists()


# -- bad input: the file and the row are named ----------------------------------------------------------

@pytest.mark.parametrize("header,rows,expected", [
    (["pack_id", "image_id", "method"], [["p", "a", "m"]], "row 1 (header): missing column 'rank'"),
    (["image_id", "method", "rank"], [["a", "m1", "1"]], "row 1 (header): missing column(s) pack_id"),
    (["pack_id", "method", "rank"], [["p", "m1", "1"]], "missing column image_id (or path)"),
    (["pack_id", "image_id", "method", "rank"], [["p", "img00", "m1", "1"], ["p", "img00", "m2", "first"]],
     "row 3: column 'rank' is not a number: 'first'"),
    (["pack_id", "image_id", "method", "rank"], [["p", "img00", "m1", "1"], ["p", "img00", "m1", "2"]],
     "row 3: image 'img00' of method 'm1' in pack 'p' is ranked twice (first at row 2)"),
    (["pack_id", "image_id", "method", "rank"], [["p", "img00", "m1", "1"], ["p", "nobody", "m2", "2"]],
     "row 3: unknown image 'nobody' of method 'm2'"),
    (["image_id", "method", "mos"], [["img00", "m1", "4.5"], ["img00", "m9", "3"]],
     "row 3: unknown image 'img00' of method 'm9'"),
    (["image_id", "method", "mos"], [["img00", "m1", ""]], "row 2: column 'mos' is empty"),
])
def test_bad_judgement_files_name_file_and_row(small_study, tmp_path, capsys, header, rows, expected):
    _, table = small_study
    bad = _write(tmp_path / "bad.csv", header, rows)
    assert main(["correlate", "-j", str(bad), "--scores", str(table), "--higher-is-better", "mine",
                 "--replicates", "10", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and expected in err, err


def test_allow_missing_leaves_unknown_images_out(small_study, tmp_path):
    judgements, table = small_study
    text = judgements.read_text().replace("pack3,img03,m4", "pack3,ghost,m4")
    edited = tmp_path / "edited.csv"
    edited.write_text(text)
    from bench.api import correlate

    report = correlate(edited, scores=table, higher_is_better=["mine"], replicates=20, allow_missing=True, out=None)
    assert report.table["n_images"].iloc[0] == 15
    assert any("ghost" in note for note in report.notes)


def test_bad_scores_file_names_file_and_row(small_study, tmp_path, capsys):
    judgements, _ = small_study
    bad = _write(tmp_path / "scores.csv", ["image_id", "method", "psnr"],
                 [["img00", "m1", "31.2"], ["img00", "m2", "n/a"]])
    assert main(["correlate", "-j", str(judgements), "--scores", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"{bad}, row 3: column 'psnr' is not a number" in err


# -- the real-data check ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def degraded_store(tmp_path_factory):
    """12 real UTKFace faces restored (bicubic) from 5 degradation strengths, scored with PSNR, SSIM and,
    when the LIVE NIQE parameters are in the persistent asset cache, NIQE."""
    from bench import api
    from bench.data.degradation import BicubicDownsample

    root = shared_path("data", "utkface")
    store = tmp_path_factory.mktemp("correlate") / "results.sqlite"
    # the provisioned NIQE parameters (as tests/metrics use them); NIQE is left out when they are absent
    cache = Path(os.environ.get("FRBENCH_TEST_CACHE") or Path.home() / ".cache" / "frbench" / "assets")
    metrics = ["psnr", "ssim"] + (["niqe"] if (cache / "niqe_pris_params").exists() else [])
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FRBENCH_CACHE", str(cache))
        for scale in LEVELS:
            degradation = BicubicDownsample(scale) if scale == 2 else f"x{scale}"
            api.run(method="bicubic", dataset="utkface", root=root, degradation=degradation, limit=N_FACES,
                    metrics=metrics, store=store, progress=False, workers=1)
    return store, metrics


def _face_ids(store: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(store) as conn:
        return [r[0] for r in conn.execute("SELECT DISTINCT sample_id FROM samples ORDER BY sample_id")]


def test_real_faces_packs_with_known_ranking(degraded_store, tmp_path, capsys):
    store, metrics = degraded_store
    faces = _face_ids(store)
    assert len(faces) == N_FACES
    rows = []
    for p, face in enumerate(faces):
        rows.append([face, face, "", "", "", "lq"])  # the LQ shown with the pack (not ranked)
        for rater in ("r1", "r2", "r3"):
            ranks = list(range(1, len(LEVELS) + 1))
            if rater == "r3" and p % 2 == 0:  # one rater mixes up the two best restorations of half the packs
                ranks[0], ranks[1] = ranks[1], ranks[0]
            for scale, rank in zip(LEVELS, ranks):
                rows.append([face, face, f"bicubic@x{scale}", rank, rater, "restored"])
    judgements = _write(tmp_path / "packs.csv", ["pack_id", "image_id", "method", "rank", "rater", "role"], rows)
    out = tmp_path / "out"
    assert main(["correlate", "-j", str(judgements), "--store", str(store), "--dataset", "utkface",
                 "--replicates", "500", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    frame = pd.read_csv(out / "correlation.csv")
    with capsys.disabled():
        print(printed)  # the measured figures, shown with -s
    value = {(r.metric, r.scope, r.coefficient): r for r in frame.itertuples()}
    assert set(frame["metric"]) == set(metrics)
    assert frame["n_images"].eq(N_FACES * len(LEVELS)).all() and frame["n_units"].eq(N_FACES).all()
    for metric in ("psnr", "ssim"):
        assert value[(metric, "per_pack", "srcc")].value > 0.8
        assert value[(metric, "per_pack", "krcc")].value > 0.7
        assert value[(metric, "global", "srcc")].value > 0.6
        assert value[(metric, "global", "plcc")].value > 0.5
    if "niqe" in metrics:  # lower is better: negated, so agreement is positive
        niqe = value[("niqe", "per_pack", "srcc")]
        assert not niqe.higher_is_better and niqe.value > 0.6
    for r in frame.itertuples():
        assert r.lo <= r.value + 1e-12 and r.value <= r.hi + 1e-12
    # flipping the sign convention by hand turns agreement into disagreement
    assert main(["correlate", "-j", str(judgements), "--store", str(store), "--metrics", "psnr",
                 "--lower-is-better", "psnr", "--replicates", "0", "--out", str(tmp_path / "flip"), "--quiet",
                 "--no-figure"]) == 0
    flipped = pd.read_csv(tmp_path / "flip" / "correlation.csv")
    srcc = flipped.query("scope == 'global' and coefficient == 'srcc'").value.iloc[0]
    assert srcc == pytest.approx(-value[("psnr", "global", "srcc")].value, abs=1e-12)


def test_real_faces_mos_and_method_matching(degraded_store, tmp_path, capsys):
    store, metrics = degraded_store
    faces = _face_ids(store)
    rows = [[face, f"bicubic@x{scale}", 5 - k, 0.4, 15] for face in faces for k, scale in enumerate(LEVELS)]
    mos = _write(tmp_path / "mos.csv", ["image_id", "method", "mos", "std", "n"], rows)
    from bench.api import correlate

    report = correlate(mos, store=store, metrics=["psnr", "ssim"], replicates=300, out=tmp_path / "mos")
    with capsys.disabled():
        print(report.markdown)  # the measured figures, shown with -s
    table = report.table.set_index(["metric", "coefficient"])
    assert table.loc[("psnr", "srcc"), "value"] > 0.6 and table.loc[("ssim", "srcc"), "value"] > 0.5
    assert report.table["n_units"].eq(N_FACES * len(LEVELS)).all()  # images are the bootstrap unit
    # a bare method name matches five runs: the error names them and says how to choose
    ambiguous = _write(tmp_path / "amb.csv", ["image_id", "method", "mos"], [[faces[0], "bicubic", 3]])
    assert main(["correlate", "-j", str(ambiguous), "--store", str(store), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert f"{ambiguous}, row 2: method 'bicubic' matches 5 runs" in err and "METHOD@PROTOCOL" in err
    # narrowing the selection to one protocol resolves it
    assert main(["correlate", "-j", str(ambiguous), "--store", str(store), "--protocol", "x8", "--metrics", "psnr",
                 "--replicates", "0", "--quiet", "--no-figure", "--out", str(tmp_path / "y")]) == 0


def test_real_faces_judged_by_path(degraded_store, tmp_path):
    """A judgement file may name images by path: matched to the store's sample sources (full path or name)."""
    store, _ = degraded_store
    images = shared_path("data", "utkface", "images")
    faces = _face_ids(store)
    rows = [[str(images / f"{face}.jpg.chip.jpg") if k % 2 else f"{face}.jpg.chip.jpg", f"bicubic@x{scale}",
             5 - i] for k, face in enumerate(faces) for i, scale in enumerate(LEVELS)]
    judged = _write(tmp_path / "by_path.csv", ["path", "method", "mos"], rows)
    from bench.api import correlate

    report = correlate(judged, store=store, metrics=["psnr"], replicates=0, out=None)
    assert int(report.table["n_images"].iloc[0]) == N_FACES * len(LEVELS)
    assert report.table.query("coefficient == 'srcc'").value.iloc[0] > 0.6
