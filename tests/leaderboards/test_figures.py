"""Report figures: files exist, their CSV numbers equal the store's, absent data skip with a note."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.harness.store import ResultStore
from leaderboards.figures import protocol_scale, write_figures
from leaderboards.tables import build_tables
from tests.leaderboards.report_support import build_store, report_store  # noqa: F401 (fixture)


@pytest.fixture(scope="module")
def drawn(report_store, tmp_path_factory):
    out = tmp_path_factory.mktemp("figures")
    with ResultStore(report_store, readonly=True) as db:
        written, notes = write_figures(db, build_tables(report_store), out)
    return written, notes


def _runs(store_path):
    with ResultStore(store_path, readonly=True) as db:
        return {(r["method"], r["protocol"]): r["run_id"] for r in db.runs()}


def _pred_scores(db, run_id) -> pd.DataFrame:
    """The attr_pred score rows of a run (an independent record of the same predictions) as a frame."""
    rows = {}
    for _, sid, metric, value, _ in db.scores(run_id):
        if metric.startswith("attr_pred"):
            rows.setdefault(sid, {})[metric] = value
    return pd.DataFrame.from_dict(rows, orient="index")


def test_protocol_scale():
    assert [protocol_scale(p) for p in ("x4", "x8", "x16", "x32", "debiasfr-x16", "debiasfr", "none", "captured")] \
        == [4, 8, 16, 32, 16, None, None, None]


def test_every_figure_written_as_png_svg_csv(drawn):
    written, notes = drawn
    assert set(written) == {"attr_vs_resolution", "quality_vs_bias", "group_heatmap", "flips"} and notes == []
    for files in written.values():
        assert files["png"].stat().st_size > 5000 and files["svg"].stat().st_size > 5000
        assert len(pd.read_csv(files["csv"])) > 0
        assert files["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"<svg" in files["svg"].read_bytes()[:2000]


def test_resolution_and_quality_numbers_equal_the_store(drawn, report_store):
    written, _ = drawn
    frame = pd.read_csv(written["attr_vs_resolution"]["csv"])
    runs = _runs(report_store)
    with ResultStore(report_store, readonly=True) as db:
        assert len(frame) == 4 * 4  # 2 methods x 2 scales x 4 error rates
        for row in frame.itertuples():
            stored = db.set_results(runs[(row.method, row.protocol)])["attr"]
            assert row.scale == int(row.protocol[1:])
            assert (row.value, row.lo, row.hi) == pytest.approx(
                (stored[row.key], stored[f"{row.key}_lo"], stored[f"{row.key}_hi"]), rel=1e-12)
        quality = pd.read_csv(written["quality_vs_bias"]["csv"])
        for row in quality.itertuples():
            rid = runs[(row.method, row.protocol)]
            psnr = [v for _, _, m, v, _ in db.scores(rid) if m == "psnr"]
            assert row.quality_metric == "psnr" and row.quality == pytest.approx(np.mean(psnr), rel=1e-12)
            assert row.bias == pytest.approx(db.set_results(rid)["attr"]["gender_err"], rel=1e-12)


def test_flips_equal_the_per_image_predictions(drawn, report_store):
    written, _ = drawn
    flips = pd.read_csv(written["flips"]["csv"])
    runs = _runs(report_store)
    with ResultStore(report_store, readonly=True) as db:
        for (method, protocol), rid in runs.items():
            p = _pred_scores(db, rid)
            rg, hg = p["attr_pred"], p["attr_pred.hq_gender"]
            ra, ha = p["attr_pred.age_bin"], p["attr_pred.hq_age_bin"]
            mine = flips[(flips["method"] == method) & (flips["protocol"] == protocol)].set_index("direction")
            expected = {"male→female": (((hg == 1) & (rg == 0)).sum(), (hg == 1).sum()),
                        "female→male": (((hg == 0) & (rg == 1)).sum(), (hg == 0).sum()),
                        "older": ((ra > ha).sum(), len(p)), "younger": ((ra < ha).sum(), len(p))}
            for direction, (count, den) in expected.items():
                assert (mine.at[direction, "count"], mine.at[direction, "denominator"]) == (count, den), direction
            stored = db.set_results(rid)["attr"]
            assert mine.at["male→female", "share"] == pytest.approx(stored["gender_m2f"], rel=1e-12)
            assert mine.at["female→male", "share"] == pytest.approx(stored["gender_f2m"], rel=1e-12)
    # the stub makes blurred faces female and younger: some flips exist
    assert flips.loc[flips["direction"] == "male→female", "count"].sum() > 0
    assert flips.loc[flips["direction"] == "younger", "count"].sum() > 0


def test_group_heatmap_equals_errors_per_label_group(drawn, report_store):
    from bench.core.types import AGE_BIN_LABELS, GENDER_LABELS

    written, _ = drawn
    groups = pd.read_csv(written["group_heatmap"]["csv"])
    runs = _runs(report_store)
    with ResultStore(report_store, readonly=True) as db:
        for (method, protocol), rid in runs.items():
            p = _pred_scores(db, rid)
            labels = {r["sample_id"]: r["attributes"] for r in db.sample_rows(rid)}
            p["group"] = [f"{AGE_BIN_LABELS[labels[s]['age_bin']]}/{GENDER_LABELS[labels[s]['gender']]}" for s in p.index]
            mine = groups[(groups["method"] == method) & (groups["protocol"] == protocol)]
            assert mine["n"].sum() == len(p) == 8
            for row in mine.itertuples():
                part = p[p["group"] == f"{row.age_bin}/{row.gender}"]
                assert row.n == len(part)
                wrong = (part["attr_pred"] != part["attr_pred.hq_gender"]).mean()
                assert row.gender_err == pytest.approx(wrong, abs=1e-12)


def test_absent_data_are_skipped_with_notes(tmp_path):
    store = build_store(tmp_path, metrics="ssim", methods=("bicubic",), scales=("x4",))
    with ResultStore(store, readonly=True) as db:
        written, notes = write_figures(db, build_tables(store), tmp_path / "figs")
    assert written == {} and len(notes) == 4 and all("skipped" in n for n in notes)
    assert not list((tmp_path / "figs").glob("*.png"))
