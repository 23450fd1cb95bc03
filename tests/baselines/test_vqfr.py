"""VQFR v2 baseline: released key layout, golden forwards, deformable conv, strict loader, harness run.

Golden fixtures: ``../shared/golden/vqfr`` (see its README); tests skip when they are absent.
"""
from __future__ import annotations

import json
import os

import pytest
import torch

from baselines.vqfr import (
    PRODUCTION_CONFIG,
    StateDictMismatchError,
    VQFRMethod,
    VQFRv2,
    deform_conv2d_torch,
    load_vqfr,
    load_vqfr_weights,
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

#: the constructor of golden_small.safetensors (official arguments only): 64 px, 8x8 tokens, 4 levels
SMALL = {
    "base_channels": 32, "channel_multipliers": (1, 1, 1, 1), "num_enc_blocks": 2, "use_enc_attention": True,
    "num_dec_blocks": 2, "use_dec_attention": True, "code_dim": 32, "inpfeat_dim": 32,
    "code_selection_mode": "Predict", "align_opt": {"cond_channels": 32, "deformable_groups": 4},
    "quantizer_opt": {"type": "L2VectorQuantizer", "num_code": 64, "code_dim": 32, "spatial_size": (8, 8)},
}


def _plain(v):
    if isinstance(v, (tuple, list)):
        return [_plain(i) for i in v]
    if isinstance(v, dict):
        return {k: _plain(i) for k, i in v.items()}
    return v


def _manifest() -> dict:
    return golden_manifest("vqfr")


@pytest.fixture(scope="module")
def small_golden() -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    return golden("vqfr")


@pytest.fixture(scope="module")
def small_net(small_golden) -> VQFRv2:
    return load_vqfr_weights(VQFRv2(**SMALL), small_golden[1]).eval()


def test_released_keys_shapes_and_order_match_manifest():
    manifest = _manifest()
    assert _plain(PRODUCTION_CONFIG) == manifest["config"]
    with torch.device("meta"):
        net = VQFRv2(**PRODUCTION_CONFIG)
    assert manifest_mismatches(net, manifest) == []  # same keys, order, shapes, dtypes; no buffers
    assert len(manifest["keys"]) == 503
    assert sum(p.numel() for p in net.parameters()) == manifest["num_parameters"] == 83_486_539
    assert manifest["buffer_keys_in_state_dict"] == [] and "quantizer.usage" not in net.state_dict()
    assert net.img_size == 512


def test_small_golden_forward(small_golden, small_net):
    data, _ = small_golden
    config = json.loads(shared_path("golden", "vqfr", "config_small.json").read_text())["config"]
    assert _plain(SMALL) == config
    x = data["in.x"]
    with torch.no_grad():
        outs = {f: small_net(x, fidelity_ratio=f) for f in (0.0, 0.5, 1.0)}
    res = outs[1.0]
    assert torch.equal(res["quant_logit"].argmax(-1), data["out.quant_index"])  # code selection is exact
    close(res["enc_feat"], data["out.enc_feat"])
    close(res["quant_logit"], data["out.quant_logit"])
    close(res["texture_dec"], data["out.texture_dec"])
    for f, key in ((0.0, "main_dec_f0"), (0.5, "main_dec_f05"), (1.0, "main_dec_f1")):
        close(outs[f]["main_dec"], data[f"out.{key}"])
        assert torch.equal(outs[f]["texture_dec"], res["texture_dec"])
    assert torch.equal(outs[0.0]["main_dec"], outs[0.0]["texture_dec"])  # f = 0: the texture branch only


def test_plain_torch_deform_conv_matches_torchvision(small_golden, small_net):
    from torchvision.ops import deform_conv2d

    g = torch.Generator().manual_seed(0)
    for (c, groups, h, w) in ((8, 4, 9, 7), (6, 1, 5, 5), (4, 2, 1, 3)):
        x = torch.randn(2, c, h, w, generator=g)
        weight = torch.randn(5, c, 3, 3, generator=g)
        bias = torch.randn(5, generator=g)
        offset = 3.0 * torch.randn(2, 2 * 9 * groups, h, w, generator=g)  # many taps fall outside the image
        offset[0, :, 0, 0] = torch.tensor([-1.0, 0.5] * 9 * groups)     # exact integer / border positions
        mask = torch.rand(2, 9 * groups, h, w, generator=g)
        ref = deform_conv2d(x, offset, weight, bias, padding=1, mask=mask)
        close(deform_conv2d_torch(x, offset, weight, bias, mask, padding=1), ref, 1e-5)
    data, _ = small_golden
    small_net.set_deform_backend("torch")
    try:
        with torch.no_grad():
            close(small_net(data["in.x"], fidelity_ratio=1.0)["main_dec"], data["out.main_dec_f1"])
    finally:
        small_net.set_deform_backend("torchvision")
    with pytest.raises(ValueError):
        small_net.set_deform_backend("cuda")


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("FRBENCH_SLOW_TESTS") != "1",
                    reason="VQFR v2 full-size golden forward takes ~60-70 s on one CPU thread; set FRBENCH_SLOW_TESTS=1")
