"""Atomic saving of safetensors files: the file appears complete under its name, or not at all.

Used by every writer of parameters in the suite (both trainers, the attribute classifier, converted
assets).  The tensors are written to ``.<name>.<pid>.part`` beside the target (same file system), then
renamed over it with ``os.replace``: a process killed mid-write leaves the previous checkpoint intact
and never a truncated one.  Tensors are detached, made contiguous and moved to the CPU first, so
optimiser moments and parameters of any device can be saved as they are.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch

__all__ = ["save_safetensors_atomic"]


def save_safetensors_atomic(tensors: Mapping[str, torch.Tensor], path: str | os.PathLike,
                            metadata: Mapping[str, str] | None = None) -> Path:
    """Write ``tensors`` (with string ``metadata``) to ``path`` atomically; returns the path."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp),
                  metadata=dict(metadata or {}))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
