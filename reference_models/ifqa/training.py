"""Training an IFQA discriminator (``bench train ifqa``): generator vs per-pixel U-Net discriminator.

**Label: what this trains is "trained here: small CPU model, few images" -- a demonstration of the
training pipeline, not the official IFQA.**  The official weights (``IFQA_Metric.pth``), when a user has
them, are what the leaderboards should use.  The label and the whole training record are written into every
checkpoint's metadata.

Formulation (``../shared/spec/ifqa.md`` §3; the official repository has no training code)
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
    * ``ifqa_discriminator.safetensors``: the discriminator only, keys = :class:`IFQADiscriminator` keys;
      metadata ``config`` (JSON constructor arguments: ``IFQADiscriminator(**config)``), ``input_size`` (the
      training resolution: score images resized to it), ``label`` and
      ``frbench_record`` (JSON training record: dataset, images, iterations, perceptual network, ...).
      Loadable by the ``ifqa`` metric (``-X weights=PATH``) or :func:`load_trained_discriminator`.
    * ``training_state.safetensors``: everything needed to resume.
    * ``log.jsonl``: one line of losses per logged iteration.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from bench.core.checkpoints import save_safetensors_atomic
from reference_models.ifqa.discriminator import IFQADiscriminator
from reference_models.ifqa.fprs import describe_masks, draw_swap, fprs_mix, fprs_target, swap_mask, template_masks
from reference_models.ifqa.generator import PlainFIRGenerator
from reference_models.ifqa.lq_synthesis import RANGES as LQ_RANGES
from reference_models.ifqa.lq_synthesis import synthesize_lq

LABEL = "trained here: small CPU model, few images -- not the official IFQA"
RECORD_VERSION = 1
D_FILE = "ifqa_discriminator.safetensors"
STATE_FILE = "training_state.safetensors"
LOG_FILE = "log.jsonl"


@dataclass(frozen=True)
class IFQATrainConfig:
    size: int = 64                       # training resolution (multiple of 32)
    d_width: int = 8                     # IFQADiscriminator base_channels (64 in the release)
    d_bottleneck: int = 4
    g_channels: int = 32
    g_blocks: int = 4
    batch_size: int = 8
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    w_adv: float = 1.0
    w_pix: float = 50.0                  # spec λ1
    w_percep: float = 5.0                # spec λ2
    perceptual: str = "fid-inception"
    p_lq_in_swap: float = 0.5            # FPRS swaps with the LQ instead of RF with this probability
    n_images: int | None = 2000          # at most this many training faces (seeded choice)
    layout: str | None = None            # face layout of the images (None: from the dataset name)
    seed: int = 0
    save_every: int = 100
    log_every: int = 10

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["betas"] = list(self.betas)
        return d


#: presets of ``bench train ifqa --config``
CONFIGS: dict[str, IFQATrainConfig] = {
    # CPU, a few hundred iterations, 64 px, narrow discriminator (width 8 = 1/8 of the release)
    "small": IFQATrainConfig(),
    # smoke tests: one or two iterations in seconds
    "tiny": IFQATrainConfig(size=64, d_width=2, d_bottleneck=1, g_channels=8, g_blocks=1, batch_size=2,
                            n_images=8, save_every=1, log_every=1),
    # the paper's scale where known (256 px, release width); batch, learning rates, generator: unverified
    "paper": IFQATrainConfig(size=256, d_width=64, d_bottleneck=4, g_channels=64, g_blocks=16, batch_size=16,
                             lr_g=1e-4, lr_d=1e-4, n_images=None, save_every=1000, log_every=50),
}

#: fields that may differ between a checkpoint and the resumed call (they do not change what is trained)
_RESUMABLE_CHANGES = ("save_every", "log_every")


def layout_for(dataset_name: str) -> str:
    return "utkface" if dataset_name == "utkface" else "ffhq"


# -- data -------------------------------------------------------------------------------------------------
def load_faces(dataset, size: int, limit: int | None, seed: int, log: Callable[[str], None] = print
               ) -> tuple[np.ndarray, list[str], int]:
    """``(faces uint8 [N, size, size, 3], ids, unreadable)``: a seeded choice of the dataset's HQ faces,
    resized with Pillow bicubic (antialiased)."""
    from PIL import Image

    from bench.data.training_faces import seeded_hq_faces

    def resize(image: np.ndarray) -> np.ndarray:
        if image.shape[:2] != (size, size):
            image = np.asarray(Image.fromarray(image).resize((size, size), Image.BICUBIC), dtype=np.uint8)
        return image

    chosen = seeded_hq_faces(dataset, seed=seed, limit=limit, prepare=resize)
    faces, ids, unreadable = chosen.images, [s.id for s in chosen.samples], len(chosen.unreadable)
    if not faces:
        raise ValueError(f"no readable HQ faces in dataset {dataset.name!r}")
    return np.stack(faces), ids, unreadable


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """``uint8 [B, H, W, 3]`` -> float ``[B, 3, H, W]`` in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


