"""The state of a DebiasFR training run and its files: networks, optimisers, counters, checkpoints.

:class:`DebiasFRTrainState` builds the generator ``G`` (and its EMA copy), the discriminator ``D``, the
perceptual loss and the two Adam optimisers (G betas (0, 0.99); D learning rate and betas rescaled for
lazy R1: ``·k/(k+1)``, ``β^(k/(k+1))``; G's optimiser holds only the trainable parameters, which with a
fixed decoder excludes the frozen prior), loads the StyleGAN2 decoder prior when the configuration names
one (:func:`reference_models.debiasfr.official_assets.load_decoder_prior`), and holds the iteration, the time spent, the skipped steps and
the loss history.  The training loop (:class:`reference_models.debiasfr.training.DebiasFRTrainer`) adds the
iteration itself.

Files, written atomically (``bench.core.checkpoints.save_safetensors_atomic``):

* ``checkpoint.safetensors``: networks (``g``, ``g_ema``, ``d``, the small-CNN critic and predictor; the
  official CLIP critic and ResNet-34 predictor are recorded by path, not copied),
  the Adam moments (``opt_g``, ``opt_d``); configuration, training record and loss history in the metadata.
  :meth:`DebiasFRTrainState.load_checkpoint` restores all of it, so a resumed run continues exactly;
* ``debiasfr.safetensors``: the inference file (EMA generator + low-resolution predictor + record);
  :func:`half_precision_copy` stores it in float16 for the shipped preset.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from bench.core.checkpoints import save_safetensors_atomic

from reference_models.debiasfr.config import generator_kwargs
from reference_models.debiasfr.discriminator import StyleGAN2DiscriminatorClean
from reference_models.debiasfr.generator import DBFR
from reference_models.debiasfr.official_assets import DbfrLRPredictor, load_decoder_prior
from reference_models.debiasfr.training_data import print_flush

FORMAT = "frbench-debiasfr-v1"


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


class DebiasFRTrainState:
    """Networks, optimisers and counters of one training run, with their checkpoint files (module doc)."""

    def __init__(self, cfg: Mapping[str, Any], faces: dict[str, Any], out_dir: str | Path,
                 critic: torch.nn.Module, lr_predictor: torch.nn.Module, aux_records: dict[str, Any],
                 dataset_record: dict[str, Any], log: Callable[[str], None] = print_flush) -> None:
        from reference_models.shared.perceptual import PerceptualLoss

        self.cfg, self.faces, self.out_dir, self.log = cfg, faces, Path(out_dir), log
        self.critic, self.lr_predictor = critic.eval(), lr_predictor.eval()
        self.aux_records, self.dataset_record = aux_records, dataset_record
        train, net, losses = cfg["train"], cfg["network"], cfg["losses"]
        self.seed = int(train["seed"])
        torch.manual_seed(self.seed)
        self.g = DBFR(**generator_kwargs(cfg))
        # network.decoder_prior: loaded and (fix_decoder) frozen as the official code; a fixed decoder without
        # a prior is refused (reference_models.debiasfr.official_assets)
        self.decoder_record = load_decoder_prior(self.g, net)
        if self.decoder_record is not None:
            log(f"decoder prior {self.decoder_record['path']} loaded; decoder "
                f"{'fixed except modulations and fusion' if self.decoder_record['fixed'] else 'trained'}")
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

    # -- files -------------------------------------------------------------------------------------
    def record(self) -> dict[str, Any]:
        return {"format": FORMAT, "label": self.cfg["label"], "preset": self.cfg.get("preset"),
                "iteration": self.iteration, "seconds": round(self.seconds, 1), "skipped_steps": self.skipped_steps,
                "dataset": self.dataset_record, "n_train_faces": int(len(self.faces["images"])),
                "perceptual": self.perceptual.describe(), "critic": self.aux_records["critic"],
                "lr_predictor": self.aux_records["lr_predictor"], "attribute_input": bool(self.cfg["attribute_input"]),
                "pseudo_range_mismatch": bool(self.cfg["losses"]["pseudo_range_mismatch"]),
                "decoder": self._decoder_description(), "decoder_prior": self.decoder_record,
                "last_losses": self.history[-1] if self.history else None}

    def _decoder_description(self) -> str:
        if self.decoder_record is None:
            return "trained jointly from scratch (no StyleGAN2 prior)"
        how = "fixed except StyleConv modulations and fusion layers" if self.decoder_record["fixed"] else "fine-tuned"
        return f"StyleGAN2 prior {self.decoder_record['source']} ({self.decoder_record['path']}), {how}"

    def _metadata(self) -> dict[str, str]:
        return {"frbench_debiasfr": json.dumps({"config": self.cfg, "record": self.record()}, default=str)}

    def save_checkpoint(self) -> Path:
        from reference_models.debiasfr.clip_classifier import ClipCritic

        # the CLIP critic and the official predictor are external frozen files (152 M, 22 M parameters):
        # recorded by path and sha256, not copied (the inference file does hold the predictor)
        critic = {} if isinstance(self.critic, ClipCritic) else _prefixed("critic", self.critic.state_dict())
        official = isinstance(self.lr_predictor, DbfrLRPredictor)
        predictor = {} if official else _prefixed("lr_predictor", self.lr_predictor.state_dict())
        tensors = {**_prefixed("g", self.g.state_dict()), **_prefixed("g_ema", self.g_ema.state_dict()),
                   **_prefixed("d", self.d.state_dict()), **critic, **predictor,
                   **_optimizer_tensors("opt_g", self.opt_g), **_optimizer_tensors("opt_d", self.opt_d)}
        meta = self._metadata()
        meta["frbench_history"] = json.dumps(self.history[-2000:])
        path = self.out_dir / "checkpoint.safetensors"
        save_safetensors_atomic(tensors, path, meta)
        self.export(self.out_dir / "debiasfr.safetensors")
        return path

    def export(self, path: Path) -> Path:
        """The inference file: EMA generator (``generator.*``) + low-resolution predictor (``lr_predictor.*``:
        the small CNN, or with ``lr_predictor.kind: dbfr`` the official ResNet-34 under its official key names;
        the kind is in the metadata's configuration and record)."""
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
