"""Training an IFQA discriminator (``bench train ifqa``): generator vs per-pixel U-Net discriminator.

**Label: what this trains is "trained here: small CPU model, few images" -- a demonstration of the
training pipeline, not the official IFQA.**  The official weights (``IFQA_Metric.pth``), when a user has
them, are what the leaderboards should use.  The label and the whole training record are written into every
checkpoint's metadata.

Formulation (``docs/protocols/ifqa.md`` §3; the official repository has no training code)
    * HQ faces ``I_HQ`` resized to ``size × size``; LQ ``I_LQ`` by :mod:`.lq_synthesis` (blur, resize ratio
      r ∈ [0.4, 0.9), noise, JPEG q ∈ [5, 50), back to size); random horizontal flips.
    * Generator ``G`` (:class:`.generator.PlainFIRGenerator`, a plain learnable FIR network): ``I_RF = G(I_LQ)``.
    * Discriminator ``D`` (:class:`.discriminator.IFQADiscriminator`, the official U-Net, width option
      ``base_channels``): per-pixel map in (0, 1).
    * FPRS (:mod:`.fprs`): every image of the batch also yields a mixed image that swaps some primary regions
      (eyes / nose / mouth) between ``I_HQ`` and ``I_RF`` or ``I_LQ`` (p = 0.5 each), target = HQ provenance
      ⊙ face mask.
    * LSGAN with per-pixel targets:
      ``L_D = mean (D(I_HQ) − M_FACE)² + mean D(I_fake)² + mean (D(I_mix) − T_mix)²`` (``I_fake`` = RF and LQ);
      ``L_G = mean (D(I_RF) − 1)² + 50 · mean (I_RF − I_HQ)² + 5 · P(I_RF, I_HQ)``.
      ``P``: :class:`reference_models.shared.perceptual.PerceptualLoss` (L1 on the feature maps); the paper's VGG-19
      (ImageNet) is not available offline, so the network is an option (``fid-inception``: the real
      pretrained FID Inception, the default; ``random-vgg19``: smoke tests only) recorded everywhere.
    * Adam (β = 0.5, 0.999) for both; one D step then one G step per iteration.

Determinism and resuming
    The models are initialised from ``seed``; everything random of iteration ``i`` (batch choice, flips, LQ
    parameters, FPRS draws) comes from ``numpy.random.default_rng([seed, i])``.  Every ``save_every``
    iterations (and at the end) ``training_state.safetensors`` (generator, discriminator, both Adam states,
    the iteration count, config and record) is written atomically; calling :func:`train_ifqa` again with the
    same ``out`` resumes from it and ends as an uninterrupted run would (same iterations, same draws).

Outputs in ``out/``
    * ``ifqa_discriminator.safetensors``: the discriminator only, keys = :class:`.discriminator.IFQADiscriminator` keys;
      metadata ``config`` (JSON constructor arguments: ``IFQADiscriminator(**config)``), ``input_size`` (the
      training resolution: score images resized to it), ``label`` and
      ``frbench_record`` (JSON training record: dataset, images, iterations, perceptual network, ...).
      Loadable by the ``ifqa`` metric (``-X weights=PATH``) or :func:`load_trained_discriminator`.
    * ``training_state.safetensors``: everything needed to resume.
    * ``log.jsonl``: one line of losses per logged iteration.

Modules: configuration and presets :mod:`.training_config`; faces and batches :mod:`.training_data`; models,
checkpoints and resuming :mod:`.training_state`; held-out scoring :mod:`.heldout`; here the loop
(:func:`train_ifqa`) and the command line (:func:`train_ifqa_cli`).
"""
from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from reference_models.ifqa.fprs import describe_masks, fprs_mix, fprs_target, template_masks
from reference_models.ifqa.heldout import heldout_faces, ranking_check
from reference_models.ifqa.lq_synthesis import RANGES as LQ_RANGES
from reference_models.ifqa.training_config import (
    CONFIGS,
    LABEL,
    RECORD_VERSION,
    IFQATrainConfig,
    discriminator_config,
    layout_for,
)
from reference_models.ifqa.training_data import load_faces, make_batch
from reference_models.ifqa.training_state import (
    D_FILE,
    STATE_FILE,
    build_models,
    load_trained_discriminator,
    read_metadata,
    resume_training_state,
    save_checkpoint,
)