@dataclass
class Batch:
    hq: torch.Tensor
    lq: torch.Tensor
    swap_masks: torch.Tensor                 # [B, 1, H, W] float 0/1
    directions: list[str]
    use_lq: torch.Tensor                     # [B] bool: swap with the LQ instead of RF
    indices: list[int]
    lq_params: list[dict] = field(default_factory=list)


def make_batch(faces: np.ndarray, iteration: int, cfg: IFQATrainConfig, regions: dict[str, np.ndarray]) -> Batch:
    """Everything random of iteration ``iteration``, from ``default_rng([seed, iteration])``."""
    rng = np.random.default_rng([int(cfg.seed), int(iteration)])
    n = len(faces)
    idx = rng.choice(n, size=cfg.batch_size, replace=n < cfg.batch_size)
    hqs, lqs, masks, dirs, use_lq, params = [], [], [], [], [], []
    for i in idx:
        hq = faces[int(i)]
        if rng.random() < 0.5:
            hq = hq[:, ::-1]
        hq = np.ascontiguousarray(hq)
        lq, p = synthesize_lq(hq, rng)
        chosen, direction = draw_swap(rng)
        hqs.append(hq); lqs.append(lq); params.append({**p, "regions": list(chosen), "direction": direction})
        masks.append(swap_mask(regions, chosen)); dirs.append(direction)
        use_lq.append(bool(rng.random() < cfg.p_lq_in_swap))
    return Batch(to_tensor(np.stack(hqs)), to_tensor(np.stack(lqs)),
                 torch.from_numpy(np.stack(masks)).float().unsqueeze(1), dirs, torch.tensor(use_lq),
                 [int(i) for i in idx], params)


# -- models and checkpoints ---------------------------------------------------------------------------------
def build_models(cfg: IFQATrainConfig) -> tuple[PlainFIRGenerator, IFQADiscriminator]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(cfg.seed))
        g = PlainFIRGenerator(cfg.g_channels, cfg.g_blocks)
        d = IFQADiscriminator(base_channels=cfg.d_width, num_bottleneck=cfg.d_bottleneck)
    return g, d


def discriminator_config(cfg: IFQATrainConfig) -> dict[str, Any]:
    """The :class:`IFQADiscriminator` constructor arguments (``IFQADiscriminator(**config)``)."""
    return {"base_channels": cfg.d_width, "num_bottleneck": cfg.d_bottleneck}


def _optim_tensors(prefix: str, opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list]:
    sd = opt.state_dict()
    tensors = {}
    for pid, st in sd["state"].items():
        for name, value in st.items():
            t = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"{prefix}.{pid}.{name}"] = t.detach().clone().contiguous()
    return tensors, sd["param_groups"]


