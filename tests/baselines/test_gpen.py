"""GPEN (GPEN-BFR FullGenerator) baseline: released key layout, golden forwards, strict loader, harness run.

Golden fixtures: ``../shared/golden/gpen`` (see its README); tests skip when they are absent.
"""
from __future__ import annotations

import json
import os

import pytest
import torch

from baselines.gpen import (
    CONFIG_256,
    RELEASED_CONFIG,
    FullGenerator,
    GPENMethod,
    StateDictMismatchError,
    load_gpen,
    load_gpen_weights,
)
from bench.core.checkpoints import manifest_mismatches
from tests.baselines.support import (
    assert_loaded,
    check_harness_run,
    check_restore_contract,
    close,
    full_synthetic,
    golden,
    golden_manifest,
    save_flat_safetensors,
)
from tests.conftest import shared_path

#: the golden small constructor: 16 channels everywhere, 64 px
GOLDEN_SMALL = {"size": 64, "style_dim": 32, "n_mlp": 2, "channel_multiplier": 2, "narrow": 0.03125}
#: reduced network for method/harness tests (random weights)
SMALL = dict(GOLDEN_SMALL)


def _golden_small() -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    return golden("gpen")


@pytest.mark.parametrize(("name", "config", "params"), [
    ("manifest_full.json", RELEASED_CONFIG, 71_005_223),
    ("manifest_full_GPEN-BFR-256.json", CONFIG_256, 18_879_010),
])
def test_released_keys_shapes_and_order_match_manifest(name, config, params):
    manifest = golden_manifest("gpen", name)
    for key, value in manifest["config"].items():
        if key != "device":
            assert config[key] == value, key
    with torch.device("meta"):
        net = FullGenerator(**config)
    assert manifest_mismatches(net, manifest) == []
    assert sum(p.numel() for p in net.parameters()) == manifest["num_parameters"] == params
    assert {k for k, _ in net.named_buffers()} == set(manifest["buffer_keys_in_state_dict"])


def test_small_golden_forward():
    data, state = _golden_small()
    config = json.loads(shared_path("golden", "gpen", "config_small.json").read_text())["config"]
    assert {k: config[k] for k in GOLDEN_SMALL} == GOLDEN_SMALL
    net = FullGenerator(**GOLDEN_SMALL)
    load_gpen_weights(net, state)
    net.eval()
    with torch.no_grad():
        image, latent = net(data["in.x"], return_latents=True)
        again, none = net(data["in.x"])
    close(image, data["out.image"])
    close(latent, data["out.latent"])
    assert none is None and torch.equal(again, image)  # deterministic: no noise is drawn


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("FRBENCH_SLOW_TESTS") != "1",
                    reason="GPEN-BFR-512 full-size golden forward takes ~45 s on 2 cores; set FRBENCH_SLOW_TESTS=1")
def test_full_synthetic_golden_forward():
    net, data, x = full_synthetic("gpen", lambda: FullGenerator(**RELEASED_CONFIG), load_gpen_weights)
    with torch.no_grad():
        image, latent = net.eval()(x, return_latents=True)
    close(image, data["out.image"])
    close(latent, data["out.latent"])


def test_loader_reports_missing_unexpected_and_shape_errors():
    _, state = _golden_small()
    broken = dict(state)
    del broken["final_linear.0.bias"]
    broken["ecd9.0.1.weight"] = torch.zeros(1)
    broken["generator.to_rgb1.bias"] = torch.zeros(1, 3, 2, 2)
    with pytest.raises(StateDictMismatchError) as info:
        load_gpen_weights(FullGenerator(**GOLDEN_SMALL), broken)
    for text in ("missing", "final_linear.0.bias", "unexpected", "ecd9.0.1.weight", "generator.to_rgb1.bias"):
        assert text in str(info.value)
    # isconcat=False has half-size activation biases: shape errors, no partial load
    with pytest.raises(StateDictMismatchError, match="activate.bias"):
        load_gpen_weights(FullGenerator(**GOLDEN_SMALL, isconcat=False), state)
    with pytest.raises(StateDictMismatchError), torch.device("meta"):
        load_gpen_weights(FullGenerator(**RELEASED_CONFIG), state)


def test_checkpoint_files_and_missing_asset(tmp_path, monkeypatch):
    from bench.core.assets import AssetUnavailableError

    _, state = _golden_small()
    bare = tmp_path / "GPEN-BFR-512.pth"
    torch.save(state, bare)
    g_ema = tmp_path / "train.pth"
    torch.save({"g_ema": state, "d": {}}, g_ema)
    flat = save_flat_safetensors(tmp_path / "gpen.safetensors", state)
    for path in (bare, g_ema, flat):
        assert_loaded(*load_gpen(path, GOLDEN_SMALL), path, state)
    monkeypatch.setenv("FRBENCH_OFFLINE", "1")
    for model in ("512", "256"):
        with pytest.raises(AssetUnavailableError):
            GPENMethod(model=model)
    with pytest.raises(ValueError):
        GPENMethod(model="1024", weights="random", config=SMALL)


def test_method_matches_golden_end_to_end(tmp_path):
    """Method = official preprocessing + net(x) + x*0.5+0.5, clip, uint8 truncation, on the golden input."""
    data, state = _golden_small()
    path = tmp_path / "GPEN-BFR-512.pth"
    torch.save(state, path)
    lq = data["in.x"] * 0.5 + 0.5  # already 64 px: no resize, no 8-bit rounding
    ref = (data["out.image"] * 0.5 + 0.5).clamp(0, 1)
    exact = GPENMethod(weights=path, config=GOLDEN_SMALL, truncate_output=False)
    close(exact.restore(lq), ref)
    method = GPENMethod(weights=path, config=GOLDEN_SMALL)
    out = method.restore(lq)
    assert float((out - torch.floor(ref * 255) / 255).abs().max()) <= 1 / 255 + 1e-6
    assert torch.allclose(out * 255, torch.round(out * 255), atol=1e-3)
    assert method.name == "gpen" and not method.uses_attributes
    described = method.describe()
    assert "licence" in described["licence"] and described["weights"] == str(path)


def test_method_resizing_range_and_determinism():
    method, lq, _ = check_restore_contract(lambda: GPENMethod(weights="random", config=SMALL, seed=3))
    assert method.restore(lq).shape == (3, 3, 64, 64)
    assert GPENMethod(weights="random", config=SMALL, model=256).name == "gpen-256"


def test_registered_method_runs_through_the_harness(tmp_path, utkface_dir):
    """`bench run --method gpen -M ...` path: registry + options, 8 real UTKFace faces, rows stored."""
    check_harness_run(tmp_path, utkface_dir, "gpen", {"weights": "random", "config": SMALL})
