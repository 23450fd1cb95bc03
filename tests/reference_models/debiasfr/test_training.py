"""DebiasFR training on CPU: one-step smoke test, exact resume, ablation, configuration handling."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bench.datasets.synthetic import SyntheticFaces
from reference_models.debiasfr.config import PRESETS, load_config
from reference_models.debiasfr.training import DebiasFRTrainer, load_training_faces, train_debiasfr


def _tiny_cfg(**overrides):
    base = {"losses.perceptual_network": "random-vgg19", "auxiliary.epochs": 1, "train.checkpoint_every": 1,
            "train.log_every": 1}
    base.update(overrides)
    return load_config("tiny", overrides=base)


@pytest.fixture(scope="module")
def dataset():
    return SyntheticFaces(n=24, size=32, seed=3)


def _quiet(_msg):
    pass


def test_one_training_step_runs_on_cpu_and_changes_the_generator(dataset, tmp_path):
    cfg = _tiny_cfg(**{"losses.pseudo_prob": 1.0})       # force the pseudo-pair branch too
    record = train_debiasfr(dataset, cfg, tmp_path / "run", iterations=1, progress=False, log=_quiet)
    assert record["iteration"] == 1
    losses = record["last_losses"]
    for key in ("pixel", "pyramid", "perceptual", "style", "gan", "attribute", "pseudo_attribute",
                "pseudo_degradation", "d"):
        assert np.isfinite(losses[key]), key
    assert losses["pseudo_degradation"] > 0 and losses["r1"] >= 0
    assert record["perceptual"]["network"] == "random-vgg19" and record["perceptual"]["pretrained"] is False
    assert "trained jointly from scratch" in record["decoder"]
    for name in ("checkpoint.safetensors", "debiasfr.safetensors", "critic.safetensors", "lr_predictor.safetensors",
                 "train_log.jsonl", "config.json"):
        assert (tmp_path / "run" / name).is_file(), name


def test_resume_continues_exactly_like_an_uninterrupted_run(dataset, tmp_path):
    from safetensors.torch import load_file

    cfg = _tiny_cfg()
    train_debiasfr(dataset, cfg, tmp_path / "straight", iterations=3, progress=False, log=_quiet)
    train_debiasfr(dataset, cfg, tmp_path / "resumed", iterations=1, progress=False, log=_quiet)
    record = train_debiasfr(dataset, cfg, tmp_path / "resumed", iterations=3, progress=False, log=_quiet)
    assert record["iteration"] == 3
    a = load_file(str(tmp_path / "straight" / "checkpoint.safetensors"))
    b = load_file(str(tmp_path / "resumed" / "checkpoint.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_ablation_feeds_zero_attribute_vectors(dataset, tmp_path):
    cfg = _tiny_cfg(attribute_input=False)
    faces = load_training_faces(dataset, 32, log=_quiet)
    from reference_models.attribute_classifiers.trained import SmallAttributeNet

    aux = SmallAttributeNet().eval()
    trainer = DebiasFRTrainer(cfg, faces, tmp_path, aux, aux, {"critic": {}, "lr_predictor": {}}, {}, log=_quiet)
    age, gender = trainer._attribute_vectors(torch.ones(2, 10), torch.ones(2, 2))
    assert not age.any() and not gender.any()
    cfg_on = _tiny_cfg()
    trainer_on = DebiasFRTrainer(cfg_on, faces, tmp_path, aux, aux, {"critic": {}, "lr_predictor": {}}, {}, log=_quiet)
    age, _ = trainer_on._attribute_vectors(torch.ones(2, 10), torch.ones(2, 2))
    assert age.all()


def test_unreadable_and_unlabelled_faces_are_counted_not_fatal(tmp_path):
    from bench.datasets.folder import FolderDataset

    root = tmp_path / "faces"
    root.mkdir()
    from PIL import Image

    rows = ["filename,age,gender"]
    for i in range(4):
        Image.fromarray(np.full((40, 40, 3), 40 * i, np.uint8)).save(root / f"f{i}.png")
        rows.append(f"f{i}.png,{20 + 10 * i},{i % 2}")
    (root / "bad.png").write_bytes(b"not an image")
    rows.append("bad.png,30,1")
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(root / "nolabel.png")
    (root / "attributes.csv").write_text("\n".join(rows) + "\n")
    ds = FolderDataset(root)
    messages = []
    faces = load_training_faces(ds, 32, log=messages.append)
    assert len(faces["images"]) == 4 and len(faces["unreadable"]) == 1
    assert "bad.png" in faces["unreadable"][0][0]
    assert faces["skipped_unlabelled"] == 1
    assert any("unreadable" in m for m in messages)


def test_configuration_presets_overrides_and_yaml(tmp_path):
    cfg = load_config("official")
    assert cfg["losses"]["pixel"] == 0.1 and cfg["losses"]["style"] == 50.0 and cfg["losses"]["pseudo_prob"] == 0.4
    assert cfg["train"]["iterations"] == 600_000 and cfg["network"]["fix_decoder"] is True
    assert cfg["losses"]["pseudo_range_mismatch"] is False          # corrected form by default
    small = load_config("small64", overrides={"train.iterations": 7})
    assert small["train"]["iterations"] == 7 and small["network"]["out_size"] == 64
    assert "small CPU" in small["label"]
    yml = tmp_path / "c.yaml"
    yml.write_text("losses:\n  pseudo_range_mismatch: true\ntrain:\n  batch_size: 2\n")
    cfg = load_config("tiny", yml)
    assert cfg["losses"]["pseudo_range_mismatch"] is True and cfg["train"]["batch_size"] == 2
    with pytest.raises(KeyError, match="unknown configuration key"):
        load_config("tiny", overrides={"train.iteratons": 3})
    with pytest.raises(KeyError, match="unknown DebiasFR preset"):
        load_config("huge")
    assert set(PRESETS) >= {"official", "small64", "tiny"}


def test_cli_trains_and_the_result_restores_through_the_harness(tmp_path):
    from bench.cli import main

    out = tmp_path / "cli"
    code = main(["train", "debiasfr", "--dataset", "synthetic", "--split", "all", "-D", "n=12", "-D", "size=32",
                 "--config", "tiny", "--set", "losses.perceptual_network=random-vgg19", "--set", "auxiliary.epochs=1",
                 "--iterations", "1", "--no-progress", "--out", str(out)])
    assert code == 0
    meta_file = out / "debiasfr.safetensors"
    from safetensors import safe_open

    with safe_open(str(meta_file), framework="pt") as fh:
        meta = json.loads(fh.metadata()["frbench_debiasfr"])
    assert meta["record"]["iteration"] == 1 and "not the released" in meta["record"]["label"]
    from bench.api import run

    summary = run(method="debiasfr", dataset="synthetic", dataset_options={"n": 4, "size": 32}, metrics="psnr",
                  degradation="x4", method_options={"weights": str(meta_file), "attributes": "labels"},
                  store=tmp_path / "s.sqlite", progress=False)
    assert summary.n_ok == 4 and summary.n_failed == 0, summary.errors
