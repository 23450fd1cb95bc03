"""GFPGAN (GFPGANv1Clean, v1.3/v1.4) baseline: released key layout, golden forwards, strict loader, harness run.

Golden fixtures: ``../shared/golden/gfpganv1_clean`` (see its README); tests skip when they are absent.
"""
from __future__ import annotations

import json

import pytest
import torch

from baselines.gfpgan import (
    RELEASED_CONFIG,
    GFPGANMethod,
    GFPGANv1Clean,
    StateDictMismatchError,
    load_gfpgan,
    load_gfpgan_weights,
)
from bench.core.checkpoints import manifest_mismatches
from tests.baselines.support import (
    assert_loaded,
    check_harness_run,
    check_restore_contract,
    close,
    golden,
    save_flat_safetensors,
)
from tests.conftest import shared_path

GOLDEN_FILES = ("golden_small.safetensors", "golden_small_sfthalf_false.safetensors")
#: reduced network for method/harness tests (Cu = 16, Cd = 32, 64 px)
SMALL = {"out_size": 64, "num_style_feat": 64, "channel_multiplier": 2, "narrow": 0.0625, "num_mlp": 2}


def _config() -> dict:
    return json.loads(shared_path("golden", "gfpganv1_clean", "config_small.json").read_text())


def _golden(name: str) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict]:
    data, state = golden("gfpganv1_clean", name)
    return data, state, _config()["files"][name]["constructor"]


def test_released_keys_shapes_and_order_match_manifest():
    manifest = json.loads(shared_path("golden", "gfpganv1_clean", "manifest_full.json").read_text())
    assert manifest["config"] == RELEASED_CONFIG
    with torch.device("meta"):
        net = GFPGANv1Clean(**RELEASED_CONFIG)
    assert manifest_mismatches(net, manifest) == []
    assert len(net.state_dict()) == manifest["num_keys"] == 285
    assert sum(p.numel() for p in net.parameters()) == manifest["total_parameters"]


@pytest.mark.parametrize("name", GOLDEN_FILES)
def test_small_golden_forward(name):
    data, state, ctor = _golden(name)
    net = GFPGANv1Clean(**ctor)
    load_gfpgan_weights(net, state)
    net.eval()
    with torch.no_grad():
        image, rgbs, dbg = net(data["in.x"], return_latents=False, return_rgb=True, randomize_noise=False,
                               return_debug=True)
        again, none = net(data["in.x"], return_rgb=False, randomize_noise=False, weight=0.5)
    close(image, data["out.image"])
    assert len(rgbs) == 4
    for i, rgb in enumerate(rgbs):
        close(rgb, data[f"out.out_rgbs.{i}"])
    close(dbg["style_code"], data["dbg.style_code"])
    assert len(dbg["conditions"]) == 8
    for j, cond in enumerate(dbg["conditions"]):
        close(cond[:1], data[f"dbg.conditions.{j}"])
    assert torch.equal(again, image) and none == []
    # randomize_noise=True (official default) draws fresh noise each call
    with torch.no_grad():
        a, b = net(data["in.x"])[0], net(data["in.x"])[0]
    assert not torch.equal(a, b)


def test_loader_reports_missing_unexpected_and_shape_errors():
    _, state, ctor = _golden(GOLDEN_FILES[0])
    broken = dict(state)
    del broken["final_linear.bias"]
    broken["condition_scale.9.0.weight"] = torch.zeros(1)
    broken["toRGB.0.weight"] = torch.zeros(3, 8, 1, 1)
    with pytest.raises(StateDictMismatchError) as info:
        load_gfpgan_weights(GFPGANv1Clean(**ctor), broken)
    for text in ("missing", "final_linear.bias", "unexpected", "condition_scale.9.0.weight", "toRGB.0.weight"):
        assert text in str(info.value)
    # sft_half=False checkpoint into an sft_half=True network: shape errors, no partial load
    _, other, _ = _golden(GOLDEN_FILES[1])
    with pytest.raises(StateDictMismatchError, match="condition_scale"):
        load_gfpgan_weights(GFPGANv1Clean(**ctor), other)
    with pytest.raises(StateDictMismatchError), torch.device("meta"):
        load_gfpgan_weights(GFPGANv1Clean(**RELEASED_CONFIG), state)


def test_checkpoint_files_and_missing_asset(tmp_path, monkeypatch):
    from bench.core.assets import AssetUnavailableError

    _, state, ctor = _golden(GOLDEN_FILES[0])
    ema = tmp_path / "GFPGANv1.3.pth"
    torch.save({"params_ema": state, "params": {}}, ema)
    params = tmp_path / "params_only.pth"
    torch.save({"params": state}, params)
    flat = save_flat_safetensors(tmp_path / "gfpgan.safetensors", state)
    for path in (ema, params, flat):
        assert_loaded(*load_gfpgan(path, ctor), path, state)
    monkeypatch.setenv("FRBENCH_OFFLINE", "1")
    for version in ("1.3", "1.4"):
        with pytest.raises(AssetUnavailableError):
            GFPGANMethod(version=version)
    with pytest.raises(ValueError):
        GFPGANMethod(version="1.2", weights="random", config=SMALL)


def test_method_matches_golden_end_to_end(tmp_path):
    """Method = official preprocessing + net(x, return_rgb=False) + clamp/[0,1], on the golden input."""
    data, state, ctor = _golden(GOLDEN_FILES[0])
    path = tmp_path / "GFPGANv1.3.pth"
    torch.save({"params_ema": state}, path)
    method = GFPGANMethod(weights=path, config=ctor, noise="fixed")
    lq = data["in.x"] * 0.5 + 0.5  # already 64 px: no resize, so no 8-bit rounding either
    assert float(((lq - 0.5) / 0.5 - data["in.x"]).abs().max()) < 1e-6
    close(method.restore(lq), (data["out.image"].clamp(-1, 1) + 1) / 2)
    assert method.name == "gfpgan" and not method.uses_attributes
    described = method.describe()
    assert "Apache-2.0" in described["licence"] and described["weights"] == str(path)


def test_method_seeded_noise_resizing_range_and_determinism():
    # single_atol: per-image noise, independent of the batch composition
    method, lq, out = check_restore_contract(lambda: GFPGANMethod(weights="random", config=SMALL, seed=3),
                                             single_atol=1e-6)
    other_seed = GFPGANMethod(weights="random", config=SMALL, seed=4).restore(lq, out_size=(100, 90))
    assert not torch.equal(out, other_seed)
    assert method.restore(lq).shape == (3, 3, 64, 64)
    assert GFPGANMethod(weights="random", config=SMALL, version="1.4").name == "gfpgan-v1.4"
    with pytest.raises(ValueError):
        GFPGANMethod(weights="random", config=SMALL, noise="fresh")


def test_registered_method_runs_through_the_harness(tmp_path, utkface_dir):
    """`bench run --method gfpgan -M ...` path: registry + options, 8 real UTKFace faces, rows stored."""
    check_harness_run(tmp_path, utkface_dir, "gfpgan", {"weights": "random", "config": SMALL})
