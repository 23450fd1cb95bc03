"""PSFR-GAN baseline (generator netG + parsing network netP): released key layouts, golden forwards,
strict loaders, official pre/post-processing, harness run.

Golden fixtures: ``../shared/golden/psfrgan`` (see its README); tests skip when they are absent.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from baselines.psfrgan import (
    RELEASED_CONFIG,
    RELEASED_PARSENET_CONFIG,
    ParseNet,
    PSFRGANMethod,
    PSFRGenerator,
    StateDictMismatchError,
    load_parsenet_weights,
    load_psfrgan,
    load_psfrgan_weights,
    parse_onehot,
    pil_bicubic_resize,
)
from bench.core.checkpoints import manifest_mismatches
from tests.baselines.support import (
    as_tuple,
    check_harness_run,
    check_restore_contract,
    close,
    full_synthetic,
    golden,
    golden_manifest,
    save_flat_safetensors,
)
from tests.conftest import shared_path

#: the golden small constructors (official arguments only): netG 32@8, 16@16, 16@32; netP 2 down/up steps
SMALL_G = {"out_size": 32, "min_feat_size": 8, "relu_type": "LeakyReLU", "ch_range": (16, 32)}
SMALL_P = {"in_size": 32, "out_size": 32, "min_feat_size": 8, "base_ch": 16, "parsing_ch": 19, "res_depth": 2,
           "relu_type": "LeakyReLU", "ch_range": (16, 32)}


def _folder():
    return shared_path("golden", "psfrgan")


@pytest.fixture(scope="module")
def small_g():
    return golden("psfrgan", "golden_small.safetensors")


@pytest.fixture(scope="module")
def small_p():
    return golden("psfrgan", "golden_small_parsenet.safetensors")


@pytest.mark.parametrize(("name", "cls", "config", "entries", "params"), [
    ("manifest_full.json", PSFRGenerator, RELEASED_CONFIG, 221, 45_956_995),
    ("manifest_full_parsenet.json", ParseNet, RELEASED_PARSENET_CONFIG, 238, 21_303_254),
])
def test_released_keys_shapes_and_order_match_manifest(name, cls, config, entries, params):
    manifest = golden_manifest("psfrgan", name)
    for key, value in manifest["config"].items():
        if key in config:
            assert config[key] == as_tuple(value), key
    with torch.device("meta"):
        net = cls(**config)
    assert manifest_mismatches(net, manifest) == []
    assert len(net.state_dict()) == manifest["num_state_dict_entries"] == entries
    assert sum(p.numel() for p in net.parameters()) == manifest["num_parameters"] == params
    assert {k for k, _ in net.named_buffers()} == set(manifest["buffer_keys_in_state_dict"])


def test_small_golden_configs_are_the_official_ones():
    cfg = json.loads((_folder() / "config_small.json").read_text())
    g = cfg["netG (golden_small.safetensors)"]["config"]
    p = cfg["netP (golden_small_parsenet.safetensors)"]["config"]
    assert {k: as_tuple(g[k]) for k in SMALL_G} == SMALL_G
    assert g["norm_type"] == "spade" and g["parse_ch"] == 19 and g["in_size"] == g["out_size"]
    assert {k: as_tuple(p[k]) for k in SMALL_P} == SMALL_P and p["norm_type"] == "bn"


def test_small_golden_parsenet_forward(small_p):
    data, state = small_p
    net = load_parsenet_weights(ParseNet(**SMALL_P), state).eval()
    with torch.no_grad():
        logits, image = net(data["in.x"])
    close(logits, data["out.parse_logits"])
    close(image, data["out.parse_img"])
    assert torch.equal(parse_onehot(logits), data["out.parse_onehot"])  # margins 2e-3: the argmax is exact


def test_small_golden_generator_forward(small_g, small_p):
    data, state = small_g
    net = load_psfrgan_weights(PSFRGenerator(**SMALL_G), state).eval()
    assert torch.equal(data["in.x"], small_p[0]["in.x"])
    assert torch.equal(data["in.parse_onehot"], small_p[0]["out.parse_onehot"])
    with torch.no_grad():
        given = net(data["in.x"], data["in.given_parse"])
        image = net(data["in.x"], data["in.parse_onehot"])
        again = net(data["in.x"], data["in.parse_onehot"])
    close(given, data["out.image_given_parse"])
    close(image, data["out.image"])
    assert torch.equal(image, again)
    # eval-mode spectral norm never updates the stored vectors
    assert all(torch.equal(net.state_dict()[k], v) for k, v in state.items() if k.endswith(("weight_u", "weight_v")))


@pytest.mark.slow
def test_full_synthetic_golden_parsenet_forward():
    """Production ParseNet (21 M parameters) with the recipe weights; 8-16 s on one CPU thread."""
    net, data, x = full_synthetic("psfrgan", lambda: ParseNet(**RELEASED_PARSENET_CONFIG), load_parsenet_weights,
                                  suffix="_parsenet")
    with torch.no_grad():
        logits, image = net(x)
    close(image, data["out.parse_img"], 1e-4)
    close(logits[:, :, 224:288, 224:288], data["out.parse_logits_crop"], 1e-4)
    differing = int((logits.argmax(1).to(torch.uint8) != data["out.parse_labels"]).sum())
    assert differing <= 16, differing  # near-ties (min gap 4.7e-5) may flip a few of the 262,144 pixels


@pytest.mark.slow
def test_full_synthetic_golden_generator_forward():
    """Production generator (46 M parameters, spectral norm) with the recipe weights; 12-16 s on one CPU thread."""
    net, data, x = full_synthetic("psfrgan", lambda: PSFRGenerator(**RELEASED_CONFIG), load_psfrgan_weights)
    labels = data["in.parse_labels_u8"].long()
    if labels.shape[-1] != 512:  # stored either at 32x32 or already repeated x16
        labels = labels.repeat_interleave(16, -2).repeat_interleave(16, -1)
    parse = torch.nn.functional.one_hot(labels, 19).permute(0, 3, 1, 2).to(torch.float32)
    with torch.no_grad():
        image = net(x, parse)
    close(image, data["out.image_given_parse"], 1e-4)


def test_loaders_report_missing_unexpected_and_shape_errors(small_g, small_p):
    state = dict(small_g[1])
    broken = dict(state)
    del broken["const_input"]
    broken["head.1.norm_0.weight"] = torch.zeros(1)
    broken["img_out.bias"] = torch.zeros(4)
    with pytest.raises(StateDictMismatchError) as info:
        load_psfrgan_weights(PSFRGenerator(**SMALL_G), broken)
    for text in ("missing", "const_input", "unexpected", "head.1.norm_0.weight", "img_out.bias"):
        assert text in str(info.value)
    # a plain (non-spectral-norm) layout is refused, not silently ignored as by the official strict=False
    plain = {k.replace("weight_orig", "weight"): v for k, v in state.items() if not k.endswith(("_u", "_v"))}
    with pytest.raises(StateDictMismatchError, match="weight_orig"):
        load_psfrgan_weights(PSFRGenerator(**SMALL_G), plain)
    pstate = dict(small_p[1])
    del pstate["encoder.1.conv1.norm.norm.running_var"]
    with pytest.raises(StateDictMismatchError, match="running_var"):
        load_parsenet_weights(ParseNet(**SMALL_P), pstate)
    with pytest.raises(StateDictMismatchError), torch.device("meta"):
        load_psfrgan_weights(PSFRGenerator(**RELEASED_CONFIG), state)
    with pytest.raises(StateDictMismatchError), torch.device("meta"):
        load_parsenet_weights(ParseNet(**RELEASED_PARSENET_CONFIG), small_p[1])


def test_checkpoint_files_and_missing_assets(tmp_path, small_g, small_p, monkeypatch):
    from bench.core.assets import AssetUnavailableError
    from bench.core.checkpoints import CheckpointLoadError

    g_path, p_path = tmp_path / "psfrgan_epoch15_net_G.pth", tmp_path / "parse_multi_iter_90000.pth"
    torch.save(small_g[1], g_path)  # bare state dicts, as released
    torch.save({"module." + k: v for k, v in small_p[1].items()}, p_path)  # a DataParallel dump
    flat = save_flat_safetensors(tmp_path / "netG.safetensors", small_g[1])
    for path in (g_path, flat):
        net_g, net_p, info = load_psfrgan(path, p_path, SMALL_G, SMALL_P)
        assert info["generator"]["weights"] == str(path) and info["parsenet"]["weights"] == str(p_path)
        assert all(torch.equal(net_g.state_dict()[k], v) for k, v in small_g[1].items())
        assert all(torch.equal(net_p.state_dict()[k], v) for k, v in small_p[1].items())
    monkeypatch.setenv("FRBENCH_OFFLINE", "1")
    with pytest.raises(AssetUnavailableError, match="psfrgan_generator"):
        PSFRGANMethod()
    with pytest.raises(AssetUnavailableError, match="psfrgan_parsenet"):
        PSFRGANMethod(weights=g_path, config=SMALL_G, parse_config=SMALL_P)
    with pytest.raises(CheckpointLoadError, match="does not exist"):
        PSFRGANMethod(weights=tmp_path / "absent.pth", parse_weights=p_path, config=SMALL_G, parse_config=SMALL_P)


def test_method_matches_golden_end_to_end(tmp_path, small_g, small_p):
    """Method = PIL-bicubic/8-bit input + netP one-hot + netG + (x+1)/2, clip, uint8 truncation."""
    data, state = small_g
    g_path, p_path = tmp_path / "g.pth", tmp_path / "p.pth"
    torch.save(state, g_path)
    torch.save(small_p[1], p_path)
    lq = data["in.x"] * 0.5 + 0.5  # uint8-derived and already 32 px: no resize, (lq-0.5)/0.5 == in.x
    assert torch.equal((lq - 0.5) / 0.5, data["in.x"])
    ref = ((data["out.image"] + 1) / 2).clamp(0, 1)
    exact = PSFRGANMethod(weights=g_path, parse_weights=p_path, config=SMALL_G, parse_config=SMALL_P,
                          truncate_output=False)
    assert torch.equal(exact.parse((lq - 0.5) / 0.5), data["in.parse_onehot"])
    close(exact.restore(lq), ref)
    method = PSFRGANMethod(weights=g_path, parse_weights=p_path, config=SMALL_G, parse_config=SMALL_P)
    out = method.restore(lq)
    assert float((out - torch.floor(ref * 255) / 255).abs().max()) <= 1 / 255 + 1e-6
    assert torch.allclose(out * 255, torch.round(out * 255), atol=1e-3)
    assert method.name == "psfrgan" and not method.uses_attributes
    described = method.describe()
    assert "CC BY-NC-SA" in described["licence"] and described["weights"] == str(g_path)
    assert described["parse_weights"]["weights"] == str(p_path)
    json.dumps(described)


def test_pil_bicubic_resize_matches_pil():
    from PIL import Image

    rng = np.random.RandomState(0)
    for h, w in [(25, 25), (64, 48), (70, 90)]:
        u8 = rng.randint(0, 256, (h, w, 3), dtype=np.uint8)
        ref = np.asarray(Image.fromarray(u8).resize((64, 64), Image.BICUBIC)).astype(np.float64)
        x = torch.from_numpy(u8).permute(2, 0, 1)[None].to(torch.float32) / 255.0
        ours = (pil_bicubic_resize(x, 64) * 255.0)[0].permute(1, 2, 0).numpy()
        diff = np.abs(ours - ref)
        assert diff.max() <= 1.0 and (diff > 0).mean() < 1e-3, (h, w, diff.max(), (diff > 0).mean())


def test_method_resizing_range_and_determinism():
    method, lq, out = check_restore_contract(
        lambda: PSFRGANMethod(weights="random", config=SMALL_G, parse_config=SMALL_P, seed=3))
    assert float(out.std()) > 0
    assert method.restore(lq).shape == (3, 3, 32, 32)  # no HQ size: the network's own size
    onehot = method.parse(torch.zeros(1, 3, 32, 32))
    assert onehot.shape == (1, 19, 32, 32) and bool((onehot.sum(1) >= 1).all())


def test_registered_method_runs_through_the_harness(tmp_path, utkface_dir):
    """`bench run --method psfrgan -M ...` path: registry + options, 8 real UTKFace faces, rows stored."""
    check_harness_run(tmp_path, utkface_dir, "psfrgan", {"weights": "random", "config": SMALL_G, "parse_config": SMALL_P})
