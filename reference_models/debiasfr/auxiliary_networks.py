"""DebiasFR's auxiliary networks: the frozen attribute critic and the low-resolution attribute predictor.

The critic ``C`` judges the attributes of the restored faces (attribute cross-entropy); the low-resolution
predictor gives the pseudo branch its soft attribute targets from the LQ input.  What replaces the parts that
are unreachable offline is explicit in the configuration and recorded in every file
(:mod:`reference_models.debiasfr.config`):

* the critic is a small CNN trained here on the HQ training faces (:func:`train_auxiliary_classifier`), or,
  with ``critic.kind: clip``, the official frozen CLIP classifier (:func:`build_clip_critic`,
  :mod:`reference_models.debiasfr.clip_classifier`), which fails clearly when its weights are missing;
* the low-resolution predictor is a small CNN trained here on degraded training faces.

:func:`prepare_auxiliary_networks` loads them from the configuration or ``out_dir`` (resume) or trains them.
The evaluation classifier of the suite is a different network.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch
import torch.nn.functional as F

from reference_models.debiasfr.training_data import degrade_batch, print_flush


def train_auxiliary_classifier(faces: dict[str, Any], cfg: Mapping[str, Any], *, degraded: bool, seed: int,
                               log: Callable[[str], None] = print_flush) -> tuple[torch.nn.Module, dict[str, Any]]:
    """A small age-bin/gender CNN (:class:`~reference_models.shared.attribute_classifiers.trained.SmallAttributeNet`)
    on the training faces: on the HQ faces (``degraded=False``: the frozen attribute critic) or on freshly
    degraded LQ faces each epoch (``degraded=True``: the low-resolution attribute predictor).  10 % of the
    training faces are held out for the reported accuracy.  Input: [-1, 1] images at the training size.
    """
    from reference_models.shared.attribute_classifiers.trained import SmallAttributeNet

    aux = cfg["auxiliary"]
    images, yb, yg = faces["images"], faces["age_bin"], faces["gender"]
    n = len(images)
    rng = np.random.default_rng([seed, 7 if degraded else 3])
    perm = rng.permutation(n)
    n_val = max(1, n // 10)
    val, tr = perm[:n_val], perm[n_val:]
    torch.manual_seed(seed + (17 if degraded else 13))
    model = SmallAttributeNet()
    opt = torch.optim.Adam(model.parameters(), lr=float(aux["lr"]))
    gen = torch.Generator().manual_seed(seed + (29 if degraded else 23))

    clean_prob = float(aux.get("clean_resize_prob", 0.0)) if degraded else 0.0

    def prepare(idx: np.ndarray) -> torch.Tensor:
        x = images[torch.as_tensor(idx)].float() / 255
        if degraded:
            hq = x
            x, _ = degrade_batch(hq, cfg["degradation"], gen)
            if clean_prob:
                x = clean_resize_mix(hq, x, clean_prob, tuple(cfg["degradation"]["scale_range"]), gen)
        return x * 2 - 1

    bs = int(aux["batch_size"])
    for epoch in range(int(aux["epochs"])):
        model.train()
        order = rng.permutation(tr)
        total = 0.0
        for start in range(0, len(order), bs):
            idx = order[start:start + bs]
            x = prepare(idx)
            flip = torch.as_tensor(rng.random(len(idx)) < 0.5)
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
            lb, lg, _ = model(x)
            loss = F.cross_entropy(lb, yb[idx]) + F.cross_entropy(lg, yg[idx])
            opt.zero_grad(); loss.backward(); opt.step()
            total += float(loss.detach()) * len(idx)
        log(f"{'LR predictor' if degraded else 'critic'} epoch {epoch + 1}/{aux['epochs']}: "
            f"loss {total / max(1, len(tr)):.4f}")
    model.eval()
    with torch.no_grad():
        lb, lg, _ = model(prepare(val))
    record = {"role": "low-resolution attribute predictor" if degraded else "frozen attribute critic",
              "arch": "frbench-small-cnn-v1 (full-frame input)", "n_train": int(len(tr)), "n_val": int(n_val),
              "epochs": int(aux["epochs"]),
              "inputs": ("degraded LQ (training degradation" + (f"; clean bicubic down-up resize on {clean_prob:.0%}"
                                                                 if clean_prob else "") + ")") if degraded else "HQ",
              "val_age_bin_acc": float((lb.argmax(1) == yb[val]).float().mean()),
              "val_gender_acc": float((lg.argmax(1) == yg[val]).float().mean()),
              "label": "trained by frbench: small CPU model, few images"}
    log(f"{record['role']}: held-out age-bin acc {record['val_age_bin_acc']:.3f}, "
        f"gender acc {record['val_gender_acc']:.3f} ({n_val} faces)")
    for p in model.parameters():
        p.requires_grad_(False)
    return model, record


def clean_resize_mix(hq01: torch.Tensor, lq01: torch.Tensor, prob: float, scale_range: tuple[float, float],
                     generator: torch.Generator) -> torch.Tensor:
    """Replace a share ``prob`` of the LQ batch by a clean resize of its HQ: antialiased bicubic down by a
    factor drawn from ``scale_range``, 8-bit, then bilinear back up (``align_corners=False``, as the method
    brings an LQ to its network size).  An augmentation of the LR predictor for benchmarks whose LQ is a
    plain bicubic downsampling (``x8``, ``x16``), not the training degradation."""
    size = hq01.shape[-1]
    pick = torch.rand(hq01.shape[0], generator=generator) < prob
    scales = torch.empty(hq01.shape[0]).uniform_(float(scale_range[0]), float(scale_range[1]), generator=generator)
    out = lq01.clone()
    for i in torch.nonzero(pick).flatten().tolist():
        small = max(2, int(round(size / float(scales[i]))))
        down = F.interpolate(hq01[i:i + 1], size=(small, small), mode="bicubic", antialias=True, align_corners=False)
        down = (down.clamp(0, 1) * 255).round() / 255
        out[i] = F.interpolate(down, size=(size, size), mode="bilinear", align_corners=False)[0]
    return (out.clamp(0, 1) * 255).round() / 255


def critic_logits(model: torch.nn.Module, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(age logits [B, 10], gender logits [B, 2])`` of the critic / predictor on ``images`` in [-1, 1].

    A small CNN takes the images as they are; the CLIP critic (:class:`~.clip_classifier.ClipCritic`,
    ``critic.kind: clip``) resizes them itself with :func:`~.clip_classifier.clip_input` to 224 px.
    """
    from reference_models.debiasfr.clip_classifier import ClipCritic

    if isinstance(model, ClipCritic):
        return model(images)
    lb, lg, _ = model(images)
    return lb, lg


