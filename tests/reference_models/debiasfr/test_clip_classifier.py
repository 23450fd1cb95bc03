"""DebiasFR CLIP attribute classifier port against ../shared/golden/dbfr_clip_classifier (hashinit-v1 weights)."""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from reference_models.debiasfr.clip_classifier import (
    ClipAttributeClassifier,
    ClipCritic,
    StateDictMismatchError,
    clip_input,
    load_clip_classifier,
    load_clip_classifier_state_dict,
)
from bench.core.checkpoints import manifest_mismatches
from tests.conftest import shared_path
from tests.golden_support import hashinit_state_dict, manifest_shapes


@pytest.fixture(scope="module")
def golden():
    from safetensors.torch import load_file

    folder = shared_path("golden", "dbfr_clip_classifier")
    manifest = json.loads((folder / "manifest_full.json").read_text())
    config = json.loads((folder / "config_small.json").read_text())
    return manifest, config, load_file(str(folder / "golden_small.safetensors"))


@pytest.fixture(scope="module")
def hashinit(golden):
    return hashinit_state_dict(manifest_shapes(golden[0]))          # 152 M values


def _rel(ours, ref):
    assert ours.shape == ref.shape
    return float((ours - ref).abs().max() / ref.abs().max())


def test_keys_and_shapes_are_exactly_the_official_ones(golden):
    manifest, _, _ = golden
    with torch.device("meta"):
        model = ClipAttributeClassifier()
    assert manifest_mismatches(model, manifest) == []
    assert len(model.state_dict()) == manifest["num_keys"] == 334
    assert sum(p.numel() for p in model.parameters()) == manifest["total_parameters"]


def test_hashinit_checksums(golden, hashinit):
    checks = golden[1]["hashinit_checks"]
    for key in list(checks)[:: max(1, len(checks) // 20)]:
        assert float(hashinit[key].double().sum()) == pytest.approx(checks[key]["sum_float64"], rel=1e-6, abs=1e-6)


def test_golden_forward(golden, hashinit):
    _, _, g = golden
    model = ClipAttributeClassifier().eval()
    load_clip_classifier_state_dict(model, hashinit)
    with torch.no_grad():
        age, gender, emb = model(g["in.x"], out_represent=True)
        raw = model.encode_image_raw(g["in.x"])
        two = model(g["in.x"])
    assert len(two) == 2 and torch.equal(two[0], age)
    for name, ours in (("out.age_logits", age), ("out.gender_logits", gender), ("out.embedding", emb),
                       ("dbg.encode_image_raw", raw)):
        err = _rel(ours, g[name])
        assert err <= 1e-5, f"{name}: relative error {err:.2e}"


def test_resize_matches_golden_and_the_two_step_form(golden):
    _, _, g = golden
    assert _rel(clip_input(g["in.resize_x"]), g["out.resize_y"]) <= 1e-5          # 32 -> 14
    x = torch.rand(1, 1, 512, 512, generator=torch.Generator().manual_seed(0)) * 2 - 1
    ref = F.avg_pool2d(F.interpolate(x, scale_factor=7, mode="nearest"), 16)
    ours = clip_input(x)
    assert ours.shape == (1, 1, 224, 224) and torch.allclose(ours, ref, rtol=0, atol=1e-5)
    assert torch.equal(clip_input(x, size=224), ours)              # size=224 at 512 = official
    y = torch.rand(2, 3, 96, 40, generator=torch.Generator().manual_seed(1))
    ref = F.avg_pool2d(F.interpolate(y, scale_factor=(7, 28), mode="nearest"), (3, 5))    # gcd rule, per axis
    assert torch.allclose(clip_input(y, size=224), ref, rtol=0, atol=1e-5)
    small = torch.rand(1, 3, 32, 32)
    assert torch.equal(clip_input(small, size=224), F.interpolate(small, scale_factor=7, mode="nearest"))


def test_float16_checkpoint_keys_are_accepted(golden, hashinit, tmp_path):
    manifest, _, g = golden
    fp16 = set(manifest["gpu_dtypes_float16_keys"])
    assert fp16 and fp16 <= set(manifest["keys"])
    state = {k: v.half() if k in fp16 else v for k, v in hashinit.items()}
    path = tmp_path / "Clip_classifier.pth"
    torch.save({"model_state_dict": state}, path)
    model = load_clip_classifier(path)
    del state
    sd = model.state_dict()
    assert all(v.dtype == torch.float32 for v in sd.values())
    key = "clip_model.visual.conv1.weight"
    assert torch.equal(sd[key], hashinit[key].half().float())
    assert not any(p.requires_grad for p in model.parameters()) and not model.training
    with torch.no_grad():
        age, _ = model(g["in.x"])
    assert _rel(age, g["out.age_logits"]) < 1e-2                                     # fp16-rounded weights


def test_mismatched_keys_are_refused_with_their_names():
    with torch.device("meta"):
        model = ClipAttributeClassifier()
    sd = {k: torch.zeros(v.shape) for k, v in model.state_dict().items()}
    sd.pop("clip_model.ln_final.bias")
    sd["clip_model.visual.attnpool.weight"] = torch.zeros(1)
    sd["ageclassifier.model.14.weight"] = torch.zeros(9, 256)
    with pytest.raises(StateDictMismatchError) as err:
        load_clip_classifier_state_dict(model, sd)
    text = str(err.value)
    assert "clip_model.ln_final.bias" in text and "clip_model.visual.attnpool.weight" in text and "(9, 256)" in text


def test_critic_wrapper_gives_gradients_to_its_input():
    torch.manual_seed(0)
    critic = ClipCritic(ClipAttributeClassifier())
    x = torch.zeros(2, 3, 32, 32, requires_grad=True)
    age, gender = critic(x)
    assert age.shape == (2, 10) and gender.shape == (2, 2)
    (age.sum() + gender.sum()).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in critic.parameters())
    with pytest.raises(ValueError, match="224x224"):
        critic.classifier(torch.zeros(1, 3, 32, 32))