def _optim_load(opt: torch.optim.Optimizer, prefix: str, tensors: dict[str, torch.Tensor], groups: list) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith(prefix + "."):
            _, pid, name = key.split(".", 2)
            state.setdefault(int(pid), {})[name] = value
    opt.load_state_dict({"state": state, "param_groups": groups})


def save_checkpoint(out: Path, g, d, opt_g, opt_d, iteration: int, cfg: IFQATrainConfig,
                    record: dict[str, Any]) -> None:
    """Write the discriminator file and the resumable training state (both atomically)."""
    record = {**record, "iterations": int(iteration)}
    meta = {"frbench_record": json.dumps(record, default=str), "label": LABEL,
            "config": json.dumps(discriminator_config(cfg)), "input_size": str(cfg.size)}
    save_safetensors_atomic(d.state_dict(), out / D_FILE, meta)
    tensors = {f"generator.{k}": v for k, v in g.state_dict().items()}
    tensors.update({f"discriminator.{k}": v for k, v in d.state_dict().items()})
    tg, groups_g = _optim_tensors("opt_g", opt_g)
    td, groups_d = _optim_tensors("opt_d", opt_d)
    tensors.update(tg); tensors.update(td)
    save_safetensors_atomic(tensors, out / STATE_FILE,
                 {**meta, "iteration": str(int(iteration)), "train_config": json.dumps(cfg.to_dict()),
                  "param_groups": json.dumps({"opt_g": groups_g, "opt_d": groups_d})})


def read_metadata(path: str | Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        return dict(fh.metadata() or {})


def load_trained_discriminator(path: str | Path) -> tuple[IFQADiscriminator, dict[str, Any]]:
    """``(discriminator in eval mode, training record)`` from an ``ifqa_discriminator.safetensors``."""
    from safetensors.torch import load_file

    from reference_models.ifqa.discriminator import load_ifqa_state_dict

    meta = read_metadata(path)
    if "config" not in meta:
        raise ValueError(f"{path}: no 'config' in the metadata (not written by `bench train ifqa`)")
    conf = json.loads(meta["config"])
    d = IFQADiscriminator(base_channels=int(conf["base_channels"]), num_bottleneck=int(conf["num_bottleneck"]))
    load_ifqa_state_dict(d, load_file(str(path)))
    from bench.core.provenance import note_file

    note_file(path, "ifqa discriminator")
    d.eval()
    record = json.loads(meta.get("frbench_record", "{}"))
    record["input_size"] = int(meta.get("input_size") or conf.get("input_size") or record["config"]["size"])
    return d, record


# -- scoring ------------------------------------------------------------------------------------------------
@torch.no_grad()
def score_faces(d: IFQADiscriminator, images: np.ndarray, size: int, batch: int = 32) -> np.ndarray:
    """Mean of the per-pixel map of each ``uint8 [N, H, W, 3]`` face, resized to ``size`` (bilinear, as
    the official test-time resize) -> float64 ``[N]``."""
    from PIL import Image

    out = []
    for start in range(0, len(images), batch):
        chunk = images[start:start + batch]
        if chunk.shape[1:3] != (size, size):
            chunk = np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.BILINEAR)) for im in chunk])
        out.append(d(to_tensor(chunk)).mean(dim=(1, 2, 3)).double().numpy())
    return np.concatenate(out)


def bicubic_round_trip(image: np.ndarray, scale: int) -> np.ndarray:
    """The ``x{scale}`` protocol + the ``bicubic`` method: PIL bicubic down to ``floor(N/s + 1/2)``, back up."""
    from PIL import Image

    from bench.data.degradation import bicubic_lq_size

    h, w = image.shape[:2]
    small = Image.fromarray(image).resize((bicubic_lq_size(w, scale), bicubic_lq_size(h, scale)), Image.BICUBIC)
    return np.asarray(small.resize((w, h), Image.BICUBIC), dtype=np.uint8)


