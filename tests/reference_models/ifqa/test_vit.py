"""IFQA++ (MAE ViT-H/14) port against ../shared/golden/ifqa_vit (skips when ../shared is absent)."""
import json

import numpy as np
import pytest
import torch

from reference_models.ifqa.vit import RELEASED_CONFIG, IFQAViT, load_ifqa_vit_state_dict, sincos_table
from bench.core.checkpoints import StateDictMismatchError, manifest_mismatches
from tests.conftest import shared_path


@pytest.fixture(scope="module")
def small():
    from safetensors.torch import load_file

    folder = shared_path("golden", "ifqa_vit")
    config = json.loads((folder / "config_small.json").read_text())["files"]["golden_small.safetensors"]
    g = load_file(str(folder / "golden_small.safetensors"))
    net = IFQAViT(**config["constructor"]).eval()
    load_ifqa_vit_state_dict(net, {"D": {k[3:]: v for k, v in g.items() if k.startswith("sd.")}})
    return net, g


def _rel(a, b):
    return float((a - b).abs().max() / b.abs().max())


def test_released_keys_shapes_order_and_count_match_manifest():
    manifest = json.loads(shared_path("golden", "ifqa_vit", "manifest_full.json").read_text())
    with torch.device("meta"):
        net = IFQAViT(**RELEASED_CONFIG)
    assert manifest_mismatches(net, manifest) == []
    assert len(net.state_dict()) == manifest["num_keys"] == 494
    assert sum(p.numel() for p in net.parameters()) == manifest["total_parameters"] == 656_873_412


def test_sincos_tables_equal_the_stored_ones(small):
    net, g = small
    assert torch.equal(net.pos_embed, g["sd.pos_embed"])
    assert torch.equal(net.decoder_pos_embed, g["sd.decoder_pos_embed"])
    t = sincos_table(8, 3)
    assert t.shape == (10, 8) and not t[0].any()
    # token 1 = row 0, column 1: the first half (column) moves, the second (row) stays at pos 0
    assert np.allclose(t[2, :2], np.sin([1.0, 1e-2])) and np.allclose(t[2, 4:6], 0.0)


def test_small_golden_identity_order_and_reproduced_shuffle(small):
    net, g = small
    ids_shuffle = torch.argsort(g["out.ids_restore"], dim=1)
    with torch.no_grad():
        p = net(g["in.x"])
        latent = net.forward_encoder(g["in.x"], ids_shuffle)
        tokens = net.forward_decoder(latent, g["out.ids_restore"])
        p_shuffled = net.unpatchify(tokens)
    assert p.shape == (1, 1, 56, 56)
    assert _rel(p, g["out.p_map_identity_order"]) < 1e-5
    assert _rel(latent, g["out.latent"]) < 1e-5
    assert _rel(tokens, g["out.pred_tokens"]) < 1e-5
    assert _rel(p_shuffled, g["out.p_map"]) < 1e-5
    score = p_shuffled.clamp_min(0).sum() / (224 * 224)          # test.py's constant, even at 56x56
    assert abs(float(score) - float(g["out.score"])) / float(g["out.score"]) < 1e-5


def test_loader_names_mismatches(small):
    net, _ = small
    state = dict(net.state_dict())
    state.pop("decoder_pred.bias")
    with pytest.raises(StateDictMismatchError, match="decoder_pred.bias"):
        load_ifqa_vit_state_dict(net, state)
