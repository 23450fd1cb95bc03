"""The ``official`` DebiasFR preset: its files are required (one error naming each missing one), the
StyleGAN2 decoder prior is loaded and frozen as in ``dbfr_arch.py``, and ``lr_predictor.kind: dbfr`` feeds
the official ResNet-34 predictor the LQ resized to 256 px with nearest (``dbfr_model.py:L205``).

The stand-in files are written here, in a temporary folder, for the tests only: a decoder of the tiny
preset's size with seeded random weights, and a ResNet-34 predictor with seeded random weights (float16).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.core.assets import AssetUnavailableError
from bench.data.datasets.synthetic import SyntheticFaces
from reference_models.debiasfr.config import PRESETS, generator_kwargs, load_config
from reference_models.debiasfr.generator import DBFR
from reference_models.debiasfr.official_assets import DbfrLRPredictor, require_official_assets
from reference_models.debiasfr.training import DebiasFRTrainer, train_debiasfr
from reference_models.debiasfr.training_data import load_training_faces

OFFICIAL_ASSETS = ("debiasfr_stylegan", "debiasfr_attribute_predictor", "debiasfr_clip_classifier", "vgg19_imagenet")
FUSION = ("calayer", "ad_gen", "ad_enc")


def _quiet(_msg):
    pass


@pytest.fixture
def no_assets(tmp_path, monkeypatch):
    """Offline, an empty asset cache, no user overrides: no official file can be found."""
    monkeypatch.setenv("FRBENCH_OFFLINE", "1")
    monkeypatch.setenv("FRBENCH_CACHE", str(tmp_path / "empty-cache"))
    for name in OFFICIAL_ASSETS:
        monkeypatch.delenv(f"FRBENCH_ASSET_{name.upper()}", raising=False)


@pytest.fixture(scope="module")
def dataset():
    return SyntheticFaces(n=8, size=32, seed=5)


def _official_at_tiny_size(**overrides):
    """The ``official`` preset with the tiny preset's network and degradation (a CPU-sized stand-in)."""
    tiny = PRESETS["tiny"]
    dotted = {f"network.{k}": v for k, v in tiny["network"].items() if k != "discriminator"}
    dotted.update({f"network.discriminator.{k}": v for k, v in tiny["network"]["discriminator"].items()})
    dotted.update({f"degradation.{k}": v for k, v in tiny["degradation"].items()})
    dotted.update({"network.fix_decoder": True, "losses.perceptual_network": "random-vgg19",
                   "losses.perceptual_input_size": 64, "critic.kind": "small-cnn", "auxiliary.epochs": 1,
                   "train.batch_size": 2, "train.checkpoint_every": 1, "train.log_every": 1, "train.seed": 0})
    dotted.update(overrides)
    return load_config("official", overrides=dotted)


def _stand_in_prior(path, cfg) -> dict[str, torch.Tensor]:
    """A plain StyleGAN2 decoder state (no fusion layers, like DebiasFR_stylegan.pth) under ``params_ema``."""
    torch.manual_seed(1234)
    decoder = DBFR(**{**generator_kwargs(cfg), "fix_decoder": False}).stylegan_decoder
    state = {k: v.clone() for k, v in decoder.state_dict().items() if k.split(".")[0] not in FUSION}
    torch.save({"params_ema": state}, path)
    return state


def _stand_in_predictor(path) -> dict[str, torch.Tensor]:
    torch.manual_seed(99)
    state = {k: v.half() if v.is_floating_point() else v for k, v in DbfrLRPredictor().state_dict().items()}
    torch.save({"model_state_dict": state}, path)
    return state


