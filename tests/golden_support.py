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

def hash_uniform(key: str, n: int, chunk: int = 1 << 18) -> np.ndarray:
    """``n`` values in [0, 1) from the hash of ``key`` and the element index (float64).

    The recipe is arithmetic modulo 2**32, so it is computed in ``uint32`` chunks (wrap-around is the
    modulo): bit-identical to a uint64-and-mask transcription, and fast for 100 M+ values.
    """
    base = np.uint32((zlib.crc32(key.encode()) * 0x85EBCA77 + 0x165667B1) & 0xFFFFFFFF)
    out = np.empty(n, np.float64)
    for start in range(0, n, chunk):
        x = np.arange(start, min(n, start + chunk), dtype=np.uint32)
        x *= np.uint32(0x9E3779B1)
        x += base
        x ^= x >> np.uint32(15)
        x *= np.uint32(0x2C1B3C6D)
        x ^= x >> np.uint32(12)
        x *= np.uint32(0x297A2D39)
        x ^= x >> np.uint32(15)
        out[start:start + len(x)] = (x >> np.uint32(8)).astype(np.float64) / 2 ** 24
    return out


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
