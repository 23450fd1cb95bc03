"""RestoreFormer++ baseline: released key layouts (RF++ and RF), golden forwards, strict loader, Lightning
checkpoint handling, harness run.

Golden fixtures: ``../shared/golden/restoreformerpp`` (see its README); tests skip when they are absent.
"""
from __future__ import annotations

import json

import pytest
import torch

from baselines.restoreformerpp import (
    RELEASED_CONFIG,
    RESTOREFORMER_CONFIG,
    RestoreFormerPP,
    RestoreFormerPPMethod,
    StateDictMismatchError,
    generator_state,
    load_restoreformer,
    load_restoreformer_weights,
)
from bench.core.checkpoints import manifest_mismatches
from tests.baselines.support import (
    as_tuple,
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

#: golden_small.safetensors constructor (official arguments): 64 px, 16x16 latent, cross-attention at 16 and 32 px
SMALL = {"n_embed": 64, "embed_dim": 32, "ch": 32, "out_ch": 3, "ch_mult": (1, 1, 2), "num_res_blocks": 2,
         "attn_resolutions": (16,), "in_channels": 3, "resolution": 64, "z_channels": 32, "head_size": 4,
         "ex_multi_scale_num": 1}


def _folder():
    return shared_path("golden", "restoreformerpp")


@pytest.fixture(scope="module")
def small_golden():
    return golden("restoreformerpp")


def _close(ours: torch.Tensor, ref: torch.Tensor, rel: float = 1e-5) -> float:
    return close(ours.reshape(ref.shape), ref, rel)


@pytest.mark.parametrize(("name", "config", "entries", "params"), [
    ("manifest_full.json", RELEASED_CONFIG, 441, 73_472_579),
    ("manifest_full_RestoreFormer.json", RESTOREFORMER_CONFIG, 405, 72_680_003),
])
def test_released_keys_shapes_and_order_match_manifest(name, config, entries, params):
    manifest = golden_manifest("restoreformerpp", name)
    for key, value in manifest["config"].items():
        if key in config:
            assert config[key] == as_tuple(value), key
    with torch.device("meta"):
        net = RestoreFormerPP(**config)
    assert manifest_mismatches(net, manifest) == []
    assert len(net.state_dict()) == manifest["num_state_dict_entries"] == entries
    assert sum(p.numel() for p in net.parameters()) == manifest["num_parameters"] == params
    assert not list(net.buffers())


def test_small_golden_config_is_the_official_one():
    cfg = json.loads((_folder() / "config_small.json").read_text())["config"]
    assert {k: as_tuple(cfg[k]) for k in SMALL} == SMALL
    assert cfg["double_z"] is False and cfg["enable_mid"] is True and cfg["dropout"] == 0.0


def test_small_golden_forward(small_golden):
    data, state = small_golden
    net = load_restoreformer_weights(RestoreFormerPP(**SMALL), state).eval()
    with torch.no_grad():
        out = net.forward_details(data["in.x"])
        again = net(data["in.x"])
    assert torch.equal(out["indices"], data["out.quant_indices"])  # code choice is exact (gap 0.017)
    _close(out["enc_out"], data["out.enc_out"])
    _close(out["codebook_loss"], data["out.codebook_loss"])
    _close(out["dec"], data["out.dec"])
    assert torch.equal(again, out["dec"])


@pytest.mark.slow
def test_full_synthetic_golden_forward():
    """Production RestoreFormer++ (73 M parameters) with the recipe weights; ~30 s on one CPU thread."""
    net, data, x = full_synthetic("restoreformerpp", lambda: RestoreFormerPP(**RELEASED_CONFIG), load_restoreformer_weights)
    with torch.no_grad():
        out = net.forward_details(x)
    assert torch.equal(out["indices"], data["out.quant_indices"])
    _close(out["enc_out"], data["out.enc_out"], 1e-4)
    _close(out["dec"], data["out.dec"], 1e-4)


def test_loader_reports_missing_unexpected_and_shape_errors(small_golden):
    state = dict(small_golden[1])
    broken = dict(state)
    del broken["quantize.embedding.weight"]
    broken["decoder.up.0.attn.0.q.weight"] = torch.zeros(1)
    broken["post_quant_conv.bias"] = torch.zeros(5)
    with pytest.raises(StateDictMismatchError) as info:
        load_restoreformer_weights(RestoreFormerPP(**SMALL), broken)
    for text in ("missing", "quantize.embedding.weight", "unexpected", "decoder.up.0.attn.0.q.weight",
                 "post_quant_conv.bias"):
        assert text in str(info.value)
    # RestoreFormer (no 32-px decoder attention) refuses RF++ weights instead of loading them partially
    with pytest.raises(StateDictMismatchError, match="unexpected"):
        load_restoreformer_weights(RestoreFormerPP(**dict(SMALL, ex_multi_scale_num=0)), state)
    with pytest.raises(StateDictMismatchError), torch.device("meta"):
        load_restoreformer_weights(RestoreFormerPP(**RELEASED_CONFIG), state)


def test_lightning_checkpoint_prefix_and_missing_asset(tmp_path, small_golden, monkeypatch):
    from bench.core.assets import AssetUnavailableError

    state = small_golden[1]
    lightning = {"vqvae." + k: v for k, v in state.items()}
    lightning["loss.discriminator.main.0.weight"] = torch.zeros(2, 3, 4, 4)  # not part of the generator
    ckpt = tmp_path / "RestoreFormer++.ckpt"
    torch.save({"state_dict": lightning, "epoch": 7, "global_step": 10}, ckpt)
    flat = save_flat_safetensors(tmp_path / "rfpp.safetensors", state)
    for path, ignored in ((ckpt, 1), (flat, 0)):
        net, info = load_restoreformer(path, SMALL)
        assert_loaded(net, info, path, state)
        assert info["ignored_entries"] == ignored
    kept, dropped = generator_state(lightning)
    assert set(kept) == set(state) and dropped == ["loss.discriminator.main.0.weight"]
    # a generator key missing from the Lightning dict is an error (the official strict=False would ignore it)
    del lightning["vqvae.decoder.conv_out.bias"]
    torch.save({"state_dict": lightning}, ckpt)
    with pytest.raises(StateDictMismatchError, match="decoder.conv_out.bias"):
        load_restoreformer(ckpt, SMALL)
    monkeypatch.setenv("FRBENCH_OFFLINE", "1")
    with pytest.raises(AssetUnavailableError, match="restoreformerpp"):
        RestoreFormerPPMethod()
    with pytest.raises(AssetUnavailableError, match="restoreformer"):
        RestoreFormerPPMethod(version="v1")
    with pytest.raises(ValueError):
        RestoreFormerPPMethod(weights="random", config=SMALL, version="v3")


def test_method_matches_golden_end_to_end(tmp_path, small_golden):
    """Method = official --aligned preprocessing + net(x) + clamp/[0,1], on the golden input."""
    data, state = small_golden
    path = tmp_path / "RestoreFormer++.ckpt"
    torch.save({"state_dict": {"vqvae." + k: v for k, v in state.items()}}, path)
    method = RestoreFormerPPMethod(weights=path, config=SMALL)
    lq = torch.round((data["in.x"] * 0.5 + 0.5) * 255.0) / 255.0
    assert torch.equal((lq - 0.5) / 0.5, data["in.x"])  # 64 px already: no resize
    out = method.restore(lq)
    _close(out, (data["out.dec"].clamp(-1, 1) + 1) / 2)
    assert method.name == "restoreformerpp" and not method.uses_attributes
    described = method.describe()
    assert "Apache" in described["licence"] and described["weights"] == str(path)
    assert described["model"] == "RestoreFormer++"
    json.dumps(described)


def test_method_resizing_range_and_determinism():
    method, lq, _ = check_restore_contract(lambda: RestoreFormerPPMethod(weights="random", config=SMALL, seed=3),
                                           batch=2, single_atol=None)
    assert method.restore(lq).shape == (2, 3, 64, 64)  # no HQ size: the network's own size
    assert RestoreFormerPPMethod(weights="random", config=dict(SMALL, ex_multi_scale_num=0),
                                 version="v1").name == "restoreformer"


def test_registered_method_runs_through_the_harness(tmp_path, utkface_dir):
    """`bench run --method restoreformerpp -M ...` path: registry + options, 8 real UTKFace faces, rows stored."""
    check_harness_run(tmp_path, utkface_dir, "restoreformerpp", {"weights": "random", "config": SMALL})
