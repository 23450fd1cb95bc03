"""Models and files of ``bench train ifqa``: building, saving, resuming, loading the trained discriminator.

* :func:`build_models`: generator and discriminator initialised from the configuration's seed;
* :func:`save_checkpoint`: ``ifqa_discriminator.safetensors`` (:data:`D_FILE`: the discriminator only, keys =
  :class:`~reference_models.ifqa.discriminator.IFQADiscriminator` keys; metadata ``config``, ``input_size``,
  ``label``, ``frbench_record``) and ``training_state.safetensors`` (:data:`STATE_FILE`: both networks, both
  Adam states, the iteration, configuration and record), both written atomically;
* :func:`resume_training_state`: the inverse of the second, with checks that the run is the same one;
* :func:`load_trained_discriminator`: the first, for the ``ifqa`` metric and held-out checks.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from bench.core.checkpoints import save_safetensors_atomic
from reference_models.ifqa.discriminator import IFQADiscriminator
from reference_models.ifqa.generator import PlainFIRGenerator
from reference_models.ifqa.training_config import LABEL, IFQATrainConfig, discriminator_config

D_FILE = "ifqa_discriminator.safetensors"
STATE_FILE = "training_state.safetensors"

#: fields that may differ between a checkpoint and the resumed call (they do not change what is trained)
RESUMABLE_CHANGES = ("save_every", "log_every")


def build_models(cfg: IFQATrainConfig) -> tuple[PlainFIRGenerator, IFQADiscriminator]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(cfg.seed))
        g = PlainFIRGenerator(cfg.g_channels, cfg.g_blocks)
        d = IFQADiscriminator(base_channels=cfg.d_width, num_bottleneck=cfg.d_bottleneck)
    return g, d


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


def resume_training_state(path: Path, g, d, opt_g, opt_d, cfg: IFQATrainConfig, record: dict[str, Any]) -> tuple[int, float]:
    """Load the state written by :func:`save_checkpoint` into ``g, d, opt_g, opt_d``; ``(iteration, seconds)``.

    Refuses (``ValueError``) a state trained with another configuration (except :data:`RESUMABLE_CHANGES`),
    other images or another perceptual network than ``cfg`` / ``record`` describe.
    """
    from safetensors.torch import load_file

    meta = read_metadata(path)
    saved_cfg = json.loads(meta["train_config"])
    now = cfg.to_dict()
    diff = {k: (saved_cfg.get(k), v) for k, v in now.items()
            if k not in RESUMABLE_CHANGES and saved_cfg.get(k) != v}
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
