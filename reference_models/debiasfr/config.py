"""DebiasFR training configurations: the released recipe and the small CPU presets of this suite.

A configuration is a nested dict (YAML files are read with ``yaml.safe_load``); :func:`load_config` merges
a preset, an optional YAML file and ``key.sub=value`` overrides over :data:`BASE`, the released recipe
(``Seeyn/DebiasFR options/degradation_tune_lr_wpseudo.yml`` and ``dbfr_model.py``; see
``docs/protocols/debiasfr.md`` §4-§6).  Presets:

* ``official`` -- the released recipe (512 px, 600k iterations, VGG-19, CLIP critic) with its official
  files **required**: the StyleGAN2 decoder prior ``DebiasFR_stylegan.pth`` (``network.decoder_prior:
  asset:debiasfr_stylegan``, loaded from ``params_ema``; decoder fixed except StyleConv modulations and
  fusion layers, as ``dbfr_arch.py`` does) and the ResNet-34 low-resolution attribute predictor
  ``Attribute_predictor.pth`` (``lr_predictor.kind: dbfr``, asset ``debiasfr_attribute_predictor``: fed the
  [-1, 1] LQ resized to 256 px with nearest for the pseudo-pair soft targets, as ``dbfr_model.py:L205``,
  and exported as the blind-inference predictor).  When a file is absent training stops before anything
  runs with one error naming each missing asset (:mod:`reference_models.debiasfr.official_assets`); it is
  never replaced by a random network.  For reference and GPU users: the files are not available offline.
  **Not the released recipe unchanged**; its documented deviations from the official code:

  - the pseudo-pair degradation loss compares a [0, 1] re-degradation with the [0, 1] LQ
    (``losses.pseudo_range_mismatch: false``; the released code compares it with the [-1, 1] LQ, which
    ``true`` reproduces);
  - the EMA decay is warmed up, ``min(0.5^(32/10000), (1+i)/(10+i))`` (equal to the released constant
    after ~3,200 iterations; :func:`reference_models.debiasfr.training.ema_decay_at`);
  - the top-2 soft attribute vectors are built per image (the released code uses batch element 0 for the
    whole batch: the same at its batch size 1 per GPU); all randomness of iteration ``i`` comes from
    generators seeded by ``(seed, i)`` (exact resume); one process, batch 1 (released: 4 GPUs x 1).
* ``small64`` -- **small CPU configuration of this suite** (trained here, few images): 64 px faces, a
  1.5 M-parameter generator (``num_style_feat`` 128, ``narrow`` 1/8, ``num_mlp`` 2), decoder trained
  jointly from scratch (``fix_decoder`` false, no prior: the StyleGAN2 prior is 512 px and not available
  offline), degradation ranges rescaled from 512 to 64 px (blur σ and kernel size ÷ 8; scale range chosen so
  the LQ has 8-32 px, like ×16-×64 at 512), the FID Inception as the perceptual network at 96 px (VGG-19
  ImageNet weights are not available offline), a small CNN trained here on the HQ training faces as the
  frozen attribute critic (the CLIP classifier is not available offline), a small CNN trained here on
  degraded training faces as the low-resolution attribute predictor, and a schedule for 1,500 iterations:
  batch 8, pyramid loss until iteration 500 (released: 50,000 of 600,000), learning-rate milestones
  1,000/1,300, EMA decay 0.995 (a mean over ~200 iterations; released: 0.5^(32/10000) ≈ 0.99778, ~450
  iterations), both warmed up as in ``official``, training HQ resized with antialiased bilinear
  (``train.hq_antialias``: 200 → 64 px is a 3x reduction, which plain bilinear aliases).  Style weight
  50 as released.
* ``tiny`` -- a seconds-per-iteration network for the shipped synthetic preset and for tests: 32 px, the
  small64 choices with smaller networks (``num_mlp`` 1), degradation ranges rescaled to 32 px (kernel 7,
  σ 0.1-0.8, ×2-×4), perceptual input 64 px, learning-rate milestone 1,200, and style weight 5 (released
  and small64: 50).

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
              "time_limit_minutes": None, "flip": True,
              # HQ to the training size: float bilinear, no antialias, not rounded (cv2.resize INTER_LINEAR
              # of the float32 image in ffhq_degradation_dataset.py)
              "hq_antialias": False},
    "auxiliary": {"epochs": 4, "batch_size": 64, "lr": 2e-3, "clean_resize_prob": 0.0},
    "label": "released recipe (Seeyn/DebiasFR options/degradation_tune_lr_wpseudo.yml)",
}

PRESETS: dict[str, dict[str, Any]] = {
    "official": {
        "network": {"decoder_prior": "asset:debiasfr_stylegan"},
        "lr_predictor": {"kind": "dbfr", "weights": None},
        "label": "released recipe with the official decoder prior and attribute predictor (Seeyn/DebiasFR "
                 "options/degradation_tune_lr_wpseudo.yml; documented deviations: corrected L_deg range, EMA warm-up)",
    },
    "small64": {
        "network": {"out_size": 64, "num_style_feat": 128, "channel_multiplier": 2, "narrow": 0.125, "num_mlp": 2,
                    "fix_decoder": False, "discriminator": {"channel_multiplier": 1, "narrow": 0.125}},
        "degradation": {"kernel_size": 11, "sigma_range": [0.1, 1.5], "scale_range": [2.0, 8.0],
                        "noise_range": [0.0, 20.0]},
        "losses": {"perceptual_network": "fid-inception", "perceptual_input_size": 96, "pyramid_until": 500},
        "critic": {"kind": "small-cnn"}, "lr_predictor": {"kind": "small-cnn"},
        "train": {"iterations": 1_500, "batch_size": 8, "lr_g": 2e-3, "lr_d": 2e-3, "milestones": [1_000, 1_300],
                  "ema_decay": 0.995, "seed": 0, "checkpoint_every": 100, "log_every": 25, "hq_antialias": True},
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
                  "ema_decay": 0.995, "seed": 0, "checkpoint_every": 100, "log_every": 25, "hq_antialias": True},
        "auxiliary": {"epochs": 3},
        "label": "tiny DebiasFR trained by frbench (32 px, few images): a demonstration model, not the released one",
    },
}


#: accepted ``kind`` of each auxiliary network (``dbfr``/``clip``: the official files; ``small-cnn``: trained here)
KINDS: dict[str, tuple[str, ...]] = {"critic": ("clip", "small-cnn"), "lr_predictor": ("dbfr", "small-cnn")}


def check_config(cfg: Mapping[str, Any]) -> None:
    """Refuse an unknown auxiliary-network ``kind`` (it would otherwise fall back to a small CNN silently)."""
    for section, kinds in KINDS.items():
        kind = cfg[section].get("kind")
        if kind not in kinds:
            raise ValueError(f"{section}.kind {kind!r} is not one of {', '.join(kinds)}")


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
    check_config(cfg)
    return cfg


def generator_kwargs(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Arguments of :class:`reference_models.debiasfr.DBFR` for ``cfg['network']`` (released layout flags)."""
    net = cfg["network"]
    return {"out_size": int(net["out_size"]), "num_style_feat": int(net["num_style_feat"]),
            "channel_multiplier": net["channel_multiplier"], "narrow": net["narrow"], "num_mlp": int(net["num_mlp"]),
            "sft_half": bool(net["sft_half"]), "input_is_latent": True, "different_w": True,
            "fix_decoder": bool(net["fix_decoder"])}
