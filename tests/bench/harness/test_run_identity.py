"""Run identity that cannot mix versions, and honest protocol labels."""
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import bench
from bench.api import run, runs
from bench.cli import main
from bench.core.errors import ConfigurationError
from bench.harness.store import ResultStore

PRESET = Path(__file__).resolve().parents[3] / "reference_models" / "debiasfr" / "presets" / \
    "debiasfr_tiny_synthetic.safetensors"


def _debiasfr(store, weights):
    return run(method="debiasfr", dataset="synthetic", dataset_options={"n": 3, "size": 64}, metrics="psnr",
               method_options={"weights": str(weights)}, store=store, progress=False)


def _rows(store, run_id):
    with ResultStore(store, readonly=True) as db:
        return [(r["sample_id"], r["status"]) for r in db.sample_rows(run_id)], db.scores(run_id)


def test_a_weights_file_changed_in_place_never_appends_to_the_old_run(tmp_path):
    """The shipped preset changed float32 -> float16 in one commit with identical metadata: the same file
    name, other bytes.  The run id must change, the old run must stay as it was."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    weights, store = tmp_path / "w.safetensors", tmp_path / "r.sqlite"
    shutil.copy(PRESET, weights)
    first = _debiasfr(store, weights)
    before = _rows(store, first.run_id)
    with safe_open(str(PRESET), framework="pt") as fh:
        meta = fh.metadata()
    tensors = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(PRESET)).items()}
    save_file(tensors, str(weights), metadata=meta)  # same name and metadata, float32 bytes
    second = _debiasfr(store, weights)
    assert second.run_id != first.run_id and second.n_processed == 3 and second.n_skipped == 0
    assert _rows(store, first.run_id) == before  # nothing appended or replaced under the old id
    listed = {r["run_id"]: r for r in runs(store)}
    assert set(listed) == {first.run_id, second.run_id}
    files = [listed[i]["identity"]["method_files_sha256"] for i in (first.run_id, second.run_id)]
    assert len(files[0]) == len(files[1]) == 1 and files[0] != files[1]
    # the same file again resumes its run
    again = _debiasfr(store, weights)
    assert again.run_id == second.run_id and again.n_processed == 0


def test_identity_names_version_degradation_parameters_and_selection(tmp_path):
    summary = run(method="bicubic", dataset="synthetic", dataset_options={"n": 4}, degradation="debiasfr-x16",
                  metrics="psnr", store=tmp_path / "r.sqlite", progress=False, subset_seed=5)
    (info,) = runs(tmp_path / "r.sqlite")
    identity = info["identity"]
    assert identity["frbench"] == bench.__version__ == info["frbench_version"]
    assert identity["degradation"]["name"] == "debiasfr-x16" and identity["degradation"]["options"]
    assert identity["selection"] == {"order": "random", "seed": 5,
                                     "rule": "ids sorted by sha256('frbench-subset:{seed}:{id}')"}
    assert identity["method_files_sha256"] == []  # bicubic loads no file
    first = run(method="bicubic", dataset="synthetic", dataset_options={"n": 4}, degradation="debiasfr-x16",
                metrics="psnr", store=tmp_path / "r.sqlite", progress=False, subset="first")
    assert first.run_id != summary.run_id  # another sample order is another run


def _paired_folder(root, n=3):
    rng = np.random.default_rng(0)
    for i in range(n):
        hq = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        (root / "hq").mkdir(parents=True, exist_ok=True)
        (root / "lq").mkdir(exist_ok=True)
        Image.fromarray(hq).save(root / "hq" / f"f{i}.png")
        Image.fromarray(hq[::4, ::4]).save(root / "lq" / f"f{i}.png")
    return root


def test_a_dataset_with_captured_lq_is_labelled_captured_whatever_degradation_says(tmp_path):
    root = _paired_folder(tmp_path / "pairs")
    store = tmp_path / "r.sqlite"
    a = run(method="bicubic", dataset="folder", root=root, metrics="psnr", store=store, progress=False,
            degradation="x8")
    b = run(method="bicubic", dataset="folder", root=root, metrics="psnr", store=store, progress=False,
            degradation="none")
    assert a.protocol == b.protocol == "captured" and a.run_id == b.run_id and b.n_processed == 0
    assert any("--degradation x8 is not used" in note for note in a.notes)
    with ResultStore(store, readonly=True) as db:
        (info,) = db.runs()
        assert info["protocol"] == "captured" and info["identity"]["degradation"] is None
        assert {r["degradation"]["protocol"] for r in db.sample_rows(a.run_id)} == {"captured"}


def test_a_flat_folder_needs_its_kind_and_a_run_without_metric_fails(tmp_path, capsys):
    flat = tmp_path / "flat"
    flat.mkdir()
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(flat / "a.png")
    store = str(tmp_path / "r.sqlite")
    assert main(["run", "--dataset", "folder", "--root", str(flat), "--store", store, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "flat folder" in err and "-D kind=hq" in err and "-D kind=lq" in err and len(err.splitlines()) == 1
    # as captured LQ, the default metrics (full-reference) do not apply: the run says so and fails
    assert main(["run", "--dataset", "folder", "--root", str(flat), "-D", "kind=lq", "--store", store,
                 "--no-progress"]) == 2
    assert "no metric to compute" in capsys.readouterr().err
    with pytest.raises(ConfigurationError, match="no metric to compute"):
        run(method="bicubic", dataset="folder", root=flat, dataset_options={"kind": "lq"}, metrics="",
            store=store, progress=False)
    assert not Path(store).exists() or runs(store) == []
