"""Method ``external``: restorations made outside frbench, scored by sample id (baselines/external.py).

End to end on 8 real UTKFace faces (skipped when ../shared is absent): ``bench lq`` -> the example restorer of
``benchmarks/`` (plain Pillow, outside frbench) -> ``bench run --method external`` beside bicubic.  Expected
values are computed independently: PSNR with scikit-image on the files themselves, the HQ decoded by Pillow.
The synthetic-dataset tests (no files needed) check the policies: missing, unmatched, several files, sizes,
greyscale / alpha, names, identity.
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench import api
from bench.cli import main
from bench.core.errors import ConfigurationError
from bench.harness.store import ResultStore

REPO = Path(__file__).resolve().parents[2]
UTK = dict(dataset="utkface", degradation="x8", limit=8, metrics="psnr", progress=False)
SYNTH = dict(dataset="synthetic", dataset_options={"n": 3, "size": 32}, degradation="x4", metrics="psnr",
             progress=False)


def _example_restorer():
    spec = importlib.util.spec_from_file_location("external_restorer_example",
                                                  REPO / "benchmarks" / "external_restorer_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _per_image(store_path: Path, run_id: str, metric: str = "psnr") -> dict[str, float]:
    with ResultStore(store_path, readonly=True) as store:
        return {sid: value for _, sid, name, value, _ in store.scores(run_id) if name == metric}


def _cli(*argv: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(list(argv)) == 0
    return out.getvalue()


def _external(folder: Path, name: str = "ext", **options):
    return {"method": "external", "method_options": {"folder": str(folder), "name": name, **options}}


@pytest.fixture
def utk_root(utkface_dir) -> Path:
    return utkface_dir.parent


def test_example_restorer_is_scored_beside_bicubic(tmp_path, utk_root):
    from bench.api import write_lq_inputs
    from skimage.metrics import peak_signal_noise_ratio

    lq, restored, store = tmp_path / "lq", tmp_path / "restored", tmp_path / "r.sqlite"
    write_lq_inputs("utkface", lq, root=str(utk_root), degradation="x8", limit=8)
    assert _example_restorer().main([str(lq), str(restored), "--scale", "8"]) == 0
    outputs = sorted(restored.glob("*.png"))
    assert len(outputs) == 8
    missing = outputs[0].stem
    outputs[0].unlink()  # one sample without a restored image
    Image.new("RGB", (200, 200)).save(restored / "not_a_face.png")  # an image matching no sample id

    ext = api.run(**_external(restored, "lanczos-usm"), root=str(utk_root), store=store, **UTK)
    bicubic = api.run(method="bicubic", root=str(utk_root), store=store, **UTK)
    assert ext.method == "external:lanczos-usm" and ext.n_ok == 7 and ext.n_failed == 1
    assert [(sid, stage) for sid, stage, _ in ext.errors] == [(missing, "restore")]
    assert "missing: no restored image" in ext.errors[0][2]
    assert any("1 unmatched image(s)" in note and "not_a_face.png" in note for note in ext.notes)
    assert any("7 restored image(s)" in note for note in ext.notes)

    # per-image PSNR = scikit-image on the very files (HQ decoded by Pillow)
    values = _per_image(store, ext.run_id)
    assert len(values) == 7
    for sid, value in values.items():
        hq = np.asarray(Image.open(next((utk_root / "images").glob(f"{sid}.*"))).convert("RGB"))
        out = np.asarray(Image.open(restored / f"{sid}.png").convert("RGB"))
        assert value == pytest.approx(peak_signal_noise_ratio(hq, out, data_range=255), abs=1e-9)

    # one table, both methods, on the 7 faces both restored; `bench errors` shows the missing image
    text = _cli("leaderboard", "--store", str(store), "--out", str(tmp_path / "lb"))
    # the terminal wraps the caption at 120 columns: compare with the line breaks undone
    assert " ".join(text.split()).count("Every column is computed on the 7 faces that all 2 run(s) restored") == 1
    means = {row.split()[0]: row.split()[1] for row in text.splitlines()
             if row.startswith(("bicubic ", "external:lanczos-usm "))}
    bicubic_values = _per_image(store, bicubic.run_id)
    assert float(means["external:lanczos-usm"]) == pytest.approx(np.mean(list(values.values())), abs=0.006)
    assert float(means["bicubic"]) == pytest.approx(np.mean([bicubic_values[s] for s in values]), abs=0.006)
    assert f"{missing} [restore]" in _cli("errors", "--store", str(store), "--run", ext.run_id)


def test_scoring_bicubic_saved_images_reproduces_bicubic_exactly(tmp_path, utk_root):
    store = tmp_path / "r.sqlite"
    bicubic = api.run(method="bicubic", root=str(utk_root), store=store, save_images=True, out=tmp_path / "o", **UTK)
    (folder,) = (tmp_path / "o" / "restored").iterdir()
    ext = api.run(**_external(folder, "bicubic-saved"), root=str(utk_root), store=store, **UTK)
    assert ext.n_ok == 8 and not ext.errors
    expected, got = _per_image(store, bicubic.run_id), _per_image(store, ext.run_id)
    assert len(expected) == 8 and got == expected  # bit-identical: PNG round trip of the same uint8 images


def test_changed_folder_is_another_run_and_unchanged_resumes(tmp_path):
    folder, store = tmp_path / "out", tmp_path / "r.sqlite"
    saved = api.run(method="bicubic", store=store, save_images=True, out=tmp_path / "o", **SYNTH)
    (source,) = (tmp_path / "o" / "restored").iterdir()
    folder.mkdir()
    for path in source.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    first = api.run(**_external(folder), store=store, **SYNTH)
    again = api.run(**_external(folder), store=store, **SYNTH)
    assert again.run_id == first.run_id and again.n_skipped == 3 and again.n_processed == 0
    image = np.asarray(Image.open(folder / "synth_00000.png")).copy()
    image[0, 0] ^= 1
    Image.fromarray(image).save(folder / "synth_00000.png")
    changed = api.run(**_external(folder), store=store, **SYNTH)
    assert changed.run_id != first.run_id and changed.n_processed == 3
    with ResultStore(store, readonly=True) as db:
        identities = {r["run_id"]: r["identity"]["method"] for r in db.runs()}
    assert identities[first.run_id]["files_sha256"] != identities[changed.run_id]["files_sha256"]
    assert identities[first.run_id]["files"] == 3 and saved.run_id in identities


def test_size_mismatch_is_an_error_unless_resize_is_given(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    for i in range(3):  # 16x16 outputs for 32x32 HQ faces
        Image.fromarray(np.full((16, 16, 3), 100 + i, np.uint8)).save(folder / f"synth_{i:05d}.png")
    strict = api.run(**_external(folder), store=tmp_path / "a.sqlite", **SYNTH)
    assert strict.n_failed == 3 and all("16x16 (HxW), the HQ is 32x32" in cause for _, _, cause in strict.errors)
    resized = api.run(**_external(folder, resize="bicubic"), store=tmp_path / "b.sqlite", **SYNTH)
    assert resized.n_ok == 3 and resized.run_id != strict.run_id
    with pytest.raises(ConfigurationError, match="resize must be one of bicubic"):
        api.run(**_external(folder, resize="lanczos"), store=tmp_path / "c.sqlite", **SYNTH)


def test_grey_accepted_alpha_and_duplicates_are_per_image_errors(tmp_path):
    from skimage.metrics import peak_signal_noise_ratio

    folder, store = tmp_path / "out", tmp_path / "r.sqlite"
    folder.mkdir()
    grey = np.arange(32 * 32, dtype=np.uint8).reshape(32, 32)
    Image.fromarray(grey, "L").save(folder / "synth_00000.png")
    Image.new("RGBA", (32, 32)).save(folder / "synth_00001.png")
    Image.new("RGB", (32, 32)).save(folder / "synth_00002.png")
    Image.new("RGB", (32, 32)).save(folder / "synth_00002.jpg")
    summary = api.run(**_external(folder), store=store, **SYNTH)
    causes = {sid: cause for sid, _, cause in summary.errors}
    assert set(causes) == {"synth_00001", "synth_00002"}
    assert "alpha channel" in causes["synth_00001"] and "several restored images" in causes["synth_00002"]
    assert any("1 sample id(s) with several restored images" in note for note in summary.notes)
    from bench.core.registry import DATASETS

    sample = DATASETS.build("synthetic", n=3, size=32).samples[0]
    expected = peak_signal_noise_ratio(sample.hq(), np.repeat(grey[:, :, None], 3, axis=2), data_range=255)
    assert _per_image(store, summary.run_id)["synth_00000"] == pytest.approx(expected, abs=1e-9)


def test_folder_rule_ids_with_subfolders_and_dots(tmp_path):
    from baselines.external import index_folder

    (tmp_path / "set1").mkdir()
    for name in ("set1/0001.png", "a.b.JPG", "c.png", "c.webp", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    index, problems = index_folder(tmp_path)
    assert index == {"set1/0001": ["set1/0001.png"], "a.b": ["a.b.JPG"], "c": ["c.png", "c.webp"]}
    assert problems == []


@pytest.mark.parametrize("options, message", [
    ({"name": "x"}, "needs -M folder=PATH"),
    ({"folder": "/nonexistent/frbench", "name": "x"}, "does not exist"),
    ({"folder": ".", "name": "bad name/with slash"}, "needs -M name=NAME"),
    ({"folder": "."}, "needs -M name=NAME"),
])
def test_bad_options_are_one_line_configuration_errors(options, message):
    from bench.core.registry import METHODS

    with pytest.raises(ConfigurationError, match=message):
        METHODS.build("external", device="cpu", **options)
