"""``bench lq`` writes exactly the LQ inputs a run gives a method (bench/cli/lq.py).

Independent expectations: the LQ a plug-in method actually receives in ``bench.api.run`` (seeded random
degradation), Pillow's bicubic resize of the real UTKFace HQ for the x8 protocol, the decoded files of a
captured-LQ folder, and ``hashlib`` on the written files for the manifest.
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bench import api
from bench.cli import main


def _lq(*argv: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["lq", *argv]) == 0
    return out.getvalue()


def _manifest(folder: Path) -> list[dict[str, str]]:
    with open(folder / "manifest.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _png(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        assert image.mode == "RGB"
        return np.asarray(image)


class Recorder:
    """A plug-in method that keeps the LQ it is given, by sample id."""

    name = "recorder"
    uses_attributes = False
    uses_sample_ids = True
    citation = licence = description = "test"

    def __init__(self) -> None:
        self.seen: dict[str, np.ndarray] = {}

    def restore(self, lq, attributes=None, out_size=None, sample_ids=None):
        for sid, image in zip(sample_ids, lq):
            self.seen[sid] = image.mul(255).round().to(torch.uint8).permute(1, 2, 0).numpy()
        return torch.zeros((lq.shape[0], 3, *out_size))

    def describe(self):
        return {"name": self.name}


def test_lq_files_are_the_inputs_a_run_gives_a_method(tmp_path):
    options = ["--dataset", "synthetic", "-D", "n=6", "-D", "size=96", "--degradation", "debiasfr", "--seed", "3",
               "--limit", "4", "--out", str(tmp_path / "lq")]
    text = _lq(*options)
    assert "wrote 4 LQ image(s) of 4 planned" in text and "--method external" in text and "--seed 3" in text
    recorder = Recorder()
    api.run(method=recorder, dataset="synthetic", dataset_options={"n": 6, "size": 96}, degradation="debiasfr",
            seed=3, limit=4, metrics="psnr", store=tmp_path / "r.sqlite", progress=False)
    rows = _manifest(tmp_path / "lq")
    assert [r["id"] for r in rows] and {r["id"] for r in rows} == set(recorder.seen)
    for row in rows:
        path = tmp_path / "lq" / row["file"]
        assert row["file"] == f"{row['id']}.png" and row["protocol"] == "debiasfr" and row["seed"] == "3"
        assert row["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest() and row["error"] == ""
        lq = _png(path)
        assert np.array_equal(lq, recorder.seen[row["id"]])
        assert (int(row["height"]), int(row["width"])) == lq.shape[:2]
    # another run seed (same samples: --subset-seed 3) is another draw of the seeded degradation
    _lq(*options[:-6], "--seed", "4", "--subset-seed", "3", "--limit", "4", "--out", str(tmp_path / "lq4"))
    other = {r["id"]: _png(tmp_path / "lq4" / r["file"]) for r in _manifest(tmp_path / "lq4")}
    assert set(other) == set(recorder.seen)
    assert any(o.shape != recorder.seen[s].shape or not np.array_equal(o, recorder.seen[s]) for s, o in other.items())


def test_x8_lq_of_real_faces_is_pillow_bicubic_of_the_hq(tmp_path, utkface_dir):
    _lq("--dataset", "utkface", "--root", str(utkface_dir.parent), "--degradation", "x8", "--limit", "3",
        "--out", str(tmp_path / "lq"))
    rows = _manifest(tmp_path / "lq")
    assert len(rows) == 3
    for row in rows:
        with Image.open(next(utkface_dir.glob(f"{row['id']}.*"))) as hq:
            expected = np.asarray(hq.convert("RGB").resize((25, 25), Image.BICUBIC))
        assert np.array_equal(_png(tmp_path / "lq" / row["file"]), expected)
        assert row["protocol"] == "x8"


def test_captured_lq_folder_gives_its_decoded_files_and_reports_bad_ones(tmp_path):
    root = tmp_path / "faces"
    root.mkdir()
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(root / "a.png")
    Image.fromarray(pixels[:, :, 0], "L").save(root / "b.png")
    (root / "c.png").write_bytes(b"not an image")
    text = _lq("--dataset", "folder", "--root", str(root), "-D", "kind=lq", "--out", str(tmp_path / "lq"))
    assert "wrote 2 LQ image(s) of 3 planned" in text and "protocol captured" in text and "--degradation" not in text
    rows = {r["id"]: r for r in _manifest(tmp_path / "lq")}
    assert np.array_equal(_png(tmp_path / "lq" / "a.png"), pixels)
    assert np.array_equal(_png(tmp_path / "lq" / "b.png"), np.repeat(pixels[:, :, :1], 3, axis=2))
    assert rows["c"]["file"] == "" and "c.png" in rows["c"]["error"] and rows["a"]["protocol"] == "captured"


@pytest.mark.parametrize("argv", [["--dataset", "synthetic"], ["--dataset", "synthetic", "--out", "x", "--limit", "0"]])
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["lq", *argv])
    assert exc.value.code == 2
