"""DebiasFR generator port against ../shared/golden/dbfr (manifest of the released model, golden forward)."""
import json

import pytest
import torch

from reference_models.debiasfr.generator import (
    DBFR,
    RELEASED_CONFIG,
    extract_generator_state,
    load_dbfr_generator_state_dict,
)
from bench.core.checkpoints import StateDictMismatchError, manifest_mismatches
from tests.conftest import shared_path

TINY = {"out_size": 16, "num_style_feat": 8, "channel_multiplier": 1, "num_mlp": 1, "narrow": 1 / 32,
        "input_is_latent": True, "different_w": True, "fix_decoder": False}


@pytest.fixture(scope="module")
def golden():
    folder = shared_path("golden", "dbfr")
    from safetensors.torch import load_file

    return (json.loads((folder / "manifest_full.json").read_text()),
            json.loads((folder / "config_small.json").read_text()),
            load_file(str(folder / "golden_small.safetensors")))


def _small_model(config, g):
    args = {k: v for k, v in config["constructor"].items() if k != "decoder_load_path"}
    model = DBFR(**args).eval()
    load_dbfr_generator_state_dict(model, {k[3:]: v for k, v in g.items() if k.startswith("sd.")})
    return model


def _rel(ours, ref):
    assert ours.shape == ref.shape
    return float((ours - ref).abs().max() / ref.abs().max())


def test_released_configuration_has_exactly_the_manifest_keys(golden):
    manifest, _, _ = golden
    assert {k: v for k, v in manifest["config"].items() if k not in ("decoder_load_path", "fix_decoder")} == \
        {k: v for k, v in RELEASED_CONFIG.items() if k != "lr_mlp"}
    with torch.device("meta"):
        model = DBFR(**RELEASED_CONFIG, fix_decoder=False)
    assert manifest_mismatches(model, manifest) == []
    sd = model.state_dict()
    assert len(sd) == manifest["num_keys"]
    assert sum(v.numel() for v in sd.values()) == manifest["total_state_dict_elements"]
    assert sum(p.numel() for p in model.parameters()) == manifest["total_parameters"]


def test_released_configuration_shapes_on_the_meta_device():
    """W+ 16x512, 14 condition maps, 7 side outputs, 5952-d style vector at 512 (no memory needed)."""
    with torch.device("meta"):
        model = DBFR(**RELEASED_CONFIG, fix_decoder=False)
        image, rgbs, styles, dbg = model(torch.empty(1, 3, 512, 512), torch.empty(1, 10), torch.empty(1, 2),
                                         return_latents=True, randomize_noise=False, return_debug=True)
    assert image.shape == (1, 3, 512, 512) and styles.shape == (1, 5952)
    assert [r.shape[-1] for r in rgbs] == [8, 16, 32, 64, 128, 256, 512]
    assert dbg["style_code"].shape == (1, 16, 512)
    assert [c.shape[1] for c in dbg["conditions"]] == [512] * 8 + [256, 256, 128, 128, 64, 64]


def test_golden_forward(golden):
    _, config, g = golden
    model = _small_model(config, g)
    with torch.no_grad():
        image, rgbs, styles, dbg = model(g["in.x"], g["in.age"], g["in.gender"], g["in.x"], True,
                                         return_latents=True, return_rgb=True, randomize_noise=False,
                                         return_debug=True)
        again, no_rgbs, no_styles = model(g["in.x"], g["in.age"], g["in.gender"], return_latents=False,
                                          return_rgb=False, randomize_noise=False)
    errors = {"out.image": _rel(image, g["out.image"]), "out.return_style": _rel(styles, g["out.return_style"]),
              "dbg.style_code_base": _rel(dbg["style_code_base"], g["dbg.style_code_base"]),
              "dbg.style_code": _rel(dbg["style_code"], g["dbg.style_code"])}
    errors.update({f"out.out_rgbs.{i}": _rel(r, g[f"out.out_rgbs.{i}"]) for i, r in enumerate(rgbs)})
    errors.update({f"dbg.conditions.{i}": _rel(c[:1], g[f"dbg.conditions.{i}"])
                   for i, c in enumerate(dbg["conditions"])})
    assert len(rgbs) == 4 and len(dbg["conditions"]) == 8
    assert max(errors.values()) < 1e-5, errors
    assert no_rgbs == [] and no_styles is None and torch.equal(again, image)


def test_noise_policy(golden):
    _, config, g = golden
    model = _small_model(config, g)
    args = (g["in.x"][:1], g["in.age"][:1], g["in.gender"][:1])
    with torch.no_grad():
        torch.manual_seed(0)
        a = model(*args)[0]
        torch.manual_seed(0)
        b = model(*args)[0]
        c = model(*args)[0]
        fixed = model(*args, randomize_noise=False)[0]
        explicit = model(*args, noise=model.stylegan_decoder.noises.as_list())[0]
    assert torch.equal(a, b) and not torch.equal(a, c)     # stochastic unless seeded
    torch.testing.assert_close(explicit, fixed)


