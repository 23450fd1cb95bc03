"""Load parameter files without executing code from them.

* ``.safetensors`` files are read with :func:`safetensors.torch.load_file` (a plain tensor format).
* Any other torch checkpoint is read with ``torch.load(..., map_location="cpu", weights_only=True)``:
  PyTorch's restricted unpickler that only rebuilds tensors and plain containers (dict, list, tuple, str,
  numbers).  A pickle that names any other class or callable (a custom object, ``os.system``, a
  ``functools.partial`` ...) is refused and nothing in it runs.  This module never passes
  ``weights_only=False``.
* ``.npz`` files are read with ``numpy.load(..., allow_pickle=False)``: object arrays are refused.

TorchScript archives (such as the FID Inception asset) are programs, not state dicts; they are refused
here with a message saying so (load them with ``torch.jit.load`` where that is intended).

Every failure raises :class:`CheckpointLoadError` naming the file and the reason.  Every file loaded is
noted for the run identity (:func:`bench.core.provenance.note_file`).
"""
from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from bench.core.provenance import note_file


class CheckpointLoadError(ValueError):
    """A parameter file could not be loaded safely (message names the file and the reason)."""


def _is_torchscript_archive(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return any(name.split("/", 2)[1:2] == ["code"] or name.endswith("/constants.pkl")
                       for name in zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _pick(obj, key: str | Sequence[str], path: Path):
    candidates = [key] if isinstance(key, str) else list(key)
    if not isinstance(obj, Mapping):
        raise CheckpointLoadError(f"{path}: cannot pick key {key!r}: the file holds a {type(obj).__name__}, not a dict")
    for candidate in candidates:
        if candidate in obj:
            return obj[candidate]
    raise CheckpointLoadError(
        f"{path}: none of the keys {candidates} is in the checkpoint; its top-level keys are: "
        f"{', '.join(map(str, list(obj)[:20]))}")


def load_state_dict(path: str | os.PathLike, key: str | Sequence[str] | None = None,
                    map_location: str = "cpu") -> dict:
    """A ``{name: tensor}`` state dict from a ``.safetensors`` file or a torch checkpoint, loaded safely.

    ``key`` picks a sub-dict (``"params_ema"``, ``"model_state_dict"``, ``"D"`` ...); a sequence of keys
    picks the first one present (``("params_ema", "params")``).  The result must map strings to tensors;
    otherwise the error lists the keys that hold dicts, i.e. the likely values of ``key``.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointLoadError(f"checkpoint {path} does not exist")
    if path.suffix.lower() != ".safetensors" and _is_torchscript_archive(path):
        # checked first: torch.load would otherwise hand such archives to torch.jit.load
        raise CheckpointLoadError(
            f"{path} is a TorchScript archive (a program), not a state dict; load it with torch.jit.load "
            f"where that is intended")
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            obj = load_file(str(path), device=str(map_location))
        else:
            obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - every loader error becomes one clear message
        reason = " ".join(str(exc).split())
        if len(reason) > 600:
            reason = reason[:600] + " ..."
        raise CheckpointLoadError(
            f"cannot load {path} safely ({type(exc).__name__}): {reason}. Only tensors and plain containers are "
            f"accepted (torch.load weights_only=True); the file was not unpickled further.") from None
    if key is not None:
        obj = _pick(obj, key, path)
    if not isinstance(obj, Mapping):
        raise CheckpointLoadError(f"{path}: expected a dict of tensors, found a {type(obj).__name__}")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        nested = [str(k) for k, v in obj.items() if isinstance(v, Mapping)]
        hint = f"; pass key= one of {nested}" if nested else ""
        raise CheckpointLoadError(
            f"{path}: not a flat state dict: {len(bad)} entries are not str -> tensor (e.g. {bad[:5]}){hint}")
    note_file(path, "state_dict")
    return dict(obj)


def load_npz(path: str | os.PathLike, keys: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Arrays of an ``.npz`` file as a dict, loaded with ``allow_pickle=False``.

    ``keys``: arrays that must be present (an error names the missing ones and the file).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointLoadError(f"npz file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: np.asarray(data[name]) for name in data.files}
    except Exception as exc:  # noqa: BLE001
        raise CheckpointLoadError(f"cannot load {path} safely ({type(exc).__name__}): {exc}") from None
    missing = [k for k in (keys or ()) if k not in arrays]
    if missing:
        raise CheckpointLoadError(f"{path}: missing arrays {missing}; it holds {sorted(arrays)}")
    note_file(path, "npz")
    return arrays