LOG_FILE = "log.jsonl"


def _progress(total: int, initial: int):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is normally installed
        return None
    return tqdm(total=total, initial=initial, desc="ifqa", unit="it", dynamic_ncols=True)


def train_ifqa(dataset, out: str | Path, cfg: IFQATrainConfig, iterations: int, *, resume: bool = True,
               threads: int | None = None, perceptual_loss=None, progress: bool = True,
               log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train (or resume) for ``iterations`` iterations in total; returns the training record.

    ``dataset``: a :class:`bench.core.types.Dataset` with HQ faces.  ``perceptual_loss``: a ready
    :class:`reference_models.shared.perceptual.PerceptualLoss` (else built from ``cfg.perceptual``).
    """
    from reference_models.shared.perceptual import PerceptualLoss

    if cfg.size % 32 or cfg.size < 64:
        raise ValueError(f"the IFQA discriminator needs a size divisible by 32 and >= 64 (instance norm at "
                         f"the 1/32 bottleneck needs 2x2), got {cfg.size}")
    if threads:
        torch.set_num_threads(int(threads))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    layout = cfg.layout or layout_for(dataset.name)
    cfg = replace(cfg, layout=layout)
    regions, face = template_masks(layout, cfg.size)
    face_t = torch.from_numpy(np.array(face)).float()[None, None]

    faces, ids, unreadable = load_faces(dataset, cfg.size, cfg.n_images, cfg.seed, log)
    percep = perceptual_loss if perceptual_loss is not None else PerceptualLoss(cfg.perceptual)
    if percep.network != cfg.perceptual:
        raise ValueError(f"perceptual loss network {percep.network!r} differs from the config's {cfg.perceptual!r}")
    g, d = build_models(cfg)
    opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr_g, betas=cfg.betas)
    opt_d = torch.optim.Adam(d.parameters(), lr=cfg.lr_d, betas=cfg.betas)
    record: dict[str, Any] = {
        "version": RECORD_VERSION, "label": LABEL, "what": "IFQA per-pixel discriminator (bench train ifqa)",
        "dataset": dataset.describe(), "n_images": int(len(faces)), "unreadable": int(unreadable),
        "image_ids_sha256": _ids_digest(ids), "config": cfg.to_dict(),
        "discriminator": {**discriminator_config(cfg), "input_size": cfg.size}, "generator": g.config(),
        "perceptual": percep.describe(), "lq_synthesis": {k: list(v) for k, v in LQ_RANGES.items()},
        "masks": describe_masks(layout), "seconds": 0.0,
        "losses": "L_D = (D(HQ)-F_mask)^2 + D(RF,LQ)^2 + (D(FPRS mix)-target)^2; "
                  f"L_G = {cfg.w_adv}*(D(RF)-1)^2 + {cfg.w_pix}*MSE + {cfg.w_percep}*perceptual",
    }
    start = 0
    state_path = out / STATE_FILE
    if resume and state_path.is_file():
        start, seconds = resume_training_state(state_path, g, d, opt_g, opt_d, cfg, record)
        record["seconds"] = seconds
        log(f"resuming from {state_path} at iteration {start}")
    if start >= iterations:
        log(f"already trained for {start} >= {iterations} iterations; nothing to do")
        return json.loads(read_metadata(out / D_FILE)["frbench_record"])

    log(f"training IFQA ({LABEL}) on {len(faces)} faces of {dataset.name} at {cfg.size} px, "
        f"iterations {start}->{iterations}, perceptual {percep.network}, D width {cfg.d_width}")
    bar = _progress(iterations, start) if progress else None
    started = time.perf_counter()
    seconds0 = record["seconds"]
    g.train(); d.train()
    with open(out / LOG_FILE, "a", encoding="utf-8") as logfile:
        for it in range(start, iterations):
            b = make_batch(faces, it, cfg, regions)
            rf = g(b.lq)
            # -- discriminator step
            fake_src = torch.where(b.use_lq[:, None, None, None], b.lq, rf.detach())
            mixed_parts, prov_parts = [], []
            for j, direction in enumerate(b.directions):
                m, p = fprs_mix(b.hq[j:j + 1], fake_src[j:j + 1], b.swap_masks[j:j + 1], direction)
                mixed_parts.append(m); prov_parts.append(p)
            mixed, prov = torch.cat(mixed_parts), torch.cat(prov_parts)
            target_mix = fprs_target(prov, face_t)
            for p_ in d.parameters():
                p_.requires_grad_(True)
            bsz = b.hq.shape[0]
            pred = d(torch.cat([b.hq, rf.detach(), b.lq, mixed]))
            d_real = F.mse_loss(pred[:bsz], face_t.expand(bsz, -1, -1, -1))
            d_fake = pred[bsz:3 * bsz].pow(2).mean()
            d_mix = F.mse_loss(pred[3 * bsz:], target_mix)
            loss_d = d_real + d_fake + d_mix
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            # -- generator step
            for p_ in d.parameters():
                p_.requires_grad_(False)
            g_adv = (d(rf) - 1.0).pow(2).mean()
            g_pix = F.mse_loss(rf, b.hq)
            g_per, _ = percep(rf, b.hq)
            loss_g = cfg.w_adv * g_adv + cfg.w_pix * g_pix + cfg.w_percep * g_per
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()

            losses = {k: float(v.detach()) for k, v in (("d", loss_d), ("d_real", d_real), ("d_fake", d_fake),
                      ("d_mix", d_mix), ("g", loss_g), ("g_adv", g_adv), ("g_pix", g_pix), ("g_percep", g_per))}
            if not all(np.isfinite(v) for v in losses.values()):
                raise FloatingPointError(f"non-finite loss at iteration {it + 1}: {losses}")
            done = it + 1
            record["last_losses"] = losses
            if done % cfg.log_every == 0 or done == iterations:
                logfile.write(json.dumps({"iteration": done, **losses}) + "\n")
                logfile.flush()
                if bar is None:
                    log(f"iteration {done}/{iterations}: " + ", ".join(f"{k} {v:.4f}" for k, v in losses.items()))
            if bar is not None:
                bar.update(1)
                bar.set_postfix(d=f"{losses['d']:.3f}", g=f"{losses['g']:.3f}", pix=f"{losses['g_pix']:.4f}")
            if done % cfg.save_every == 0 or done == iterations:
                record["seconds"] = round(seconds0 + time.perf_counter() - started, 1)
                save_checkpoint(out, g, d, opt_g, opt_d, done, cfg, record)
    if bar is not None:
        bar.close()
    record["iterations"] = iterations
    log(f"wrote {out / D_FILE} ({iterations} iterations, {record['seconds']} s)")
    return record


def _ids_digest(ids: Sequence[str]) -> str:
    import hashlib

    return hashlib.sha256("\n".join(ids).encode("utf-8")).hexdigest()


# -- command line ---------------------------------------------------------------------------------------------
def train_ifqa_cli(args) -> int:
    """``bench train ifqa``: see :func:`train_ifqa` and ``bench train ifqa --help``."""
    from bench.data.training_faces import open_training_dataset

    if args.config not in CONFIGS:
        raise SystemExit(f"unknown --config {args.config!r}; choose one of {', '.join(CONFIGS)}")
    cfg = CONFIGS[args.config]
    overrides = {k: v for k, v in (("n_images", args.limit), ("perceptual", args.perceptual),
                                   ("batch_size", args.batch_size), ("seed", args.seed)) if v is not None}
    cfg = replace(cfg, **overrides)
    dataset = open_training_dataset(args.dataset, args.root, args.split)
    record = train_ifqa(dataset, args.out, cfg, args.iterations, resume=not args.no_resume, threads=args.threads)
    summary = {k: record.get(k) for k in ("label", "n_images", "iterations", "seconds", "last_losses")}
    summary["perceptual"] = record.get("perceptual", {}).get("network")
    if args.heldout:
        d, rec = load_trained_discriminator(Path(args.out) / D_FILE)
        faces, described = heldout_faces(args.dataset, args.root, args.heldout)
        check = ranking_check(d, faces, int(rec["input_size"]))
        check["dataset"] = described
        (Path(args.out) / "heldout_ranking.json").write_text(json.dumps(check, indent=1))
        summary["heldout_ranking"] = check
    print(json.dumps(summary, indent=1, default=str))
    return 0
