"""CodeFormer baseline: key layout of the released checkpoint, golden forwards, strict loader, harness run.

Golden fixtures: ``../shared/golden/codeformer`` (see its README); tests skip when they are absent.
"""
from __future__ import annotations

import json

import pytest
import torch

from baselines.codeformer import (
    PRODUCTION_CONFIG,
    CodeFormer,
    CodeFormerMethod,
    StateDictMismatchError,
    load_codeformer,
    load_codeformer_weights,
)
from tests.baselines.support import (
    assert_loaded,
    check_harness_run,
    check_restore_contract,
    close,
    golden,
    save_flat_safetensors,
    synthetic_state,
)
from tests.conftest import shared_path

#: the reduced backbone of golden_small.safetensors (its "overridden constants")
SMALL = {"dim_embd": 64, "n_head": 8, "n_layers": 2, "codebook_size": 64, "latent_size": 256,
         "connect_list": ("32", "64", "128"), "img_size": 128, "nf": 32, "ch_mult": (1, 1, 1, 1), "emb_dim": 32}


@pytest.fixture(scope="module")
def small_golden():
    return golden("codeformer")


@pytest.fixture(scope="module")
def small_net(small_golden):
    return load_codeformer_weights(CodeFormer(**SMALL), small_golden[1]).eval()


def _close(ours: torch.Tensor, ref: torch.Tensor, rel: float) -> float:
    return close(ours, ref, rel, check_shape=False)


def test_production_keys_and_shapes_match_manifest():
    manifest = json.loads(shared_path("golden", "codeformer", "manifest_full.json").read_text())
    with torch.device("meta"):
        net = CodeFormer()
    ours = {k: list(v.shape) for k, v in net.state_dict().items()}
    ref = {k: v[0] for k, v in manifest["state_dict"].items()}
    assert len(ref) == 515
    assert ours == ref
    assert sum(p.numel() for p in net.parameters()) == manifest["num_parameters"] == 94_112_707
    # the hard-wired tables of the official class follow from the backbone
    assert net.fuse_encoder_block == {"512": 2, "256": 5, "128": 8, "64": 11, "32": 14, "16": 18}
    assert net.fuse_generator_block == {"16": 6, "32": 9, "64": 12, "128": 15, "256": 18, "512": 21}
    assert {k: v for k, v in PRODUCTION_CONFIG.items() if k in manifest["config"]} == {
        k: tuple(v) if isinstance(v, list) else v for k, v in manifest["config"].items() if k in PRODUCTION_CONFIG}


def test_small_golden_forward(small_golden, small_net):
    data, _ = small_golden
    assert small_net.fuse_encoder_block == {"128": 2, "64": 5, "32": 8, "16": 12}
    assert small_net.fuse_generator_block == {"16": 6, "32": 9, "64": 12, "128": 15}
    x = data["in.x"]
    with torch.no_grad():
        image, logits, lq_feat = small_net(x, w=0.5, adain=True)
        assert torch.equal(logits.argmax(-1), data["out.top_idx"])  # code selection is exact
        _close(lq_feat, data["out.lq_feat"], 1e-5)
        _close(logits, data["out.logits"], 1e-5)
        _close(image, data["out.image"], 1e-5)
        code_logits, code_feat = small_net(x, w=0.5, code_only=True)
        assert torch.equal(code_logits, logits) and torch.equal(code_feat, lq_feat)
        _close(small_net(x[:1], w=0, adain=True)[0], data["out.image_w0_adain"], 1e-5)
        _close(small_net(x[:1], w=1.0, adain=False)[0], data["out.image_w1_noadain"], 1e-5)


@pytest.mark.slow
def test_full_synthetic_golden_forward():
    """Production structure (94 M parameters) with the recipe weights; ~20 s on 2 CPU cores."""
    data, _ = golden("codeformer", "golden_full_synthetic.safetensors")
    folder = shared_path("golden", "codeformer")
    params = json.loads((folder / "config_full_synthetic.json").read_text())["synthetic_params"]
    shapes = json.loads((folder / "manifest_full.json").read_text())["state_dict"]
    state = synthetic_state({key: shape for key, (shape, _) in shapes.items()}, params)
    with torch.device("meta"):
        net = CodeFormer()
    net = load_codeformer_weights(net.to_empty(device="cpu"), state).eval()
    del state
    x = (data["in.x_u8"].to(torch.float32) / 255.0 - 0.5) / 0.5
    with torch.no_grad():
        image, logits, lq_feat = net(x, w=0.5, adain=True)
    values, idx = logits.topk(2, dim=-1)
    assert torch.equal(idx, data["out.logits_top2_idx"])
    _close(values, data["out.logits_top2_values"], 1e-4)
    _close(lq_feat, data["out.lq_feat"], 1e-4)
    _close(image, data["out.image"], 1e-4)