def test_attribute_offsets_are_linear_in_the_weights():
    torch.manual_seed(0)
    model = DBFR(**TINY).eval()
    x = torch.randn(1, 3, 16, 16)
    eye_a, eye_g = torch.eye(10), torch.eye(2)
    with torch.no_grad():
        w5 = model.latent(x, eye_a[5:6], eye_g[:1])
        w6 = model.latent(x, eye_a[6:7], eye_g[:1])
        mix = model.latent(x, 0.25 * eye_a[5:6] + 0.75 * eye_a[6:7], eye_g[:1])
    assert w5.shape == (1, 6, 8)
    torch.testing.assert_close(w6 - w5, (model.age_representation[6] - model.age_representation[5])[None],
                               rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(mix, 0.25 * w5 + 0.75 * w6, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="age must be"):
        model(x, torch.zeros(1, 9), torch.zeros(1, 2))


def test_gradient_flow_and_official_freezing():
    torch.manual_seed(0)
    model = DBFR(**TINY)
    x = torch.randn(2, 3, 16, 16)
    age, gender = torch.eye(10)[[3, 7]], torch.eye(2)[[0, 1]]
    image, rgbs, styles = model(x, age, gender, return_latents=True)
    assert image.shape == x.shape and [r.shape[-1] for r in rgbs] == [8, 16] and styles.shape == (2, 5 * model.stylegan_decoder.channels[4])
    (image.square().mean() + sum(r.abs().mean() for r in rgbs)).backward()
    for name, p in model.named_parameters():
        if "style_mlp" in name:          # W+ input bypasses the mapping network
            assert p.grad is None, name
        else:
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert float(model.age_representation.grad[[3, 7]].abs().sum()) > 0
    assert float(model.age_representation.grad[0].abs().sum()) == 0
    frozen = DBFR(**{**TINY, "fix_decoder": True})
    trainable = {n for n, p in frozen.stylegan_decoder.named_parameters() if p.requires_grad}
    assert "style_convs.0.modulated_conv.modulation.weight" in trainable and "calayer.0.0.weight" in trainable
    assert "to_rgbs.0.modulated_conv.modulation.weight" not in trainable
    assert "style_convs.0.modulated_conv.weight" not in trainable and "constant_input.weight" not in trainable


def test_sft_half_variant_runs():
    torch.manual_seed(0)
    model = DBFR(**{**TINY, "sft_half": True}).eval()
    assert model.condition_in1[0].conv3.out_channels == model.unet_channels[8]
    out = model(torch.randn(1, 3, 16, 16), torch.eye(10)[:1], torch.eye(2)[:1], randomize_noise=False)[0]
    assert out.shape == (1, 3, 16, 16) and torch.isfinite(out).all()


def test_loader_names_mismatches_and_checkpoint_keys():
    model = DBFR(**TINY)
    sd = dict(model.state_dict())
    sd.pop("final_linear.bias")
    sd["mlp.model.0.weight"] = torch.zeros(1)
    sd["toRGB.0.weight"] = torch.zeros(3, 99, 1, 1)
    with pytest.raises(StateDictMismatchError) as err:
        load_dbfr_generator_state_dict(model, sd)
    text = str(err.value)
    assert "final_linear.bias" in text and "mlp.model.0.weight" in text and "(3, 99, 1, 1)" in text
    assert extract_generator_state({"params": 1, "params_ema": 2}) == 2
    assert extract_generator_state({"params": 1}) == 1
    with pytest.raises(KeyError):
        extract_generator_state({})


def test_style_codes_replace_the_modulations():
    torch.manual_seed(0)
    model = DBFR(**TINY).eval()
    args = (torch.randn(1, 3, 16, 16), torch.eye(10)[:1], torch.eye(2)[1:])
    with torch.no_grad():
        image, _, styles = model(*args, return_latents=True, randomize_noise=False)
        sizes = [c.modulated_conv.in_channels for c in [model.stylegan_decoder.style_conv1,
                                                         *model.stylegan_decoder.style_convs]]
        codes = list(torch.split(styles, sizes, dim=1))
        same = model(*args, randomize_noise=False, style_codes=codes, input_is_style=True)[0]
        codes[1] = codes[1] * 0 + 1
        other = model(*args, randomize_noise=False, style_codes=codes, input_is_style=True)[0]
    torch.testing.assert_close(same, image)
    assert not torch.allclose(other, image)


def test_decoder_prior_may_only_lack_the_fusion_layers(tmp_path):
    source = DBFR(**TINY)
    prior = {k: v for k, v in source.stylegan_decoder.state_dict().items()
             if k.split(".")[0] not in ("calayer", "ad_gen", "ad_enc")}
    path = tmp_path / "stylegan.pth"
    torch.save({"params_ema": prior}, path)
    model = DBFR(**{**TINY, "decoder_load_path": str(path)})
    assert torch.equal(model.stylegan_decoder.constant_input.weight, source.stylegan_decoder.constant_input.weight)
    prior.pop("to_rgb1.bias")
    with pytest.raises(StateDictMismatchError, match="to_rgb1.bias"):
        model.load_decoder_prior(prior)
