"""A folder mixing good and bad files is processed to the end, with one error row per bad file."""
import numpy as np
from PIL import Image

from bench.api import run


def _make_folder(folder):
    rng = np.random.default_rng(1)
    folder.mkdir()
    face = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    Image.fromarray(face).save(folder / "good_png.png")
    Image.fromarray(face).save(folder / "good_jpg.jpg", quality=95)
    Image.fromarray(face[:, :, 0]).save(folder / "gray.png")  # greyscale is accepted (replicated)
    full = (folder / "good_jpg.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(full[: len(full) // 2])
    (folder / "empty.png").write_bytes(b"")
    (folder / "not_an_image.jpg").write_text("this is a text file, not a JPEG\n")
    Image.fromarray(np.dstack([face, np.full((64, 64), 200, np.uint8)]), "RGBA").save(folder / "alpha.png")
    Image.fromarray((rng.integers(0, 65535, size=(64, 64))).astype(np.uint16)).save(folder / "sixteen_bit.png")
    assert Image.open(folder / "sixteen_bit.png").mode.startswith("I")
    (folder / "notes.txt").write_text("ignored: not an image extension")


def test_bad_files_become_error_rows(tmp_path):
    folder = tmp_path / "faces"
    _make_folder(folder)
    summary = run(method="bicubic", dataset="folder", root=folder, dataset_options={"kind": "hq"}, degradation="x4",
                  metrics="psnr,ssim", store=tmp_path / "r.sqlite", batch_size=3, progress=False)
    assert summary.n_planned == 8
    assert summary.n_ok == 3 and summary.n_failed == 5
    errors = {sample_id: (stage, cause) for sample_id, stage, cause in summary.errors}
    assert set(errors) == {"truncated", "empty", "not_an_image", "alpha", "sixteen_bit"}
    assert "truncated.jpg" in errors["truncated"][1] and "truncated" in errors["truncated"][1]
    assert "empty.png" in errors["empty"][1] and "0 bytes" in errors["empty"][1]
    assert "not_an_image.jpg" in errors["not_an_image"][1] and "not a recognised image" in errors["not_an_image"][1]
    assert "alpha channel" in errors["alpha"][1]
    assert "more than 8 bits" in errors["sixteen_bit"][1]
    assert all(stage == "decode" for stage, _ in errors.values())
    assert summary.metric_means["psnr"]["n"] == 3 and summary.metric_means["ssim"]["n"] == 3
    assert "5 error(s)" in summary.format()
