"""DebiasFR training on CPU: one-step smoke test, exact resume, ablation, configuration handling."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bench.data.datasets.synthetic import SyntheticFaces
from reference_models.debiasfr.config import PRESETS, load_config
from reference_models.debiasfr.training import DebiasFRTrainer, train_debiasfr
from reference_models.debiasfr.training_data import load_training_faces


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
    from reference_models.shared.attribute_classifiers.trained import SmallAttributeNet

    aux = SmallAttributeNet().eval()
    trainer = DebiasFRTrainer(cfg, faces, tmp_path, aux, aux, {"critic": {}, "lr_predictor": {}}, {}, log=_quiet)
    age, gender = trainer._attribute_vectors(torch.ones(2, 10), torch.ones(2, 2))
    assert not age.any() and not gender.any()
    cfg_on = _tiny_cfg()
    trainer_on = DebiasFRTrainer(cfg_on, faces, tmp_path, aux, aux, {"critic": {}, "lr_predictor": {}}, {}, log=_quiet)
    age, _ = trainer_on._attribute_vectors(torch.ones(2, 10), torch.ones(2, 2))
    assert age.all()


def test_unreadable_and_unlabelled_faces_are_counted_not_fatal(tmp_path):
    from bench.data.datasets.folder import FolderDataset

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
    ds = FolderDataset(root, kind="hq", coding="frbench")
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


def test_a_training_step_with_the_clip_critic(dataset, tmp_path, monkeypatch):
    """``critic.kind: clip``: the frozen CLIP classifier (random weights here) judges the 32 px outputs
    (resized by clip_input to 224), gradients reach the generator, and the 152 M critic weights are not
    copied into the checkpoint."""
    from safetensors.torch import load_file

    from reference_models.debiasfr import clip_classifier as cc
    from reference_models.debiasfr.auxiliary_networks import build_clip_critic, critic_logits

    torch.manual_seed(0)
    classifier = cc.ClipAttributeClassifier().eval().requires_grad_(False)
    cfg = _tiny_cfg(**{"critic.kind": "clip", "losses.pseudo_prob": 1.0, "train.batch_size": 2})
    # through the API: DebiasFRTrainer with a ClipCritic
    faces = load_training_faces(dataset, 32, log=_quiet)
    from reference_models.shared.attribute_classifiers.trained import SmallAttributeNet

    critic = cc.ClipCritic(classifier)
    trainer = DebiasFRTrainer(cfg, faces, tmp_path / "api", critic, SmallAttributeNet().eval(),
                              {"critic": {"arch": "clip"}, "lr_predictor": {}}, {}, log=_quiet)
    before = {k: v.clone() for k, v in trainer.g.state_dict().items()}
    logs = trainer.step()
    assert np.isfinite(logs["attribute"]) and np.isfinite(logs["pseudo_attribute"]) and logs["attribute"] > 0
    assert any(not torch.equal(before[k], v) for k, v in trainer.g.state_dict().items())
    age, gender = critic_logits(critic, torch.zeros(1, 3, 32, 32))
    assert age.shape == (1, 10) and gender.shape == (1, 2)
    # through train_debiasfr with critic.weights (loader stubbed: no 600 MB file in a test)
    weights = tmp_path / "Clip_classifier.pth"
    weights.write_bytes(b"stub")
    seen = []
    monkeypatch.setattr(cc, "load_clip_classifier", lambda path: seen.append(path) or classifier)
    cfg = _tiny_cfg(**{"critic.kind": "clip", "critic.weights": str(weights), "train.batch_size": 2})
    record = train_debiasfr(dataset, cfg, tmp_path / "run", iterations=1, progress=False, log=_quiet)
    assert seen == [weights] and record["critic"]["weights"] == str(weights)
    assert "CLIP" in record["critic"]["arch"] and np.isfinite(record["last_losses"]["attribute"])
    assert not (tmp_path / "run" / "critic.safetensors").exists()
    assert not any(k.startswith("critic.") for k in load_file(str(tmp_path / "run" / "checkpoint.safetensors")))
    critic2, _ = build_clip_critic({"kind": "clip", "weights": str(weights)}, log=_quiet)
    assert isinstance(critic2, cc.ClipCritic)


def test_clip_critic_without_weights_fails_clearly(dataset, tmp_path, monkeypatch):
    from bench.core.assets import AssetUnavailableError

    monkeypatch.setenv("FRBENCH_OFFLINE", "1")
    monkeypatch.setenv("FRBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("FRBENCH_ASSET_DEBIASFR_CLIP_CLASSIFIER", raising=False)
    cfg = _tiny_cfg(**{"critic.kind": "clip"})
    with pytest.raises(AssetUnavailableError, match="debiasfr_clip_classifier") as err:
        train_debiasfr(dataset, cfg, tmp_path / "run", iterations=1, progress=False, log=_quiet)
    assert "critic.weights=" in str(err.value) and "critic.kind=small-cnn" in str(err.value)
    assert not (tmp_path / "run" / "checkpoint.safetensors").exists()
    cfg = _tiny_cfg(**{"critic.kind": "clip", "critic.weights": str(tmp_path / "missing.pth")})
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        train_debiasfr(dataset, cfg, tmp_path / "run2", iterations=1, progress=False, log=_quiet)


def test_a_non_finite_generator_loss_skips_the_discriminator_step_too(dataset, tmp_path):
    """Official ``dbfr_model.py``: when ``l_g_total`` is NaN/inf neither G nor D is updated."""
    faces = load_training_faces(dataset, 32, log=_quiet)
    from reference_models.shared.attribute_classifiers.trained import SmallAttributeNet

    aux = SmallAttributeNet().eval()
    cfg = _tiny_cfg(**{"losses.pseudo_prob": 0.0})
    trainer = DebiasFRTrainer(cfg, faces, tmp_path, aux, aux, {"critic": {}, "lr_predictor": {}}, {}, log=_quiet)
    for pixel, finite in ((float("nan"), False), (0.1, True)):   # a NaN loss first, then a finite one
        trainer.cfg["losses"]["pixel"] = pixel
        d_before = {k: v.clone() for k, v in trainer.d.state_dict().items()}
        g_before = {k: v.clone() for k, v in trainer.g.state_dict().items()}
        logs = trainer.step()
        d_same = all(torch.equal(d_before[k], v) for k, v in trainer.d.state_dict().items())
        g_same = all(torch.equal(g_before[k], v) for k, v in trainer.g.state_dict().items())
        assert (d_same, g_same) == (not finite, not finite)
        assert trainer.skipped_steps == 1 and np.isfinite(logs["d"]) == finite
        assert bool(trainer.opt_d.state_dict()["state"]) == finite        # no Adam moment for a skipped D step