def test_loader_reports_missing_unexpected_and_shape_errors(small_golden):
    state = dict(small_golden[1])
    net = CodeFormer(**SMALL)
    broken = dict(state)
    del broken["position_emb"]
    broken["fuse_convs_dict.256.scale.0.weight"] = torch.zeros(1)
    broken["feat_emb.weight"] = torch.zeros(64, 256)
    with pytest.raises(StateDictMismatchError) as info:
        load_codeformer_weights(net, broken)
    err = info.value
    assert err.missing == ["position_emb"]
    assert err.unexpected == ["fuse_convs_dict.256.scale.0.weight"]
    assert err.mismatched == [("feat_emb.weight", (64, 256), (64, 32))]
    for text in ("missing", "position_emb", "unexpected", "fuse_convs_dict.256", "feat_emb.weight"):
        assert text in str(err)
    # the production network refuses the small checkpoint (no silent partial load)
    with pytest.raises(StateDictMismatchError), torch.device("meta"):
        load_codeformer_weights(CodeFormer(), state)


def test_checkpoint_files_and_missing_asset(tmp_path, small_golden, monkeypatch):
    from bench.core.assets import AssetUnavailableError

    state = small_golden[1]
    official_layout = tmp_path / "codeformer.pth"
    torch.save({"params_ema": state}, official_layout)
    flat = save_flat_safetensors(tmp_path / "codeformer.safetensors", state)
    for path in (official_layout, flat):
        assert_loaded(*load_codeformer(path, SMALL), path, state)
    wrong = tmp_path / "wrong.pth"
    torch.save({"params_ema": {"position_emb": state["position_emb"]}}, wrong)
    with pytest.raises(StateDictMismatchError, match="missing keys"):
        load_codeformer(wrong, SMALL)
    monkeypatch.setenv("FRBENCH_OFFLINE", "1")
    with pytest.raises(AssetUnavailableError):
        CodeFormerMethod()


def test_method_matches_golden_end_to_end(tmp_path, small_golden):
    """Method = official preprocessing + net(x, w=0.5, adain=True) + clamp/[0,1], on the golden input."""
    data, state = small_golden
    path = tmp_path / "codeformer.pth"
    torch.save({"params_ema": state}, path)
    method = CodeFormerMethod(weights=path, config=SMALL)
    u8 = torch.round((data["in.x"] * 0.5 + 0.5) * 255.0)
    lq = u8 / 255.0  # (lq - 0.5) / 0.5 is then the fixture's input exactly
    assert torch.equal((lq - 0.5) / 0.5, data["in.x"])
    out = method.restore(lq)
    ref = (data["out.image"].clamp(-1, 1) + 1) / 2
    _close(out, ref, 1e-5)
    assert method.name == "codeformer" and not method.uses_attributes
    described = method.describe()
    assert described["w"] == 0.5 and "S-Lab" in described["licence"] and described["weights"] == str(path)


def test_method_resizing_range_and_determinism():
    method, lq, _ = check_restore_contract(lambda: CodeFormerMethod(weights="random", config=SMALL, seed=3, w=1.0),
                                           batch=2, single_atol=None)
    assert method.name == "codeformer-w1"
    assert method.restore(lq).shape == (2, 3, 128, 128)  # no HQ size: the network's own size
    with pytest.raises(ValueError):
        CodeFormerMethod(weights="random", config=SMALL, w=1.5)


def test_registered_method_runs_through_the_harness(tmp_path, utkface_dir):
    """`bench run --method codeformer -M ...` path: registry + options, 8 real UTKFace faces, rows stored."""
    check_harness_run(tmp_path, utkface_dir, "codeformer", {"weights": "random", "config": SMALL, "w": 0.5})
