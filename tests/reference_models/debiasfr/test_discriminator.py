"""DebiasFR discriminator port against ../shared/golden/dbfr_discriminator."""
import json

import pytest
import torch

from reference_models.debiasfr.discriminator import (
    TRAINING_CONFIG,
    StyleGAN2DiscriminatorClean,
    load_dbfr_discriminator_state_dict,
)
from bench.core.checkpoints import StateDictMismatchError, manifest_mismatches
from tests.conftest import shared_path


@pytest.fixture(scope="module")
def golden():
    folder = shared_path("golden", "dbfr_discriminator")
    from safetensors.torch import load_file

    return (json.loads((folder / "manifest_full.json").read_text()),
            json.loads((folder / "config_small.json").read_text()),
            load_file(str(folder / "golden_small.safetensors")))


def test_training_configuration_has_exactly_the_manifest_keys(golden):
    manifest, _, _ = golden
    assert manifest["config"]["out_size"] == TRAINING_CONFIG["out_size"]
    assert manifest["config"]["channel_multiplier"] == TRAINING_CONFIG["channel_multiplier"]
    with torch.device("meta"):
        d = StyleGAN2DiscriminatorClean(**manifest["config"])
    assert manifest_mismatches(d, manifest) == []
    assert sum(p.numel() for p in d.parameters()) == manifest["total_parameters"]


def test_golden_scores_for_stddev_groups_4_2_1(golden):
    _, config, g = golden
    d = StyleGAN2DiscriminatorClean(**config["constructor"]).eval()
    load_dbfr_discriminator_state_dict(d, {k[3:]: v for k, v in g.items() if k.startswith("sd.")})
    errors = {}
    with torch.no_grad():
        for b in (4, 2, 1):
            ours, ref = d(g["in.x"][:b]), g[f"out.score_b{b}"]
            assert ours.shape == ref.shape == (b, 1)
            errors[b] = float((ours - ref).abs().max() / ref.abs().max())
    assert max(errors.values()) < 1e-5, errors


def test_gradient_flow_and_r1_style_input_gradient():
    torch.manual_seed(0)
    d = StyleGAN2DiscriminatorClean(32, channel_multiplier=1, narrow=1 / 32)
    x = torch.randn(4, 3, 32, 32, requires_grad=True)
    score = d(x)
    (grad_x,) = torch.autograd.grad(score.sum(), x, create_graph=True)   # R1 needs double backprop
    (torch.nn.functional.softplus(-score).mean() + grad_x.square().sum()).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in d.parameters())


def test_loader_names_mismatches():
    d = StyleGAN2DiscriminatorClean(16, narrow=1 / 32)
    sd = dict(d.state_dict())
    sd.pop("final_linear.1.bias")
    with pytest.raises(StateDictMismatchError, match="final_linear.1.bias"):
        load_dbfr_discriminator_state_dict(d, sd)
