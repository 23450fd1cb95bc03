"""DebiasFR training (``bench train debiasfr``): the released recipe, runnable on CPU at small sizes.

One iteration (``Seeyn/DebiasFR dbfr/models/dbfr_model.py@7016255`` L191-L334, spec §4-§6):

1. a batch of HQ faces ``y`` (float, resized once to the training size without 8-bit rounding:
   :func:`reference_models.debiasfr.training_data.load_training_faces`; random horizontal flip, which
   commutes with that resize) is degraded with freshly sampled ``(k, s, n, q)``
   (:func:`reference_models.debiasfr.degradation.sample_degradation_params`, non-differentiable JPEG),
   with probability ``gray_prob`` turned grey, quantised to 8 bits -> ``x``;
2. **pseudo branch** with probability ``pseudo_prob`` (0.4): soft top-2 attribute vectors from the frozen
   low-resolution predictor on ``x`` (``lr_predictor.kind: dbfr``: the official ResNet-34, ``x`` resized
   to 256 px with nearest, :class:`reference_models.debiasfr.official_assets.DbfrLRPredictor`); ``ŷ_p = G(x, soft)``; loss ``pseudo_attribute · CE(C(ŷ_p), soft)
   + degradation · pixel · L1(Deg(ŷ_p; same k, s, n, q), x)`` through the straight-through DiffJPEG;
3. **main branch**: ``ŷ = G(x, one-hot(labels))``; ``pixel · L1 + pyramid (until ``pyramid_until``, then
   1e-12) + perceptual + style + gan · softplus(−D(ŷ)) + attribute · CE(C(ŷ), labels)``;
4. when the G loss is not finite the G step **and the D step** are skipped (counted in ``skipped_steps``;
   the official code guards both ``backward``/``step`` calls with the same test);
5. D step: ``softplus(−D(y)) + softplus(D(ŷ))``; every ``r1_every`` iterations the lazy R1 term
   ``γ/2 · E‖∇D(y)‖² · r1_every``;
6. EMA of the generator (``ema_decay`` per iteration, warmed up: :func:`ema_decay_at`).

Optimisers, checkpoints and the inference file: :mod:`reference_models.debiasfr.training_state`
(:class:`DebiasFRTrainer` extends its :class:`~reference_models.debiasfr.training_state.DebiasFRTrainState`
with the iteration and the loop); the frozen critic and the low-resolution predictor, and what replaces them
offline: :mod:`reference_models.debiasfr.auxiliary_networks`; the training faces and the degraded batches:
:mod:`reference_models.debiasfr.training_data`.  Determinism: every random draw of iteration ``i``
comes from generators seeded with ``(seed, i)``, so a resumed run continues exactly as an uninterrupted
one would.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch
import torch.nn.functional as F

from bench.core.types import AGE_BINS

from reference_models.debiasfr.auxiliary_networks import critic_logits, prepare_auxiliary_networks
from reference_models.debiasfr.losses import (
    attribute_ce,
    discriminator_loss,
    generator_gan_loss,
    pseudo_pair_loss,
    pyramid_loss,
    r1_penalty,
    top2_soft,
)
from reference_models.debiasfr.config import check_config
from reference_models.debiasfr.official_assets import require_official_assets
from reference_models.debiasfr.training_data import degrade_batch, hq_batch, load_training_faces, print_flush
from reference_models.debiasfr.training_state import DebiasFRTrainState

__all__ = ["DebiasFRTrainer", "ema_decay_at", "one_hot", "train_debiasfr"]

N_AGE = len(AGE_BINS)


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


class DebiasFRTrainer(DebiasFRTrainState):
    """One training run: the state of :class:`DebiasFRTrainState` plus the iteration (:meth:`step`) and the
    loop (:meth:`fit`); see the module docstring."""

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
        hq = hq_batch(self.faces, idx)
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
        finite = bool(torch.isfinite(total))
        if finite:
            total.backward()
            self.opt_g.step()
        else:                       # official: neither the G nor the D step runs ("prevent from crush")
            self.skipped_steps += 1
        logs["g_total"] = total.item()
        if finite:
            self._discriminator_step(it, y, out, logs)
        else:
            logs["d"] = float("nan")
        self._update_ema(it)
        self.iteration += 1
        logs["iteration"] = self.iteration
        return logs

    def _discriminator_step(self, it: int, y: torch.Tensor, out: torch.Tensor, logs: dict[str, float]) -> None:
        losses = self.cfg["losses"]
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

    def _update_ema(self, it: int) -> None:
        """EMA of the generator, with a warm-up: ``decay_i = min(ema_decay, (1 + i) / (10 + i))``."""
        decay = ema_decay_at(float(self.cfg["train"]["ema_decay"]), it)
        with torch.no_grad():
            ema = dict(self.g_ema.named_parameters())
            for name, p in self.g.named_parameters():
                ema[name].mul_(decay).add_(p.detach(), alpha=1 - decay)
            ema_b = dict(self.g_ema.named_buffers())
            for name, b in self.g.named_buffers():
                ema_b[name].copy_(b)

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


def train_debiasfr(dataset, cfg: Mapping[str, Any], out_dir: str | Path, *, limit: int | None = None,
                   iterations: int | None = None, resume: bool = True, progress: bool = True,
                   log: Callable[[str], None] = print_flush) -> dict[str, Any]:
    """Train DebiasFR on the labelled HQ faces of ``dataset``; files go to ``out_dir`` (see module doc).

    The auxiliary networks (critic, low-resolution predictor) are trained first unless the configuration
    gives their weights or ``out_dir`` already has them (resume).  Returns the training record.
    """
    cfg = json.loads(json.dumps(cfg, default=str))      # plain, JSON-stable copy
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    train = cfg["train"]
    if train.get("threads"):
        torch.set_num_threads(int(train["threads"]))
    seed = int(train["seed"])
    size = int(cfg["network"]["out_size"])
    check_config(cfg)
    official = require_official_assets(cfg)     # every official file first: one error naming each missing one
    for role, path in official.items():
        log(f"{role.replace('_', ' ')}: {path}")
    started = time.perf_counter()
    faces = load_training_faces(dataset, size, limit=limit, seed=seed, log=log,
                                antialias=bool(train.get("hq_antialias", False)))
    log(f"{len(faces['images'])} labelled training faces at {size} px from {dataset.name} "
        f"({faces['skipped_unlabelled']} unlabelled skipped) in {time.perf_counter() - started:.1f} s")
    dataset_record = {"name": dataset.name, "describe": dataset.describe(), "limit": limit,
                      "n_faces": int(len(faces["images"])), "unreadable": len(faces["unreadable"]),
                      "hq_resize": faces["hq_resize"]}

    aux_models, aux_records = prepare_auxiliary_networks(cfg, faces, out_dir, seed, log=log)

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