# -- refusal ------------------------------------------------------------------------------------------
def test_official_preset_without_its_files_fails_naming_each_before_training(no_assets, dataset, tmp_path):
    cfg = load_config("official")
    assert cfg["network"]["decoder_prior"] == "asset:debiasfr_stylegan" and cfg["network"]["fix_decoder"] is True
    assert cfg["lr_predictor"]["kind"] == "dbfr"
    with pytest.raises(AssetUnavailableError) as err:
        train_debiasfr(dataset, cfg, tmp_path / "run", iterations=1, progress=False, log=_quiet)
    short = err.value.short
    assert "\n" not in short and short.startswith("DebiasFR preset 'official' needs official files")
    for name in OFFICIAL_ASSETS:
        assert name in short, name
    assert "DebiasFR_stylegan.pth" in short and "Attribute_predictor.pth" in short
    full = str(err.value)
    assert "--set network.decoder_prior=/path/DebiasFR_stylegan.pth" in full
    assert "--set lr_predictor.weights=/path/Attribute_predictor.pth" in full
    assert "FRBENCH_ASSET_DEBIASFR_STYLEGAN=/path/DebiasFR_stylegan.pth" in full
    assert "or --set losses.perceptual_network=fid-inception (the offline substitute)" in full
    assert not any((tmp_path / "run").glob("*.safetensors"))          # nothing trained, nothing written


def test_the_two_required_files_are_named_alone_when_the_rest_is_substituted(no_assets):
    cfg = _official_at_tiny_size()
    with pytest.raises(AssetUnavailableError) as err:
        require_official_assets(cfg)
    assert err.value.name == "debiasfr_stylegan, debiasfr_attribute_predictor"
    assert "debiasfr_clip_classifier" not in err.value.short and "vgg19" not in err.value.short


def test_a_fixed_decoder_without_a_prior_is_refused(dataset, tmp_path):
    cfg = load_config("tiny", overrides={"network.fix_decoder": True, "losses.perceptual_network": "random-vgg19"})
    with pytest.raises(ValueError, match="network.decoder_prior is not set: the decoder would be a frozen random"):
        train_debiasfr(dataset, cfg, tmp_path / "run", iterations=1, progress=False, log=_quiet)
    with pytest.raises(ValueError, match="lr_predictor.kind 'resnet' is not one of dbfr, small-cnn"):
        load_config("tiny", overrides={"lr_predictor.kind": "resnet"})


# -- the decoder prior ---------------------------------------------------------------------------------
def test_stand_in_prior_through_the_asset_manager_is_loaded_and_frozen(no_assets, dataset, tmp_path, monkeypatch):
    prior_file = tmp_path / "DebiasFR_stylegan.pth"
    cfg = _official_at_tiny_size(**{"lr_predictor.kind": "small-cnn"})
    prior = _stand_in_prior(prior_file, cfg)
    monkeypatch.setenv("FRBENCH_ASSET_DEBIASFR_STYLEGAN", str(prior_file))
    assert require_official_assets(cfg) == {"decoder_prior": prior_file}
    faces = load_training_faces(dataset, 32, log=_quiet)
    from reference_models.shared.attribute_classifiers.trained import SmallAttributeNet

    aux = SmallAttributeNet().eval()
    trainer = DebiasFRTrainer(cfg, faces, tmp_path, aux, aux, {"critic": {}, "lr_predictor": {}}, {}, log=_quiet)
    decoder = trainer.g.stylegan_decoder.state_dict()
    for key, value in prior.items():                          # every prior tensor is in G and in its EMA copy
        assert torch.equal(decoder[key], value), key
        assert torch.equal(trainer.g_ema.stylegan_decoder.state_dict()[key], value), key
    # frozen as dbfr_arch.py:L466-477: only StyleConv modulations and the fusion layers stay trainable
    trainable = {n for n, p in trainer.g.stylegan_decoder.named_parameters() if p.requires_grad}
    assert "style_mlp.1.weight" not in trainable and "constant_input.weight" not in trainable
    assert "style_convs.0.modulated_conv.weight" not in trainable and "to_rgbs.0.modulated_conv.weight" not in trainable
    assert "style_convs.0.modulated_conv.modulation.weight" in trainable
    assert any(n.startswith(FUSION) for n in trainable)
    optimised = {id(p) for group in trainer.opt_g.param_groups for p in group["params"]}
    frozen = [p for n, p in trainer.g.stylegan_decoder.named_parameters() if n not in trainable]
    assert frozen and not any(id(p) in optimised for p in frozen)
    before = {k: v.clone() for k, v in trainer.g.state_dict().items()}
    trainer.step()
    after = trainer.g.stylegan_decoder.state_dict()
    frozen_names = {n for n, _ in trainer.g.stylegan_decoder.named_parameters()} - trainable
    for key in frozen_names:
        assert torch.equal(after[key], prior[key]), key                 # unchanged by a training step ...
    assert any(not torch.equal(before[k], v) for k, v in trainer.g.state_dict().items())   # ... while G learns
    record = trainer.record()
    assert record["decoder_prior"]["path"] == str(prior_file) and record["decoder_prior"]["fixed"] is True
    assert "asset:debiasfr_stylegan" in record["decoder"] and "fixed except" in record["decoder"]


