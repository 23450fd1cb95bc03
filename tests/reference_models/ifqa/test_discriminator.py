"""IFQA U-Net discriminator port against ../shared/golden/ifqa (skips when ../shared is absent)."""
import json
import zlib

import numpy as np
import pytest
import torch

from reference_models.ifqa.discriminator import RELEASED_CONFIG, IFQADiscriminator, load_ifqa_state_dict
from bench.core.checkpoints import StateDictMismatchError, manifest_mismatches
from tests.conftest import shared_path
from tests.golden_support import hash_uniform, manifest_shapes


def _load(name):
    from safetensors.torch import load_file

    return load_file(str(shared_path("golden", "ifqa", name)))


def _hashinit_uint32(shapes):
    """hashinit-v1 (tests/golden_support.py) with wrapping uint32 arithmetic: the same values, 105 M of them
    in a third of the time (the recipe's ``& 0xFFFFFFFF`` after every product is uint32 overflow)."""
    out = {}
    for key, (shape, _) in shapes.items():
        n = int(np.prod(shape))
        s = zlib.crc32(key.encode()) & 0xFFFFFFFF
        x = np.arange(n, dtype=np.uint32)
        x *= np.uint32(0x9E3779B1)
        x += np.uint32((s * 0x85EBCA77 + 0x165667B1) & 0xFFFFFFFF)
        x ^= x >> 15
        x *= np.uint32(0x2C1B3C6D)
        x ^= x >> 12
        x *= np.uint32(0x297A2D39)
        x ^= x >> 15
        u = (x >> 8).astype(np.float64) / 2 ** 24
        if len(shape) <= 1:
            v = 0.75 + 0.5 * u if key.endswith("weight") else (2 * u - 1) * 0.1
        else:
            v = (2 * u - 1) * np.sqrt(6.0 / np.prod(shape[1:]))
        out[key] = torch.from_numpy(v.astype(np.float32).reshape(shape))
    return out


def test_fast_hashinit_equals_the_reference_recipe():
    key = "encoder16.conv2.weight"
    mine = _hashinit_uint32({key: ((512, 256, 3, 3), "float32")})[key].flatten()[:5000].double()
    ref = (2 * hash_uniform(key, 5000) - 1) * np.sqrt(6.0 / (256 * 9))
    assert np.array_equal(mine.numpy(), ref.astype(np.float32).astype(np.float64))


def _rel(a, b):
    return float((a - b).abs().max() / b.abs().max())


def test_released_keys_shapes_order_and_count_match_manifest():
    manifest = json.loads(shared_path("golden", "ifqa", "manifest_full.json").read_text())
    with torch.device("meta"):
        net = IFQADiscriminator(**RELEASED_CONFIG)
    assert manifest_mismatches(net, manifest) == []
    assert len(net.state_dict()) == manifest["num_keys"] == 122
    assert sum(p.numel() for p in net.parameters()) == manifest["total_parameters"] == 105_172_833
    assert not list(net.buffers())                      # InstanceNorm keeps no running statistics


def test_small_golden_256_and_batch_of_two_at_64():
    g = _load("golden_small.safetensors")
    net = IFQADiscriminator(base_channels=4).eval()
    load_ifqa_state_dict(net, {k[3:]: v for k, v in g.items() if k.startswith("sd.")})
    with torch.no_grad():
        p = net(g["in.x"])
        p64 = net(g["in.x_b2_64"])
    assert p.shape == (1, 1, 256, 256) and p64.shape == (2, 1, 64, 64)
    assert _rel(p, g["out.p_map"]) < 1e-5
    assert _rel(p64, g["out.p_map_b2_64"]) < 1e-5
    assert abs(float(p.sum() / (256 * 256)) - float(g["out.score"])) / float(g["out.score"]) < 1e-5
    assert ((p > 0) & (p < 1)).all()


def test_full_width_hashinit_golden():
    g = _load("golden_full_hashinit.safetensors")
    manifest = json.loads(shared_path("golden", "ifqa", "manifest_full.json").read_text())
    with torch.device("meta"):
        net = IFQADiscriminator()
    net = net.to_empty(device="cpu")
    load_ifqa_state_dict(net, {"D": _hashinit_uint32(manifest_shapes(manifest))})   # the released {'D': ...} form
    with torch.no_grad():
        p = net.eval()(g["in.x"])
    assert _rel(p, g["out.p_map"]) < 1e-5
    assert abs(float(p.mean()) - float(g["out.score"])) / float(g["out.score"]) < 1e-5


def test_loader_names_missing_unexpected_and_shape_mismatches():
    net = IFQADiscriminator(base_channels=4)
    state = dict(net.state_dict())
    state.pop("btn.2.conv1.bias")
    state["decoder16.extra"] = torch.zeros(1)
    state["encoder64.conv1x1.weight"] = torch.zeros(1, 1, 1, 1)
    with pytest.raises(StateDictMismatchError) as err:
        load_ifqa_state_dict(net, state)
    assert "btn.2.conv1.bias" in str(err.value) and "decoder16.extra" in str(err.value)
    assert "encoder64.conv1x1.weight" in str(err.value)


def test_gradients_reach_every_parameter_and_input_size_is_checked():
    torch.manual_seed(0)
    net = IFQADiscriminator(base_channels=2)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    net(x).square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())
    with pytest.raises(ValueError, match="divisible by 32"):
        net(torch.zeros(1, 3, 48, 40))
