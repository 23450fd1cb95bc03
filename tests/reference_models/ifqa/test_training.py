"""`bench train ifqa`: a one/two-iteration smoke run on a few real UTKFace faces (random VGG-19 perceptual
network: smoke test only), checkpoints, reload, resume."""
from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from reference_models.ifqa.discriminator import IFQADiscriminator
from reference_models.ifqa.heldout import ranking_check
from reference_models.ifqa.training import LOG_FILE, train_ifqa
from reference_models.ifqa.training_config import CONFIGS, LABEL
from reference_models.ifqa.training_data import make_batch
from reference_models.ifqa.training_state import D_FILE, STATE_FILE, load_trained_discriminator, read_metadata


@pytest.fixture(scope="module")
def utk_dataset():
    from bench.data.datasets.utkface import UTKFace
    from tests.conftest import shared_path

    images = shared_path("data", "utkface", "images")
    ds = UTKFace(images.parent, split="train")
    assert len(ds.samples) > 100
    return ds


@pytest.fixture(scope="module")
def percep():
    from reference_models.shared.perceptual import PerceptualLoss

    return PerceptualLoss("random-vgg19")


CFG = replace(CONFIGS["tiny"], perceptual="random-vgg19", n_images=6)


def test_train_checkpoint_reload_resume(tmp_path, utk_dataset, percep):
    out = tmp_path / "run"
    rec = train_ifqa(utk_dataset, out, CFG, 1, perceptual_loss=percep, progress=False, log=lambda m: None)
    assert rec["n_images"] == 6 and rec["iterations"] == 1
    assert all(math.isfinite(v) for v in rec["last_losses"].values())
    meta = read_metadata(out / D_FILE)
    assert meta["label"] == LABEL and "trained here" in meta["label"]
    record = json.loads(meta["frbench_record"])
    assert record["iterations"] == 1 and record["n_images"] == 6
    assert record["perceptual"]["network"] == "random-vgg19"
    assert record["dataset"]["name"] == "utkface"
    conf = json.loads(meta["config"])
    assert conf == {"base_channels": CFG.d_width, "num_bottleneck": CFG.d_bottleneck}
    assert meta["input_size"] == str(CFG.size)

    # loadable as a plain IFQADiscriminator state dict (the ifqa metric's weights=PATH)
    from safetensors.torch import load_file

    state = load_file(str(out / D_FILE))
    assert set(state) == set(IFQADiscriminator(base_channels=CFG.d_width, num_bottleneck=CFG.d_bottleneck).state_dict())
    d, rec2 = load_trained_discriminator(out / D_FILE)
    assert rec2["input_size"] == CFG.size
    IFQADiscriminator(**conf).load_state_dict(state)  # what a generic loader does
    x = torch.zeros(1, 3, CFG.size, CFG.size)
    assert d(x).shape == (1, 1, CFG.size, CFG.size)

    # resume: continues at iteration 1 and ends at 2; equals an uninterrupted 2-iteration run
    rec = train_ifqa(utk_dataset, out, CFG, 2, perceptual_loss=percep, progress=False, log=lambda m: None)
    assert rec["iterations"] == 2
    assert read_metadata(out / STATE_FILE)["iteration"] == "2"
    lines = [json.loads(l) for l in (out / LOG_FILE).read_text().splitlines()]
    assert [l["iteration"] for l in lines] == [1, 2]
    straight = tmp_path / "straight"
    train_ifqa(utk_dataset, straight, CFG, 2, perceptual_loss=percep, progress=False, log=lambda m: None)
    a, b = load_file(str(out / D_FILE)), load_file(str(straight / D_FILE))
    assert all(torch.equal(a[k], b[k]) for k in a)
    # nothing left to do
    rec = train_ifqa(utk_dataset, out, CFG, 2, perceptual_loss=percep, progress=False, log=lambda m: None)
    assert rec["iterations"] == 2

    # a different configuration refuses to resume into the same folder
    with pytest.raises(ValueError, match="another configuration"):
        train_ifqa(utk_dataset, out, replace(CFG, d_width=4), 3, perceptual_loss=percep, progress=False,
                   log=lambda m: None)

    # ranking helper runs on full-size faces
    faces = np.stack([np.full((64, 64, 3), 128, np.uint8), np.full((64, 64, 3), 90, np.uint8)])
    check = ranking_check(d, faces, CFG.size)
    assert check["n"] == 2 and set(check["mean"]) == {"hq", "x4", "x8", "x16"}


def test_batches_are_deterministic():
    from reference_models.ifqa.fprs import template_masks

    faces = np.random.default_rng(0).integers(0, 256, (5, 64, 64, 3), dtype=np.uint8)
    regions, _ = template_masks("utkface", 64)
    a, b = make_batch(faces, 3, CFG, regions), make_batch(faces, 3, CFG, regions)
    c = make_batch(faces, 4, CFG, regions)
    assert torch.equal(a.lq, b.lq) and a.indices == b.indices and a.lq_params == b.lq_params
    assert a.lq_params != c.lq_params


def test_cli_wiring(tmp_path, utk_dataset, monkeypatch, capsys):
    from bench.cli import main

    root = str(utk_dataset.root)
    calls = {}

    def fake_train(dataset, out, cfg, iterations, **kw):
        calls.update(dataset=dataset.name, out=str(out), cfg=cfg, iterations=iterations, resume=kw["resume"])
        return {"label": LABEL, "n_images": 3, "iterations": iterations, "perceptual": {"network": cfg.perceptual}}

    monkeypatch.setattr("reference_models.ifqa.training.train_ifqa", fake_train)
    rc = main(["train", "ifqa", "--dataset", "utkface", "--root", root, "--config", "small", "--iterations", "5",
               "--perceptual", "random-vgg19", "--out", str(tmp_path / "o")])
    assert rc in (0, None)
    assert calls["iterations"] == 5 and calls["cfg"].perceptual == "random-vgg19" and calls["resume"]
    assert calls["cfg"].size == CONFIGS["small"].size
    assert '"iterations": 5' in capsys.readouterr().out