# -- the official low-resolution predictor ----------------------------------------------------------------
@pytest.mark.parametrize("size", [32, 512])
def test_dbfr_predictor_sees_the_input_resized_to_256_with_nearest(size):
    torch.manual_seed(0)
    model = DbfrLRPredictor().eval()
    seen = []
    model.encoder.register_forward_pre_hook(lambda _m, args: seen.append(args[0].clone()))
    x = torch.rand(2, 3, size, size) * 2 - 1
    with torch.no_grad():
        age, gender, extra = model(x)
    assert age.shape == (2, 10) and gender.shape == (2, 2) and extra is None
    if size == 32:       # nearest up by 8 = every pixel repeated 8x8
        expected = x.repeat_interleave(8, dim=-1).repeat_interleave(8, dim=-2)
    else:                # nearest down by 2 = the even rows and columns
        expected = x[..., ::2, ::2]
    assert torch.equal(seen[0], expected)


def test_kind_dbfr_trains_with_the_official_predictor_on_the_lq_and_exports_it(dataset, tmp_path):
    from safetensors.torch import load_file

    predictor_file = tmp_path / "Attribute_predictor.pth"
    state = _stand_in_predictor(predictor_file)
    cfg = load_config("tiny", overrides={"losses.perceptual_network": "random-vgg19", "auxiliary.epochs": 1,
                                         "losses.pseudo_prob": 1.0, "train.batch_size": 2,
                                         "lr_predictor.kind": "dbfr", "lr_predictor.weights": str(predictor_file)})
    record = train_debiasfr(dataset, cfg, tmp_path / "run", iterations=1, progress=False, log=_quiet)
    assert record["lr_predictor"]["kind"] == "dbfr" and record["lr_predictor"]["weights"] == str(predictor_file)
    assert "nearest to 256x256" in record["lr_predictor"]["input"]
    assert np.isfinite(record["last_losses"]["pseudo_attribute"])
    assert not (tmp_path / "run" / "lr_predictor.safetensors").exists()      # nothing trained in its place
    checkpoint = load_file(str(tmp_path / "run" / "checkpoint.safetensors"))
    assert not any(k.startswith("lr_predictor.") for k in checkpoint)       # recorded by path, not copied
    exported = load_file(str(tmp_path / "run" / "debiasfr.safetensors"))
    for key, value in state.items():                          # the official predictor, official key names
        assert torch.equal(exported[f"lr_predictor.{key}"], value.to(exported[f"lr_predictor.{key}"].dtype)), key

    # inside one iteration: the predictor gets the generator's LQ input x, and its ResNet the nearest 256 of x
    faces = load_training_faces(dataset, 32, log=_quiet)
    from reference_models.debiasfr.official_assets import build_dbfr_lr_predictor
    from reference_models.shared.attribute_classifiers.trained import SmallAttributeNet

    predictor, _ = build_dbfr_lr_predictor(cfg["lr_predictor"], log=_quiet)
    trainer = DebiasFRTrainer(cfg, faces, tmp_path / "api", SmallAttributeNet().eval(), predictor,
                              {"critic": {}, "lr_predictor": {}}, {}, log=_quiet)
    to_predictor, to_resnet, to_generator = [], [], []
    predictor.register_forward_pre_hook(lambda _m, args: to_predictor.append(args[0].clone()))
    predictor.encoder.register_forward_pre_hook(lambda _m, args: to_resnet.append(args[0].clone()))
    trainer.g.register_forward_pre_hook(lambda _m, args: to_generator.append(args[0].clone()))
    trainer.step()
    assert len(to_predictor) == 1 and to_predictor[0].shape == (2, 3, 32, 32)
    assert torch.equal(to_predictor[0], to_generator[0])                      # the LQ, in [-1, 1]
    assert torch.equal(to_resnet[0], to_predictor[0].repeat_interleave(8, -1).repeat_interleave(8, -2))
