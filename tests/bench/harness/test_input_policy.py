"""The input policy through a run: tiny or thin images, images below a metric's window, a pixel limit and
EXIF orientation become per-image errors or notes, never a crash, a degenerate LQ or a silent inf."""

import numpy as np
from PIL import Image

from bench.harness.runner import Runner
from bench.harness.store import ResultStore


def _save(folder, name, shape, seed=0):
    image = np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)
    Image.fromarray(image).save(folder / name)
    return image


def _run(folder, tmp_path, **options):
    options = {"metrics": ["psnr", "ssim"], "degradation": "x8", "batch_size": 4, **options}
    return Runner(method="bicubic", dataset="folder", root=folder, dataset_options={"kind": "hq"},
                  store=tmp_path / "r.sqlite", out=tmp_path / "out", progress=False, **options).run()


def test_tiny_and_thin_images_are_refused_by_the_degradation(tmp_path):
    folder = tmp_path / "faces"
    folder.mkdir()
    _save(folder, "good.png", (64, 64, 3))
    _save(folder, "one.png", (1, 1, 3))
    _save(folder, "thin.png", (3, 5000, 3))
    summary = _run(folder, tmp_path)
    errors = {sid: (stage, cause) for sid, stage, cause in summary.errors}
    assert set(errors) == {"one", "thin"} and summary.n_ok == 1
    assert errors["one"][0] == "degrade" and "one.png" in errors["one"][1]
    assert "HQ image 1x1 (HxW) is smaller than the minimum 28x28 of degradation 'x8'" in errors["one"][1]
    assert "HQ image 3x5000 (HxW) is smaller than the minimum 28x28" in errors["thin"][1]
    with ResultStore(tmp_path / "r.sqlite") as store:
        scores = store.scores(summary.run_id)
    assert {sid for _, sid, _, _, _ in scores} == {"good"}  # no value (no inf) for the refused images


def test_images_below_a_metric_window_get_a_score_error_naming_the_limit(tmp_path):
    folder = tmp_path / "faces"
    folder.mkdir()
    _save(folder, "good.png", (64, 64, 3))
    _save(folder, "small.png", (5, 5, 3))
    _save(folder, "thin.png", (3, 50, 3))
    summary = _run(folder, tmp_path, degradation="none")
    errors = {(sid, stage): cause for sid, stage, cause in summary.errors}
    assert errors[("small", "metric ssim")].endswith("image 5x5 (HxW) is smaller than ssim's minimum 11x11")
    assert "small.png" in errors[("small", "metric ssim")]
    assert errors[("thin", "metric ssim")].endswith("image 3x50 (HxW) is smaller than ssim's minimum 11x11")
    assert summary.metric_means["ssim"]["n"] == 1 and summary.n_ok == 3
    with ResultStore(tmp_path / "r.sqlite") as store:
        ssim = {sid: (value, error) for _, sid, metric, value, error in store.scores(summary.run_id)
                if metric == "ssim"}
    assert ssim["small"][0] is None and ssim["small"][1] and ssim["good"][0] is not None


def test_pixel_limit_of_the_run_refuses_before_decoding(tmp_path):
    folder = tmp_path / "faces"
    folder.mkdir()
    _save(folder, "small.png", (40, 40, 3))
    _save(folder, "large.png", (80, 60, 3))
    summary = _run(folder, tmp_path, max_pixels=4000)
    errors = {sid: (stage, cause) for sid, stage, cause in summary.errors}
    assert set(errors) == {"large"} and errors["large"][0] == "decode"
    assert "large.png: image is 80x60 (HxW) = 4,800 pixels, above the limit of 4,000 pixels" in errors["large"][1]
    assert "--max-pixels" in errors["large"][1]


def test_exif_orientation_is_applied_and_recorded_with_the_row(tmp_path):
    folder = tmp_path / "faces"
    folder.mkdir()
    stored = np.random.default_rng(3).integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(folder / "rotated.png", exif=exif.tobytes())
    _save(folder, "plain.png", (48, 64, 3))
    summary = _run(folder, tmp_path)
    assert summary.n_ok == 2
    with ResultStore(tmp_path / "r.sqlite") as store:
        rows = {row["sample_id"]: row for row in store.sample_rows(summary.run_id)}
    assert rows["rotated"]["notes"] == {"hq_exif_orientation": 6}
    assert rows["rotated"]["hq_size"] == [64, 48]  # upright: rotated 90 degrees clockwise
    assert not rows["plain"]["notes"] and rows["plain"]["hq_size"] == [48, 64]