def build_clip_critic(critic_cfg: Mapping[str, Any], log: Callable[[str], None] = print_flush,
                      manager=None) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The frozen official CLIP critic (``critic.kind: clip``) from ``critic.weights`` or the asset
    ``debiasfr_clip_classifier``; raises (never substitutes another critic) when the file is not available."""
    from bench.core.assets import AssetManager, AssetUnavailableError

    from reference_models.debiasfr.clip_classifier import ASSET, ClipCritic, load_clip_classifier

    how = (f"download Clip_classifier.pth (DebiasFR GitHub release v1) and pass critic.weights=/path/Clip_classifier.pth, "
           f"or put it in the asset cache (bench assets fetch {ASSET}, or FRBENCH_ASSET_{ASSET.upper()}=/path); "
           f"critic.kind=small-cnn trains a small CNN critic instead")
    given = critic_cfg.get("weights")
    if given:
        path = Path(given)
        if not path.is_file():
            raise FileNotFoundError(f"critic.kind 'clip': critic.weights {path} does not exist ({how})")
    else:
        try:
            path = (manager or AssetManager()).path(ASSET)
        except AssetUnavailableError as exc:
            raise AssetUnavailableError(f"critic.kind 'clip' needs the DebiasFR CLIP classifier (asset {ASSET!r}), "
                                        f"which is not available. To provide it: {how}.\n{exc}", name=ASSET) from exc
    critic = ClipCritic(load_clip_classifier(path))
    log(f"critic: DebiasFR CLIP classifier loaded from {path}")
    record = {"role": "frozen attribute critic", "arch": "DebiasFR CLIP classifier (CLIP ViT-B/32 + 8-layer MLP heads)",
              "weights": str(path), "input": "clip_input: exact box resize to 224 px (official 512 px: nearest x7 + "
              "AvgPool2d(16)), no CLIP normalisation", "label": "official Clip_classifier.pth (frozen)"}
    return critic, record


def prepare_auxiliary_networks(cfg: Mapping[str, Any], faces: dict[str, Any], out_dir: Path, seed: int,
                               log: Callable[[str], None] = print_flush
                               ) -> tuple[dict[str, torch.nn.Module], dict[str, Any]]:
    """``({"critic": C, "lr_predictor": P}, {role: record})``, frozen, in eval mode.

    ``critic.kind: clip`` builds the official CLIP critic; otherwise each small CNN is loaded from
    ``cfg[role]["weights"]`` or ``out_dir/<role>.safetensors`` when present, else trained here and saved there.
    """
    from safetensors.torch import load_file, save_file
    from reference_models.shared.attribute_classifiers.trained import SmallAttributeNet

    aux_models, aux_records = {}, {}
    for role, degraded in (("critic", False), ("lr_predictor", True)):
        if role == "critic" and cfg["critic"].get("kind") == "clip":
            aux_models[role], aux_records[role] = build_clip_critic(cfg["critic"], log=log)
            continue
        if role == "lr_predictor" and cfg["lr_predictor"].get("kind") == "dbfr":   # official ResNet-34 (nearest 256)
            from reference_models.debiasfr.official_assets import build_dbfr_lr_predictor
            aux_models[role], aux_records[role] = build_dbfr_lr_predictor(cfg["lr_predictor"], log=log)
            continue
        path = out_dir / f"{role}.safetensors"
        given = cfg[role].get("weights")
        source = Path(given) if given else path
        if source.is_file():
            from safetensors import safe_open
            model = SmallAttributeNet()
            model.load_state_dict(load_file(str(source)), strict=True)
            with safe_open(str(source), framework="pt") as fh:
                aux_records[role] = json.loads((fh.metadata() or {}).get("frbench_record", "{}"))
            from bench.core.provenance import note_file
            note_file(source, role)
            model.eval().requires_grad_(False)
            log(f"{role}: loaded {source}")
        else:
            model, aux_records[role] = train_auxiliary_classifier(faces, cfg, degraded=degraded, seed=seed, log=log)
            save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path),
                      metadata={"frbench_record": json.dumps(aux_records[role])})
        aux_models[role] = model
    return aux_models, aux_records
