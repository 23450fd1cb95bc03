"""The official DebiasFR files a training configuration needs: resolved before training, loaded as the
official code loads them, never replaced silently (``Seeyn/DebiasFR@7016255``).

* **StyleGAN2 decoder prior** (``network.decoder_prior``): ``asset:debiasfr_stylegan`` (``DebiasFR_stylegan.pth``,
  GitHub release v1, through :class:`bench.core.assets.AssetManager`) or a path.  Its ``params_ema`` go into
  the decoder, where only the fusion layers (``calayer``/``ad_gen``/``ad_enc``) may be absent
  (``dbfr_arch.py:L462-464`` loads with ``strict=False`` for them); with ``fix_decoder`` the decoder is then
  frozen except the StyleConv modulations and the fusion layers (``dbfr_arch.py:L466-477``,
  :meth:`~reference_models.debiasfr.generator.DBFR.freeze_decoder_like_official`).  A fixed decoder without a
  prior is refused: it would be a frozen *random* StyleGAN2.
* **Low-resolution attribute predictor** (``lr_predictor.kind: dbfr``): the ResNet-34 ``Attribute_predictor.pth``
  (asset ``debiasfr_attribute_predictor`` or ``lr_predictor.weights``; ``model_state_dict``, strict) of
  :mod:`reference_models.shared.attribute_classifiers.dbfr_attribute_predictor`.  Training feeds it the
  [-1, 1] LQ at the network size resized to 256x256 with ``F.interpolate``'s default mode, *nearest*
  (``dbfr_model.py:L205``: ``self.LRpredictor(F.interpolate(self.lq, (256, 256)))``) for the pseudo-pair's
  top-2 soft targets; :class:`DbfrLRPredictor` does exactly that and returns ``(age, gender, None)`` like the
  suite's small CNN.  Its state dict carries the official key names, so the exported inference file holds
  ``lr_predictor.<official key>`` (official inference resizes bilinearly instead: ``inference.py:L80``).
* For the same fail-fast check, the CLIP critic (``critic.kind: clip`` without ``critic.weights``) and the
  ImageNet VGG-19 (``losses.perceptual_network: vgg19``) assets.

:func:`require_official_assets` resolves every file of a configuration at once and raises one
:class:`~bench.core.assets.AssetUnavailableError` whose first line (``.short``) names every missing asset.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

import torch
import torch.nn.functional as F

from reference_models.shared.attribute_classifiers.dbfr_attribute_predictor import (
    ImageClassifier,
    load_dbfr_state_dict,
)

PRIOR_ASSET = "debiasfr_stylegan"
PREDICTOR_ASSET = "debiasfr_attribute_predictor"
ASSET_PREFIX = "asset:"

#: role -> (asset, official file name, the configuration key that gives a path ("" if none), what else to do)
_NEEDS: dict[str, tuple[str, str, str, str]] = {
    "decoder_prior": (PRIOR_ASSET, "DebiasFR_stylegan.pth", "network.decoder_prior",
                      "or --set network.fix_decoder=false --set network.decoder_prior=null to train the decoder from scratch"),
    "lr_predictor": (PREDICTOR_ASSET, "Attribute_predictor.pth", "lr_predictor.weights",
                     "or --set lr_predictor.kind=small-cnn to train a small CNN here"),
    "critic": ("debiasfr_clip_classifier", "Clip_classifier.pth", "critic.weights",
               "or --set critic.kind=small-cnn to train a small CNN critic here"),
    "perceptual": ("vgg19_imagenet", "vgg19-dcbb9e9d.pth", "",
                   "or --set losses.perceptual_network=fid-inception (the offline substitute)"),
}


def decoder_prior_source(net: Mapping[str, Any]) -> str | None:
    """``network.decoder_prior`` checked against ``fix_decoder`` (a fixed decoder needs a prior)."""
    prior = net.get("decoder_prior")
    if net.get("fix_decoder") and not prior:
        raise ValueError("network.fix_decoder is true but network.decoder_prior is not set: the decoder would be "
                         f"a frozen random StyleGAN2; set network.decoder_prior={ASSET_PREFIX}{PRIOR_ASSET} (or a path "
                         "to DebiasFR_stylegan.pth), or network.fix_decoder=false to train the decoder from scratch")
    return str(prior) if prior else None


def resolve_file(value: str | None, asset: str, key: str, manager=None) -> Path:
    """``asset:NAME`` (or ``None``: ``asset``) through the asset manager, else a path that must exist."""
    if value is None or str(value).startswith(ASSET_PREFIX):
        from bench.core.assets import AssetManager

        name = str(value)[len(ASSET_PREFIX):] if value else asset
        return (manager or AssetManager()).path(name)
    path = Path(str(value)).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{key}: {path} does not exist")
    return path


def _wanted(cfg: Mapping[str, Any]) -> dict[str, str | None]:
    wanted: dict[str, str | None] = {}
    prior = decoder_prior_source(cfg["network"])
    if prior:
        wanted["decoder_prior"] = prior
    if cfg["lr_predictor"].get("kind") == "dbfr":
        wanted["lr_predictor"] = cfg["lr_predictor"].get("weights")
    if cfg["critic"].get("kind") == "clip" and not cfg["critic"].get("weights"):
        wanted["critic"] = None             # a given critic.weights path is checked where it is loaded
    if cfg["losses"].get("perceptual_network") == "vgg19":
        wanted["perceptual"] = None
    return wanted


def require_official_assets(cfg: Mapping[str, Any], manager=None) -> dict[str, Path]:
    """``{role: path}`` of every official file ``cfg`` needs (roles: ``decoder_prior``, ``lr_predictor``,
    ``critic``, ``perceptual``); raises one error naming each one that is missing (module doc)."""
    from bench.core.assets import AssetUnavailableError

    paths: dict[str, Path] = {}
    missing: list[tuple[str, Exception]] = []
    for role, value in _wanted(cfg).items():
        asset, _, key, _ = _NEEDS[role]
        try:
            paths[role] = resolve_file(value, asset, key, manager)
        except (AssetUnavailableError, FileNotFoundError) as exc:
            missing.append((role, exc))
    if not missing:
        return paths
    names = [f"{_NEEDS[role][0]} ({_NEEDS[role][1]}, {role.replace('_', ' ')})" for role, _ in missing]
    short = (f"DebiasFR preset {cfg.get('preset', '?')!r} needs official files that are not available: "
             f"{'; '.join(names)}; nothing was trained")
    how = []
    for role, exc in missing:
        asset, file, key, other = _NEEDS[role]
        given = f"or --set {key}=/path/{file}, " if key else ""
        how.append(f"- {asset}: bench assets fetch {asset} (or FRBENCH_ASSET_{asset.upper()}=/path/{file}), {given}"
                   f"{other}\n  " + str(exc).replace("\n", "\n  "))
    raise AssetUnavailableError(short + ".\nTo provide them:\n" + "\n".join(how),
                                name=", ".join(_NEEDS[role][0] for role, _ in missing), short=short)


def load_decoder_prior(generator: torch.nn.Module, net: Mapping[str, Any], path: Path | None = None,
                       manager=None) -> dict[str, Any] | None:
    """Load ``network.decoder_prior`` into ``generator`` (a :class:`~reference_models.debiasfr.generator.DBFR`)
    and freeze it as the official code does when ``fix_decoder``; its record, or ``None`` without a prior."""
    from bench.core.checkpoints import load_state_dict
    from bench.core.provenance import file_sha256

    source = decoder_prior_source(net)
    if source is None:
        return None
    path = path or resolve_file(source, PRIOR_ASSET, "network.decoder_prior", manager)
    left = generator.load_decoder_prior(load_state_dict(path, key="params_ema"))
    if net.get("fix_decoder"):
        generator.freeze_decoder_like_official()
    trainable = sum(p.numel() for p in generator.stylegan_decoder.parameters() if p.requires_grad)
    return {"source": source, "path": str(path), "sha256": file_sha256(path), "fusion_keys_at_init": len(left),
            "fixed": bool(net.get("fix_decoder")), "decoder_trainable_parameters": int(trainable)}


class DbfrLRPredictor(ImageClassifier):
    """The official predictor as the training code calls it: ``x`` ([-1, 1], any size) -> nearest to 256x256 ->
    ``(age logits [B, 10], gender logits [B, 2], None)``; state-dict keys as in ``Attribute_predictor.pth``."""

    def forward(self, x: torch.Tensor):  # type: ignore[override]
        if x.shape[-2:] != (256, 256):
            x = F.interpolate(x, size=(256, 256))      # default mode: nearest, as dbfr_model.py:L205
        age, gender = super().forward(x)
        return age, gender, None


def build_dbfr_lr_predictor(pred_cfg: Mapping[str, Any], path: Path | None = None, manager=None,
                            log: Callable[[str], None] = print) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The frozen official predictor (``lr_predictor.kind: dbfr``) and its record."""
    from bench.core.checkpoints import load_state_dict
    from bench.core.provenance import file_sha256

    path = path or resolve_file(pred_cfg.get("weights"), PREDICTOR_ASSET, "lr_predictor.weights", manager)
    model = DbfrLRPredictor()
    load_dbfr_state_dict(model, load_state_dict(path, key="model_state_dict"))
    model.eval().requires_grad_(False)
    log(f"LR predictor: official DebiasFR attribute predictor loaded from {path}")
    return model, {"role": "low-resolution attribute predictor", "kind": "dbfr",
                   "arch": "DebiasFR ResNet-34 attribute predictor (official Attribute_predictor.pth)",
                   "weights": str(path), "sha256": file_sha256(path),
                   "input": "training: [-1, 1] LQ at the network size, nearest to 256x256 (dbfr_model.py:L205); "
                            "official inference: bilinear to 256 (inference.py:L80)",
                   "label": "official Attribute_predictor.pth (frozen)"}
