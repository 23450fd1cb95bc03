"""DebiasFR training configurations: the released recipe and the small CPU presets of this suite.

A configuration is a nested dict (YAML files are read with ``yaml.safe_load``); :func:`load_config` merges
a preset, an optional YAML file and ``key.sub=value`` overrides over :data:`BASE`, the released recipe
(``Seeyn/DebiasFR options/degradation_tune_lr_wpseudo.yml`` and ``dbfr_model.py``; see
``docs/protocols/debiasfr.md`` §4-§6).  Presets:

* ``official`` -- the released recipe unchanged (512 px, 600k iterations, VGG-19, CLIP critic): for
  reference and GPU users; it needs assets that are not available offline.
* ``small64`` -- **small CPU configuration of this suite** (trained here, few images): 64 px faces, a
  1.5 M-parameter generator (``num_style_feat`` 128, ``narrow`` 1/8), decoder trained jointly from scratch
  (``fix_decoder`` false: no StyleGAN2 prior is available offline), degradation ranges rescaled from 512 to
  64 px (blur σ and kernel size ÷ 8; scale range chosen so the LQ has 8-32 px, like ×16-×64 at 512), the
  FID Inception as the perceptual network (VGG-19 ImageNet weights are not available offline), a small CNN
  trained here on the HQ training faces as the frozen attribute critic (the CLIP classifier is not
  available offline), and a small CNN trained here on degraded training faces as the low-resolution
  attribute predictor.
* ``tiny`` -- a seconds-per-iteration network for the shipped synthetic preset and for tests.

``attribute_input: false`` is the ablation "the same network without attribute input": age and gender
weights are zero vectors in both branches; every loss (the attribute loss included) stays.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Mapping

import yaml

from bench.data.degradation.debiasfr import DEBIASFR_RANGES

BASE: dict[str, Any] = {
    "network": {"out_size": 512, "num_style_feat": 512, "channel_multiplier": 2, "narrow": 1.0, "num_mlp": 8,
                "sft_half": False, "fix_decoder": True, "decoder_prior": None,
                "discriminator": {"channel_multiplier": 1, "narrow": 1.0, "stddev_group": 4}},
    "attribute_input": True,
    # the released ranges: the one table of the data layer (as lists, the YAML form), plus the grey probability
    "degradation": {**{k: list(v) if isinstance(v, tuple) else v for k, v in DEBIASFR_RANGES.items()},
                    "gray_prob": 0.01},
    "losses": {"pixel": 0.1, "perceptual": 1.0, "style": 50.0, "perceptual_network": "vgg19",
               "perceptual_input_size": None, "pyramid": 1.0, "pyramid_until": 50_000, "pyramid_after": 1e-12,
               "gan": 0.1, "attribute": 0.1, "pseudo_attribute": 0.1, "degradation": 1.0, "r1": 10.0,
               "r1_every": 16, "pseudo_prob": 0.4, "pseudo_range_mismatch": False},
    "critic": {"kind": "clip", "weights": None},
    "lr_predictor": {"kind": "dbfr", "weights": None},
    "train": {"iterations": 600_000, "batch_size": 1, "lr_g": 2e-3, "lr_d": 2e-3, "betas": [0.0, 0.99],
              "milestones": [400_000, 500_000], "gamma": 0.5, "ema_decay": 0.5 ** (32 / 10_000),
              "seed": 500_000, "checkpoint_every": 5_000, "log_every": 100, "threads": None,
              "time_limit_minutes": None, "flip": True},
    "auxiliary": {"epochs": 4, "batch_size": 64, "lr": 2e-3},
    "label": "released recipe (Seeyn/DebiasFR options/degradation_tune_lr_wpseudo.yml)",
}

PRESETS: dict[str, dict[str, Any]] = {
    "official": {},
    "small64": {
        "network": {"out_size": 64, "num_style_feat": 128, "channel_multiplier": 2, "narrow": 0.125, "num_mlp": 2,
                    "fix_decoder": False, "discriminator": {"channel_multiplier": 1, "narrow": 0.125}},
        "degradation": {"kernel_size": 11, "sigma_range": [0.1, 1.5], "scale_range": [2.0, 8.0],
                        "noise_range": [0.0, 20.0]},
        "losses": {"perceptual_network": "fid-inception", "perceptual_input_size": 96, "pyramid_until": 500},
        "critic": {"kind": "small-cnn"}, "lr_predictor": {"kind": "small-cnn"},
        "train": {"iterations": 1_500, "batch_size": 8, "lr_g": 2e-3, "lr_d": 2e-3, "milestones": [1_000, 1_300],
                  "ema_decay": 0.995, "seed": 0, "checkpoint_every": 100, "log_every": 25},
        "auxiliary": {"epochs": 4},
        "label": "small CPU DebiasFR trained by frbench (64 px, 1.5 M parameters, few images): not the released model",
    },
    "tiny": {
        "network": {"out_size": 32, "num_style_feat": 64, "channel_multiplier": 1, "narrow": 0.0625, "num_mlp": 1,
                    "fix_decoder": False, "discriminator": {"channel_multiplier": 1, "narrow": 0.0625}},
        "degradation": {"kernel_size": 7, "sigma_range": [0.1, 0.8], "scale_range": [2.0, 4.0],
                        "noise_range": [0.0, 10.0]},
        "losses": {"perceptual_network": "fid-inception", "perceptual_input_size": 64, "style": 5.0,
                   "pyramid_until": 500},
        "critic": {"kind": "small-cnn"}, "lr_predictor": {"kind": "small-cnn"},
        "train": {"iterations": 1_500, "batch_size": 8, "lr_g": 2e-3, "lr_d": 2e-3, "milestones": [1_200],
                  "ema_decay": 0.995, "seed": 0, "checkpoint_every": 100, "log_every": 25},
        "auxiliary": {"epochs": 3},
        "label": "tiny DebiasFR trained by frbench (32 px, few images): a demonstration model, not the released one",
    },
}


def deep_update(base: dict, update: Mapping) -> dict:
    """Recursive ``dict.update`` (returns ``base``)."""
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            deep_update(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def _set_dotted(cfg: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = cfg
    for key in keys[:-1]:
        if key not in node or not isinstance(node[key], dict):
            raise KeyError(f"unknown configuration key {dotted!r} (no section {key!r})")
        node = node[key]
    if keys[-1] not in node:
        known = ", ".join(sorted(node))
        raise KeyError(f"unknown configuration key {dotted!r}; known here: {known}")
    node[keys[-1]] = value


def load_config(preset: str = "small64", file: str | Path | None = None,
                overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """:data:`BASE` ⊕ preset ⊕ YAML ``file`` (safe_load) ⊕ dotted ``overrides`` (``{"train.iterations": 10}``)."""
    if preset not in PRESETS:
        raise KeyError(f"unknown DebiasFR preset {preset!r}; known: {', '.join(PRESETS)}")
    cfg = deep_update(copy.deepcopy(BASE), PRESETS[preset])
    cfg["preset"] = preset
    if file is not None:
        with open(file, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
        if not isinstance(data, Mapping):
            raise ValueError(f"{file}: a DebiasFR configuration must be a mapping, got {type(data).__name__}")
        deep_update(cfg, data)
    for key, value in (overrides or {}).items():
        _set_dotted(cfg, key, value)
    return cfg


def generator_kwargs(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Arguments of :class:`reference_models.debiasfr.DBFR` for ``cfg['network']`` (released layout flags)."""
    net = cfg["network"]
    return {"out_size": int(net["out_size"]), "num_style_feat": int(net["num_style_feat"]),
            "channel_multiplier": net["channel_multiplier"], "narrow": net["narrow"], "num_mlp": int(net["num_mlp"]),
            "sft_half": bool(net["sft_half"]), "input_is_latent": True, "different_w": True,
            "fix_decoder": bool(net["fix_decoder"])}