def ranking_check(d: IFQADiscriminator, faces: np.ndarray, size: int, scales: Sequence[int] = (4, 8, 16)
                  ) -> dict[str, Any]:
    """Scores of held-out ``faces`` (full resolution ``uint8``) and of their bicubic x4/x8/x16 round trips;
    the share of faces ranked ``HQ > x4 > x8 > x16`` (and pairwise)."""
    scores = {"hq": score_faces(d, faces, size)}
    for s in scales:
        scores[f"x{s}"] = score_faces(d, np.stack([bicubic_round_trip(f, s) for f in faces]), size)
    keys = [f"x{s}" for s in scales]
    chain = np.ones(len(faces), dtype=bool)
    pairwise = {}
    for a, b in zip(["hq"] + keys[:-1], keys):
        ok = scores[a] > scores[b]
        pairwise[f"{a}>{b}"] = float(ok.mean())
        if a != "hq":
            chain &= ok
    return {"n": int(len(faces)), "mean": {k: float(v.mean()) for k, v in scores.items()},
            "std": {k: float(v.std()) for k, v in scores.items()}, "pairwise": pairwise,
            "share_" + ">".join(keys): float(chain.mean()),
            "mean_order_correct": bool(all(scores[a].mean() > scores[b].mean() for a, b in zip(keys[:-1], keys[1:])))}


# -- training -----------------------------------------------------------------------------------------------
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
        start, seconds = _resume(state_path, g, d, opt_g, opt_d, cfg, record)
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


def _resume(path: Path, g, d, opt_g, opt_d, cfg: IFQATrainConfig, record: dict[str, Any]) -> tuple[int, float]:
    from safetensors.torch import load_file

    meta = read_metadata(path)
    saved_cfg = json.loads(meta["train_config"])
    now = cfg.to_dict()
    diff = {k: (saved_cfg.get(k), v) for k, v in now.items()
            if k not in _RESUMABLE_CHANGES and saved_cfg.get(k) != v}
    if diff:
        raise ValueError(f"{path} was trained with another configuration ({diff}); use another --out "
                         "or the same settings to resume")
    saved = json.loads(meta["frbench_record"])
    for key in ("image_ids_sha256", "dataset"):
        if saved.get(key) != json.loads(json.dumps(record[key], default=str)):
            raise ValueError(f"{path} was trained on other data ({key} differs); use another --out")
    if saved.get("perceptual", {}).get("network") != record["perceptual"]["network"]:
        raise ValueError(f"{path} was trained with another perceptual network")
    tensors = load_file(str(path))
    from bench.core.provenance import note_file

    note_file(path, "ifqa training state")
    g.load_state_dict({k[len("generator."):]: v for k, v in tensors.items() if k.startswith("generator.")})
    d.load_state_dict({k[len("discriminator."):]: v for k, v in tensors.items() if k.startswith("discriminator.")})
    groups = json.loads(meta["param_groups"])
    _optim_load(opt_g, "opt_g", tensors, groups["opt_g"])
    _optim_load(opt_d, "opt_d", tensors, groups["opt_d"])
    return int(meta["iteration"]), float(saved.get("seconds", 0.0))


# -- command line ---------------------------------------------------------------------------------------------
def heldout_faces(name: str, root, n: int, seed: int = 1) -> tuple[np.ndarray, dict[str, Any]]:
    """``n`` faces of the dataset's ``test`` split at their own resolution (seeded choice)."""
    from bench.core.imageio import read_image
    from bench.data.training_faces import open_training_dataset

    dataset = open_training_dataset(name, root, "test")
    samples = [s for s in dataset.samples if s.hq is not None]
    faces, shape = [], None
    for i in np.random.default_rng(seed).permutation(len(samples)):
        if len(faces) >= n:
            break
        try:
            image = read_image(samples[int(i)].hq)
        except Exception:
            continue
        if shape is None:
            shape = image.shape
        if image.shape == shape:
            faces.append(image)
    return np.stack(faces), dataset.describe()


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
