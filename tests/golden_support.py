"""The ``hashinit-v1`` weights of the golden fixtures in ``../shared/golden`` (see its README).

Every tensor of a manifest gets deterministic pseudo-random values from an integer hash of its key
name and element index (no RNG library, so the fixtures can be rebuilt anywhere); BatchNorm statistics,
norm weights and biases get the small ranges of the recipe, other weights a He-uniform range.
"""
from __future__ import annotations

import zlib
from typing import Mapping

import numpy as np
import torch

_MASK = np.uint64(0xFFFFFFFF)


def hash_uniform(key: str, n: int) -> np.ndarray:
    """``n`` values in [0, 1) from the hash of ``key`` and the element index (float64)."""
    i = np.arange(n, dtype=np.uint64)
    s = np.uint64(zlib.crc32(key.encode()) & 0xFFFFFFFF)
    x = (i * np.uint64(0x9E3779B1) + s * np.uint64(0x85EBCA77) + np.uint64(0x165667B1)) & _MASK
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x2C1B3C6D)) & _MASK
    x ^= x >> np.uint64(12)
    x = (x * np.uint64(0x297A2D39)) & _MASK
    x ^= x >> np.uint64(15)
    return (x >> np.uint64(8)).astype(np.float64) / 2 ** 24


def hashinit_state_dict(shapes: Mapping[str, tuple[tuple[int, ...], str]]) -> dict[str, torch.Tensor]:
    """``{key: (shape, dtype)}`` -> the hashinit-v1 state dict (integer tensors are zeros)."""
    out = {}
    for key, (shape, dtype) in shapes.items():
        shape = tuple(shape)
        n = int(np.prod(shape)) if shape else 1
        if "int" in dtype:
            out[key] = torch.zeros(shape, dtype=getattr(torch, dtype, torch.int64))
            continue
        u = hash_uniform(key, n)
        if key.endswith("running_var"):
            v = 0.5 + u
        elif key.endswith("running_mean"):
            v = (u - 0.5) * 0.5
        elif len(shape) <= 1 and key.endswith("weight"):
            v = 0.75 + 0.5 * u
        elif len(shape) <= 1:
            v = (2 * u - 1) * 0.1
        else:
            v = (2 * u - 1) * np.sqrt(6.0 / np.prod(shape[1:]))
        out[key] = torch.from_numpy(v.astype(np.float32).reshape(shape))
    return out


def manifest_shapes(manifest: Mapping) -> dict[str, tuple[tuple[int, ...], str]]:
    """``{key: (shape, dtype)}`` of a golden ``config_*.json`` / manifest ``keys`` table."""
    return {k: (tuple(v[0]), v[1]) for k, v in manifest["keys"].items()}
