"""Per-image vectors of set-level metrics as store rows: encoding, the rows a batch adds, id-set digests.

A vector (an Inception feature, an attribute prediction) is stored as plain little-endian bytes with its
dtype and shape (``numpy.frombuffer`` reads it back: no pickle, nothing executed).  A batch adds
:class:`SetRows`: restored-side vectors per sample, HQ-side vectors per HQ content, and the samples each
metric now covers.  :func:`ids_digest` names a set of sample ids (the ids a stored set-level value covers).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np


def ids_digest(sample_ids: Iterable[str]) -> str:
    """sha256 (16 hex digits) of a set of sample ids, independent of their order."""
    digest = hashlib.sha256()
    for sample_id in sorted(set(sample_ids)):
        digest.update(sample_id.encode("utf-8") + b"\0")
    return digest.hexdigest()[:16]


def encode_vector(array: np.ndarray) -> tuple[str, str, bytes]:
    """``(dtype, shape, bytes)`` of one per-image vector (little-endian, C order): plain data, no pickle."""
    array = np.ascontiguousarray(array)
    dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
    if dtype.kind not in "fiub":
        raise TypeError(f"vectors must be numeric arrays, got dtype {array.dtype}")
    return dtype.str, json.dumps(list(array.shape)), array.astype(dtype, copy=False).tobytes()


def decode_vector(dtype: str, shape: str, data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.dtype(dtype)).reshape(json.loads(shape))


@dataclass
class SetRows:
    """What a batch adds for the set-level metrics: vectors (restored side per sample, HQ side per
    content), the members (samples a metric now covers) and the samples it failed on (with the cause)."""

    vectors: list[tuple[str, str, np.ndarray]] = field(default_factory=list)      # (sample, channel, array)
    ref_vectors: list[tuple[str, str, np.ndarray]] = field(default_factory=list)  # (channel, content, array)
    members: list[tuple[str, str, str | None]] = field(default_factory=list)      # (metric, sample, error)

    def extend(self, other: "SetRows") -> None:
        self.vectors += other.vectors
        self.ref_vectors += other.ref_vectors
        self.members += other.members