def test_full_synthetic_golden_forward():
    net, data, x = full_synthetic("vqfr", lambda: VQFRv2(**PRODUCTION_CONFIG), load_vqfr_weights)
    with torch.no_grad():
        res = net(x, fidelity_ratio=0.5)
    values, idx = res["quant_logit"].topk(2, dim=-1)
    assert torch.equal(idx, data["out.quant_logit_top2_idx"])
    close(values, data["out.quant_logit_top2_values"], 1e-5)
    close(res["enc_feat"], data["out.enc_feat"], 1e-5)
    close(res["main_dec"], data["out.main_dec_f05"], 1e-4)


def test_loader_reports_missing_unexpected_and_shape_errors(small_golden):
    _, state = small_golden
    broken = dict(state)
    del broken["quantizer.embedding.weight"]
    broken["quantizer.usage"] = torch.zeros(64, dtype=torch.int32)
    broken["feat2index.1.weight"] = torch.zeros(128, 32)
    with pytest.raises(StateDictMismatchError) as info:
        load_vqfr_weights(VQFRv2(**SMALL), broken)
    err = info.value
    assert err.missing == ["quantizer.embedding.weight"]
    assert err.unexpected == ["quantizer.usage"]
    assert err.mismatched == [("feat2index.1.weight", (128, 32), (64, 32))]
    for text in ("missing", "quantizer.embedding.weight", "unexpected", "quantizer.usage", "feat2index.1.weight"):
        assert text in str(err)
    # the production network refuses the small checkpoint (no silent partial load)
    with pytest.raises(StateDictMismatchError), torch.device("meta"):
        load_vqfr_weights(VQFRv2(**PRODUCTION_CONFIG), state)


def test_checkpoint_files_and_missing_weights(tmp_path, small_golden, monkeypatch):
    from bench.core.assets import AssetUnavailableError
    from bench.core.checkpoints import CheckpointLoadError

    _, state = small_golden
    ema = tmp_path / "VQFR_v2.pth"
    torch.save({"params_ema": state}, ema)
    params = tmp_path / "params.pth"  # the test yml's param_key 'params'
    torch.save({"params": state}, params)
    flat = save_flat_safetensors(tmp_path / "vqfr.safetensors", state)
    for path in (ema, params, flat):
        assert_loaded(*load_vqfr(path, SMALL), path, state)
    wrong = tmp_path / "wrong.pth"
    torch.save({"params_ema": {"quantizer.embedding.weight": state["quantizer.embedding.weight"]}}, wrong)
    with pytest.raises(StateDictMismatchError, match="missing keys"):
        load_vqfr(wrong, SMALL)
    with pytest.raises(CheckpointLoadError, match="does not exist"):
        VQFRMethod(weights=tmp_path / "absent.pth", config=SMALL)
    monkeypatch.setenv("FRBENCH_OFFLINE", "1")
    with pytest.raises(AssetUnavailableError, match="vqfr_v2") as info:
        VQFRMethod()
    assert "VQFR_v2.pth" in str(info.value) and "FRBENCH_ASSET_VQFR_V2" in str(info.value)
    with pytest.raises(ValueError, match="unknown VQFR config"):
        VQFRMethod(weights="random", config={"img_size": 64})


def test_method_matches_golden_end_to_end(tmp_path, small_golden):
    """Method = official preprocessing + net(x, f)['main_dec'] + clamp/[0,1], on the golden input."""
    data, state = small_golden
    path = tmp_path / "VQFR_v2.pth"
    torch.save({"params_ema": state}, path)
    lq = torch.round((data["in.x"] * 0.5 + 0.5) * 255.0) / 255.0  # 64 px already: no resize
    assert torch.equal((lq - 0.5) / 0.5, data["in.x"])
    for f, key in ((0.0, "main_dec_f0"), (0.5, "main_dec_f05")):
        method = VQFRMethod(weights=path, config=SMALL, f=f)
        close(method.restore(lq), (data[f"out.{key}"].clamp(-1, 1) + 1) / 2)
    assert method.name == "vqfr-v2-f0.5" and not method.uses_attributes
    described = method.describe()
    assert described["fidelity_ratio"] == 0.5 and "Apache-2.0" in described["licence"]
    assert described["weights"] == str(path) and described["config"] == json.loads(json.dumps(_plain(SMALL)))


def test_method_resizing_range_and_determinism():
    method, lq, _ = check_restore_contract(lambda: VQFRMethod(weights="random", config=SMALL, seed=3))
    assert method.name == "vqfr-v2" and method.img_size == 64
    assert method.restore(lq).shape == (3, 3, 64, 64)  # no HQ size: the network's own size
    other = VQFRMethod(weights="random", config=SMALL, seed=4).restore(lq)
    assert not torch.equal(other, method.restore(lq))
    with pytest.raises(ValueError):
        VQFRMethod(weights="random", config=SMALL, f=1.5)


def test_registered_method_runs_through_the_harness(tmp_path, utkface_dir):
    """`bench run --method vqfr -M ...` path: registry + options, 8 real UTKFace faces, rows stored."""
    check_harness_run(tmp_path, utkface_dir, "vqfr", {"weights": "random", "config": SMALL, "f": 0.5})
