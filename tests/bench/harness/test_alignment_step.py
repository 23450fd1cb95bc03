"""The alignment protocol step through the runner: real faces re-aligned, a faceless image an error, tables."""
import shutil

import numpy as np
import pytest
from PIL import Image

from tests.attribute_support import aag_env, aag_models  # noqa: F401 (fixtures: the dlib shape predictor)


@pytest.fixture
def faces(tmp_path, utkface_dir):
    pytest.importorskip("dlib", reason="alignment needs dlib (extra [dlib])")
    folder = tmp_path / "faces"
    folder.mkdir()
    for path in sorted(utkface_dir.glob("*.jpg"))[:2]:  # copies in the test's temporary folder only
        shutil.copy(path, folder / path.name)
    Image.fromarray(np.full((200, 200, 3), 120, np.uint8)).save(folder / "blank.png")
    return folder


def test_aligned_run_restores_and_scores_in_the_ffhq_frame(faces, tmp_path, aag_env):  # noqa: F811
    from bench.harness.runner import Runner
    from bench.harness.store import ResultStore
    from leaderboards.tables import build_tables

    store = tmp_path / "s.sqlite"
    options = dict(dataset_options={"kind": "hq", "framing": "utkface"}, degradation="x4", store=store,
                   out=tmp_path, progress=False, batch_size=2)
    runner = Runner("bicubic", "folder", root=str(faces), metrics="psnr,attr", align="ffhq", **options)
    assert runner.plan.metric_options["attr"]["framing"] == "ffhq"  # the evaluator follows the aligned frame
    assert runner.metrics["attr"].classifier_options["template"] == "ffhq"
    summary = Runner("bicubic", "folder", root=str(faces), metrics="psnr", align="ffhq", **options).run()
    assert (summary.n_ok, summary.n_failed) == (2, 1)
    (sample, stage, cause), = summary.errors
    assert sample == "blank" and stage == "align" and "no face found by dlib" in cause and "blank.png" in cause
    plain = Runner("bicubic", "folder", root=str(faces), metrics="psnr", align="none", **options).run()
    assert plain.run_id != summary.run_id
    with ResultStore(store) as opened:
        rows = {r["run_id"]: r for r in opened.runs()}
        sizes = {row[0] for row in opened.conn.execute(
            "SELECT hq_size FROM samples WHERE run_id=? AND status='ok'", (summary.run_id,))}
    assert rows[summary.run_id]["identity"]["alignment"]["dataset_framing"] == "utkface"
    assert "alignment" not in rows[plain.run_id]["identity"]
    assert {size.replace(" ", "") for size in sizes} == {"[512,512]"}
    captions = sorted(t["caption"] for t in build_tables(store))
    assert len(captions) == 2  # another frame: another table
    assert "alignment: ffhq (re-aligned from utkface)" in captions[0] and "alignment: none" in captions[1]
    from leaderboards.paper_table import build_paper_table

    names = sorted(group.name for group in build_paper_table(build_tables(store)).groups)
    assert names == ["folder x4", "folder x4 aligned ffhq (re-aligned from utkface)"]


def test_auto_alignment_is_off_for_methods_that_do_not_expect_it(faces, tmp_path):
    from bench.harness.runner import Runner

    runner = Runner("bicubic", "folder", root=str(faces), dataset_options={"kind": "hq"}, metrics="psnr",
                    store=tmp_path / "s.sqlite", progress=False)
    assert runner.plan.align == "none" and "alignment" not in runner.plan.identity()
