"""DebiasFR training (``bench train debiasfr``): the released recipe, runnable on CPU at small sizes.

One iteration (``Seeyn/DebiasFR dbfr/models/dbfr_model.py@7016255`` L191-L334, spec §4-§6):

1. a batch of HQ faces ``y`` (random horizontal flip) is degraded with freshly sampled ``(k, s, n, q)``
   (:func:`reference_models.debiasfr.degradation.sample_degradation_params`, non-differentiable JPEG),
   with probability ``gray_prob`` turned grey, quantised to 8 bits -> ``x``;
2. **pseudo branch** with probability ``pseudo_prob`` (0.4): soft top-2 attribute vectors from the frozen
   low-resolution predictor on ``x``; ``ŷ_p = G(x, soft)``; loss ``pseudo_attribute · CE(C(ŷ_p), soft)
   + degradation · pixel · L1(Deg(ŷ_p; same k, s, n, q), x)`` through the straight-through DiffJPEG;
3. **main branch**: ``ŷ = G(x, one-hot(labels))``; ``pixel · L1 + pyramid (until ``pyramid_until``, then
   1e-12) + perceptual + style + gan · softplus(−D(ŷ)) + attribute · CE(C(ŷ), labels)``;
4. the G step is skipped when the loss is not finite (counted);
5. D step: ``softplus(−D(y)) + softplus(D(ŷ))``; every ``r1_every`` iterations the lazy R1 term
   ``γ/2 · E‖∇D(y)‖² · r1_every``;
6. EMA of the generator (``ema_decay`` per iteration, warmed up: :func:`ema_decay_at`).

Optimisers: Adam, G betas (0, 0.99); D learning rate and betas rescaled for lazy R1 (``·k/(k+1)``,
``β^(k/(k+1))``); multi-step learning-rate decay.  Determinism: every random draw of iteration ``i``
comes from generators seeded with ``(seed, i)``, so a resumed run continues exactly as an uninterrupted
one would.  Checkpoints (``checkpoint.safetensors``: networks, EMA, optimiser moments, iteration;
configuration and training record in the metadata) are written atomically; ``debiasfr.safetensors``
is the inference file (EMA generator + low-resolution predictor + record).

What replaces the parts that are unreachable offline is explicit in the configuration and recorded in
every file (:mod:`reference_models.debiasfr.config`): the perceptual network, the frozen attribute critic
(a small CNN trained here on the HQ training faces; ``critic.kind: clip`` uses the official frozen
CLIP classifier instead, :mod:`reference_models.debiasfr.clip_classifier`, and fails clearly when its weights
are missing) and the low-resolution predictor (a small CNN trained here on degraded training faces).
The evaluation classifier of the suite is a different network.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch
import torch.nn.functional as F

from bench.core.checkpoints import save_safetensors_atomic
from bench.core.types import AGE_BINS

from reference_models.debiasfr.config import generator_kwargs
from reference_models.debiasfr.degradation import sample_degradation_params, degrade_with
from reference_models.debiasfr.discriminator import StyleGAN2DiscriminatorClean
from reference_models.debiasfr.generator import DBFR
from reference_models.debiasfr.losses import (
    attribute_ce,
    discriminator_loss,
    generator_gan_loss,
    pseudo_pair_loss,
    pyramid_loss,
    r1_penalty,
    top2_soft,
)

N_AGE = len(AGE_BINS)
FORMAT = "frbench-debiasfr-v1"


def _print(message: str) -> None:
    print(message, flush=True)


# ------------------------------------------------------------------------------------------------ data


def load_training_faces(dataset, size: int, limit: int | None = None, seed: int = 0,
                        log: Callable[[str], None] = _print) -> dict[str, Any]:
    """Decode the labelled HQ faces of ``dataset`` once, resized to ``size`` (bilinear, antialiased).

    Returns ``{"images": uint8 [N, 3, size, size], "age_bin": int64 [N], "gender": int64 [N], "ids": [...],
    "skipped_unlabelled": int, "unreadable": [(source, reason)]}``.  Unreadable files are reported, not fatal.
    """
    from bench.data.training_faces import seeded_hq_faces

    def resize(image: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(np.array(image, copy=True)).permute(2, 0, 1)[None].float()
        if t.shape[-2:] != (size, size):
            t = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        return t.round().clamp(0, 255).to(torch.uint8)[0]

    faces = seeded_hq_faces(dataset, seed=seed, limit=limit, prepare=resize,
                            keep=lambda s: s.attributes.gender is not None and s.attributes.age_bin is not None)
    images, unreadable, skipped = faces.images, faces.unreadable, faces.skipped
    bins = [int(s.attributes.age_bin) for s in faces.samples]
    genders = [int(s.attributes.gender) for s in faces.samples]
    ids = [s.id for s in faces.samples]
    if len(images) < 2:
        raise ValueError(f"dataset {dataset.name!r} has only {len(images)} readable labelled faces: cannot train")
    if unreadable:
        log(f"{len(unreadable)} unreadable image(s) skipped, first: {unreadable[0][0]}: {unreadable[0][1]}")
    return {"images": torch.stack(images), "age_bin": torch.tensor(bins), "gender": torch.tensor(genders),
            "ids": ids, "skipped_unlabelled": skipped, "unreadable": unreadable}


def degrade_batch(hq01: torch.Tensor, deg: Mapping[str, Any], generator: torch.Generator):
    """``(lq01, params)``: the §5 chain on ``hq01 [B, 3, S, S]`` in [0, 1], 8-bit quantised, grey with ``gray_prob``."""
    size = hq01.shape[-1]
    params = sample_degradation_params(generator, batch=hq01.shape[0], size=size,
                                       kernel_size=int(deg["kernel_size"]), iso_prob=float(deg["iso_prob"]),
                                       sigma_range=tuple(deg["sigma_range"]), scale_range=tuple(deg["scale_range"]),
                                       noise_range=tuple(deg["noise_range"]), jpeg_range=tuple(deg["jpeg_range"]))
    with torch.no_grad():
        lq = degrade_with(hq01, params, differentiable=False, out_size=size)
        gray = torch.rand(hq01.shape[0], generator=generator) < float(deg.get("gray_prob", 0.0))
        if gray.any():
            y = (0.299 * lq[:, 0] + 0.587 * lq[:, 1] + 0.114 * lq[:, 2])[:, None].expand(-1, 3, -1, -1)
            lq = torch.where(gray.view(-1, 1, 1, 1), y, lq)
        lq = (lq * 255).round().clamp(0, 255) / 255
    return lq, params


def ema_decay_at(decay: float, iteration: int) -> float:
    """EMA decay at ``iteration``: ``min(decay, (1 + i) / (10 + i))``.

    The released recipe uses a constant 0.5^(32/10000) over 600k iterations, where the initial weights are
    forgotten long before anything is evaluated.  In a run of a few thousand iterations a constant decay
    leaves the EMA an average over a fast-moving early trajectory (measured here: garbage images at
    iteration 300 while the raw generator already restores faces), so the decay is warmed up as in the
    common Polyak-averaging warm-up; it equals the constant once ``i >= (10·d − 1)/(1 − d)``.
    """
    return min(float(decay), (1.0 + iteration) / (10.0 + iteration))


def one_hot(index: torch.Tensor, n: int) -> torch.Tensor:
    return F.one_hot(index.long(), n).float()


# ------------------------------------------------------------------------------- auxiliary classifiers


def train_auxiliary_classifier(faces: dict[str, Any], cfg: Mapping[str, Any], *, degraded: bool, seed: int,
                               log: Callable[[str], None] = _print) -> tuple[torch.nn.Module, dict[str, Any]]:
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

    def prepare(idx: np.ndarray) -> torch.Tensor:
        x = images[torch.as_tensor(idx)].float() / 255
        if degraded:
            x, _ = degrade_batch(x, cfg["degradation"], gen)
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
              "epochs": int(aux["epochs"]), "inputs": "degraded LQ (training degradation)" if degraded else "HQ",
              "val_age_bin_acc": float((lb.argmax(1) == yb[val]).float().mean()),
              "val_gender_acc": float((lg.argmax(1) == yg[val]).float().mean()),
              "label": "trained by frbench: small CPU model, few images"}
    log(f"{record['role']}: held-out age-bin acc {record['val_age_bin_acc']:.3f}, "
        f"gender acc {record['val_gender_acc']:.3f} ({n_val} faces)")
    for p in model.parameters():
        p.requires_grad_(False)
    return model, record


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


def build_clip_critic(critic_cfg: Mapping[str, Any], log: Callable[[str], None] = _print,
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


# ------------------------------------------------------------------------------------------- trainer


def _prefixed(prefix: str, state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v for k, v in state.items()}


def _unprefixed(prefix: str, state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    p = prefix + "."
    return {k[len(p):]: v for k, v in state.items() if k.startswith(p)}


def _optimizer_tensors(prefix: str, opt: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    out = {}
    for i, state in opt.state_dict()["state"].items():
        for name, value in state.items():
            out[f"{prefix}.{i}.{name}"] = value if torch.is_tensor(value) else torch.tensor(value)
    return out


def _load_optimizer(prefix: str, opt: torch.optim.Optimizer, tensors: Mapping[str, torch.Tensor]) -> None:
    sd = opt.state_dict()
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in _unprefixed(prefix, tensors).items():
        i, name = key.split(".", 1)
        state.setdefault(int(i), {})[name] = value
    sd["state"] = state
    opt.load_state_dict(sd)


class DebiasFRTrainer:
    """Holds the networks, optimisers and schedule of one training run; see the module docstring."""

    def __init__(self, cfg: Mapping[str, Any], faces: dict[str, Any], out_dir: str | Path,
                 critic: torch.nn.Module, lr_predictor: torch.nn.Module, aux_records: dict[str, Any],
                 dataset_record: dict[str, Any], log: Callable[[str], None] = _print) -> None:
        from reference_models.shared.perceptual import PerceptualLoss

        self.cfg, self.faces, self.out_dir, self.log = cfg, faces, Path(out_dir), log
        self.critic, self.lr_predictor = critic.eval(), lr_predictor.eval()
        self.aux_records, self.dataset_record = aux_records, dataset_record
        train, net, losses = cfg["train"], cfg["network"], cfg["losses"]
        self.seed = int(train["seed"])
        torch.manual_seed(self.seed)
        self.g = DBFR(**generator_kwargs(cfg))
        if net.get("decoder_prior"):
            from bench.core.checkpoints import load_state_dict
            self.g.load_decoder_prior(load_state_dict(net["decoder_prior"], key="params_ema"))
        self.g_ema = DBFR(**generator_kwargs(cfg))
        self.g_ema.load_state_dict(self.g.state_dict())
        self.g_ema.eval().requires_grad_(False)
        dcfg = net["discriminator"]
        self.d = StyleGAN2DiscriminatorClean(int(net["out_size"]), dcfg["channel_multiplier"],
                                             stddev_group=int(dcfg["stddev_group"]), narrow=dcfg["narrow"])
        self.perceptual = PerceptualLoss(losses["perceptual_network"], perceptual_weight=losses["perceptual"],
                                         style_weight=losses["style"], input_size=losses["perceptual_input_size"])
        betas = tuple(train["betas"])
        every = int(losses["r1_every"])
        ratio = every / (every + 1)
        self.opt_g = torch.optim.Adam([p for p in self.g.parameters() if p.requires_grad], lr=float(train["lr_g"]),
                                      betas=betas)
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=float(train["lr_d"]) * ratio,
                                      betas=(betas[0] ** ratio, betas[1] ** ratio))
        self.iteration = 0
        self.history: list[dict[str, float]] = []
        self.skipped_steps = 0
        self.seconds = 0.0

    # -- schedule ----------------------------------------------------------------------------------
    def _lr_factor(self, it: int) -> float:
        train = self.cfg["train"]
        return float(train["gamma"]) ** sum(it >= m for m in train["milestones"])

    def _attribute_vectors(self, age: torch.Tensor, gender: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.cfg["attribute_input"]:
            return torch.zeros_like(age), torch.zeros_like(gender)
        return age, gender

    # -- one iteration -----------------------------------------------------------------------------
    def step(self) -> dict[str, float]:
        cfg, losses, train = self.cfg, self.cfg["losses"], self.cfg["train"]
        it = self.iteration
        torch.manual_seed(self.seed * 1_000_003 + it)          # StyleGAN2 noise, D minibatch order
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + it + 1)
        rng = np.random.default_rng([self.seed, it])
        for group in self.opt_g.param_groups:
            group["lr"] = float(train["lr_g"]) * self._lr_factor(it)
        ratio = int(losses["r1_every"]) / (int(losses["r1_every"]) + 1)
        for group in self.opt_d.param_groups:
            group["lr"] = float(train["lr_d"]) * ratio * self._lr_factor(it)

        bs = int(train["batch_size"])
        idx = torch.as_tensor(rng.choice(len(self.faces["images"]), size=bs, replace=len(self.faces["images"]) < bs))
        hq = self.faces["images"][idx].float() / 255
        if train.get("flip", True):
            flip = torch.as_tensor(rng.random(bs) < 0.5)
            hq = torch.where(flip.view(-1, 1, 1, 1), hq.flip(-1), hq)
        lq01, params = degrade_batch(hq, cfg["degradation"], gen)
        x, y = lq01 * 2 - 1, hq * 2 - 1
        age_gt, gender_gt = self.faces["age_bin"][idx], self.faces["gender"][idx]

        self.d.requires_grad_(False)
        logs: dict[str, float] = {}
        total = y.new_zeros(())
        # pseudo-pair branch
        if float(rng.random()) < float(losses["pseudo_prob"]):
            with torch.no_grad():
                lb, lg = critic_logits(self.lr_predictor, x)
                soft_age, soft_gender = top2_soft(lb), top2_soft(lg)
            a, g = self._attribute_vectors(soft_age, soft_gender)
            out_p, _, _ = self.g(x, a, g, return_rgb=False)
            l_pattr = float(losses["pseudo_attribute"]) * attribute_ce(*critic_logits(self.critic, out_p),
                                                                       soft_age, soft_gender)
            l_deg = float(losses["degradation"]) * float(losses["pixel"]) * pseudo_pair_loss(
                out_p, lq01, params, range_mismatch=bool(losses["pseudo_range_mismatch"]))
            total = total + l_pattr + l_deg
            logs.update(pseudo_attribute=l_pattr.item(), pseudo_degradation=l_deg.item())
        # main branch
        a, g = self._attribute_vectors(one_hot(age_gt, N_AGE), one_hot(gender_gt, 2))
        out, rgbs, _ = self.g(x, a, g, return_rgb=True)
        l_pix = float(losses["pixel"]) * F.l1_loss(out, y)
        pyr_w = float(losses["pyramid"]) if it < int(losses["pyramid_until"]) else float(losses["pyramid_after"])
        l_pyr = pyr_w * pyramid_loss(rgbs, y)
        l_per, l_style = self.perceptual(out, y)
        l_gan = float(losses["gan"]) * generator_gan_loss(self.d(out))
        l_attr = float(losses["attribute"]) * attribute_ce(*critic_logits(self.critic, out), age_gt, gender_gt)
        total = total + l_pix + l_pyr + l_per + l_gan + l_attr + (l_style if l_style is not None else 0.0)
        logs.update(pixel=l_pix.item(), pyramid=l_pyr.item(), perceptual=l_per.item(), gan=l_gan.item(),
                    attribute=l_attr.item(), style=l_style.item() if l_style is not None else 0.0)
        self.opt_g.zero_grad(set_to_none=True)
        if torch.isfinite(total):
            total.backward()
            self.opt_g.step()
        else:
            self.skipped_steps += 1
        logs["g_total"] = total.item()

        # discriminator
        self.d.requires_grad_(True)
        d_loss = discriminator_loss(self.d(y), self.d(out.detach()))
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        every = int(losses["r1_every"])
        if it % every == 0 and float(losses["r1"]) > 0:
            real = y.detach().requires_grad_(True)
            scores = self.d(real)
            r1 = r1_penalty(scores, real)
            (float(losses["r1"]) / 2 * r1 * every + 0 * scores[0].sum()).backward()
            logs["r1"] = r1.item()
        self.opt_d.step()
        logs["d"] = d_loss.item()

        # EMA, with a warm-up: decay_i = min(ema_decay, (1 + i) / (10 + i))
        decay = ema_decay_at(float(train["ema_decay"]), it)
        with torch.no_grad():
            ema = dict(self.g_ema.named_parameters())
            for name, p in self.g.named_parameters():
                ema[name].mul_(decay).add_(p.detach(), alpha=1 - decay)
            ema_b = dict(self.g_ema.named_buffers())
            for name, b in self.g.named_buffers():
                ema_b[name].copy_(b)
        self.iteration += 1
        logs["iteration"] = self.iteration
        return logs

    # -- files -------------------------------------------------------------------------------------
    def record(self) -> dict[str, Any]:
        return {"format": FORMAT, "label": self.cfg["label"], "preset": self.cfg.get("preset"),
                "iteration": self.iteration, "seconds": round(self.seconds, 1), "skipped_steps": self.skipped_steps,
                "dataset": self.dataset_record, "n_train_faces": int(len(self.faces["images"])),
                "perceptual": self.perceptual.describe(), "critic": self.aux_records["critic"],
                "lr_predictor": self.aux_records["lr_predictor"], "attribute_input": bool(self.cfg["attribute_input"]),
                "pseudo_range_mismatch": bool(self.cfg["losses"]["pseudo_range_mismatch"]),
                "decoder": "prior " + str(self.cfg["network"]["decoder_prior"]) if self.cfg["network"]["decoder_prior"]
                else "trained jointly from scratch (no StyleGAN2 prior)",
                "last_losses": self.history[-1] if self.history else None}

    def _metadata(self) -> dict[str, str]:
        return {"frbench_debiasfr": json.dumps({"config": self.cfg, "record": self.record()}, default=str)}

    def save_checkpoint(self) -> Path:
        from reference_models.debiasfr.clip_classifier import ClipCritic

        # the CLIP critic is an external frozen file (152 M parameters): recorded by path, not copied
        critic = {} if isinstance(self.critic, ClipCritic) else _prefixed("critic", self.critic.state_dict())
        tensors = {**_prefixed("g", self.g.state_dict()), **_prefixed("g_ema", self.g_ema.state_dict()),
                   **_prefixed("d", self.d.state_dict()), **critic,
                   **_prefixed("lr_predictor", self.lr_predictor.state_dict()),
                   **_optimizer_tensors("opt_g", self.opt_g), **_optimizer_tensors("opt_d", self.opt_d)}
        meta = self._metadata()
        meta["frbench_history"] = json.dumps(self.history[-2000:])
        path = self.out_dir / "checkpoint.safetensors"
        save_safetensors_atomic(tensors, path, meta)
        self.export(self.out_dir / "debiasfr.safetensors")
        return path

    def export(self, path: Path) -> Path:
        """The inference file: EMA generator (``generator.*``) + low-resolution predictor (``lr_predictor.*``)."""
        tensors = {**_prefixed("generator", self.g_ema.state_dict()),
                   **_prefixed("lr_predictor", self.lr_predictor.state_dict())}
        save_safetensors_atomic(tensors, Path(path), self._metadata())
        return Path(path)

    def load_checkpoint(self, path: str | Path) -> None:
        from safetensors import safe_open
        from safetensors.torch import load_file

        from bench.core.provenance import note_file

        tensors = load_file(str(path))
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
        note_file(path, "debiasfr training checkpoint")
        saved = json.loads(meta["frbench_debiasfr"])
        if saved["config"]["network"] != json.loads(json.dumps(self.cfg["network"], default=str)):
            raise ValueError(f"{path}: checkpoint network configuration differs from the requested one")
        self.g.load_state_dict(_unprefixed("g", tensors), strict=True)
        self.g_ema.load_state_dict(_unprefixed("g_ema", tensors), strict=True)
        self.d.load_state_dict(_unprefixed("d", tensors), strict=True)
        _load_optimizer("opt_g", self.opt_g, tensors)
        _load_optimizer("opt_d", self.opt_d, tensors)
        record = saved["record"]
        self.iteration, self.seconds = int(record["iteration"]), float(record["seconds"])
        self.skipped_steps = int(record["skipped_steps"])
        self.history = json.loads(meta.get("frbench_history", "[]"))

    # -- loop --------------------------------------------------------------------------------------
    def fit(self, iterations: int | None = None, progress: bool = True) -> dict[str, Any]:
        train = self.cfg["train"]
        target = int(iterations if iterations is not None else train["iterations"])
        limit = train.get("time_limit_minutes")
        deadline = time.perf_counter() + float(limit) * 60 if limit else None
        every, log_every = int(train["checkpoint_every"]), int(train["log_every"])
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=target, initial=self.iteration, desc="train debiasfr", unit="it")
        log_path = self.out_dir / "train_log.jsonl"
        self.g.train(); self.d.train()
        while self.iteration < target:
            t0 = time.perf_counter()
            logs = self.step()
            self.seconds += time.perf_counter() - t0
            self.history.append({k: round(v, 6) if isinstance(v, float) else v for k, v in logs.items()})
            if bar is not None:
                bar.update(1)
                bar.set_postfix(g=f"{logs['g_total']:.3f}", d=f"{logs['d']:.3f}")
            if self.iteration % log_every == 0 or self.iteration == target:
                with open(log_path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps({**logs, "seconds": round(self.seconds, 1)}) + "\n")
            stop = deadline is not None and time.perf_counter() > deadline
            if self.iteration % every == 0 or self.iteration == target or stop:
                self.save_checkpoint()
            if stop:
                self.log(f"time limit of {limit} min reached at iteration {self.iteration}; checkpoint saved "
                         "(run the same command again to continue)")
                break
        if bar is not None:
            bar.close()
        return self.record()


def half_precision_copy(src: str | Path, dst: str | Path) -> Path:
    """Copy an inference file (``debiasfr.safetensors``) with its float tensors stored as float16 (half
    the size; the loader casts back to float32) and the same metadata.  Used for the shipped preset."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    from bench.core.provenance import note_file

    with safe_open(str(src), framework="pt") as fh:
        meta = dict(fh.metadata() or {})
    tensors = {k: v.half() if v.is_floating_point() else v for k, v in load_file(str(src)).items()}
    note_file(src, "source of a float16 copy")
    meta["frbench_storage"] = "float16 copy of " + Path(src).name
    save_safetensors_atomic(tensors, Path(dst), meta)
    return Path(dst)


def train_debiasfr(dataset, cfg: Mapping[str, Any], out_dir: str | Path, *, limit: int | None = None,
                   iterations: int | None = None, resume: bool = True, progress: bool = True,
                   log: Callable[[str], None] = _print) -> dict[str, Any]:
    """Train DebiasFR on the labelled HQ faces of ``dataset``; files go to ``out_dir`` (see module doc).

    The auxiliary networks (critic, low-resolution predictor) are trained first unless the configuration
    gives their weights or ``out_dir`` already has them (resume).  Returns the training record.
    """
    from safetensors.torch import load_file, save_file
    from reference_models.shared.attribute_classifiers.trained import SmallAttributeNet

    cfg = json.loads(json.dumps(cfg, default=str))      # plain, JSON-stable copy
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    train = cfg["train"]
    if train.get("threads"):
        torch.set_num_threads(int(train["threads"]))
    seed = int(train["seed"])
    size = int(cfg["network"]["out_size"])
    started = time.perf_counter()
    faces = load_training_faces(dataset, size, limit=limit, seed=seed, log=log)
    log(f"{len(faces['images'])} labelled training faces at {size} px from {dataset.name} "
        f"({faces['skipped_unlabelled']} unlabelled skipped) in {time.perf_counter() - started:.1f} s")
    dataset_record = {"name": dataset.name, "describe": dataset.describe(), "limit": limit,
                      "n_faces": int(len(faces["images"])), "unreadable": len(faces["unreadable"])}

    aux_models, aux_records = {}, {}
    for role, degraded in (("critic", False), ("lr_predictor", True)):
        if role == "critic" and cfg["critic"].get("kind") == "clip":
            aux_models[role], aux_records[role] = build_clip_critic(cfg["critic"], log=log)
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

    trainer = DebiasFRTrainer(cfg, faces, out_dir, aux_models["critic"], aux_models["lr_predictor"], aux_records,
                              dataset_record, log=log)
    ckpt = out_dir / "checkpoint.safetensors"
    if resume and ckpt.is_file():
        trainer.load_checkpoint(ckpt)
        log(f"resumed from {ckpt} at iteration {trainer.iteration}")
    with open(out_dir / "config.json", "w", encoding="utf-8") as fh:
        json.dump(cfg, fh, indent=1)
    log(f"perceptual network: {trainer.perceptual.describe()}")
    record = trainer.fit(iterations, progress=progress)
    if trainer.iteration == (iterations if iterations is not None else int(train["iterations"])):
        trainer.save_checkpoint()
    log(f"iteration {trainer.iteration}: {trainer.seconds / max(1, trainer.iteration):.2f} s/it; "
        f"inference weights {out_dir / 'debiasfr.safetensors'}")
    return record
