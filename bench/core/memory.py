"""Flat resident memory over long runs: the C allocator's settings and returning freed pages between batches.

Why
---
A run processes thousands of batches whose large temporaries (Inception activations of 20-100 MB, image
batches, metric buffers) are freed after every batch, interleaved with small long-lived allocations (store
rows, caches, Python objects).  glibc's ``malloc`` serves requests above ``M_MMAP_THRESHOLD`` with their own
``mmap`` (returned to the system on ``free``) and everything else from its heaps, whose freed pages stay
resident until the top of a heap is free.  Its *dynamic* threshold rises to the size of every freed mmapped
block (up to 32 MB), so after the first batches most activations come from the heaps, where small
survivors pin them: the resident size creeps up with the number of batches.  Measured with all six metrics
of the speed benchmark (bicubic x8, 1,000 UTKFace faces repeated 3 times, RSS sampled every second):
without any of this RSS climbed from ~1,130 MB to ~1,380 MB and peaked at 1,631 MB; with a fixed 1 MiB
mmap threshold and ``malloc_trim`` between batches it stayed at 950-1,000 MB, peak 1,265 MB
(``docs/speed.md``).

What
----
* :func:`release_free_memory` (between batches, always): ``malloc_trim(0)``, which gives the free pages
  inside the heaps back to the system.  It costs nothing measurable (1,000 faces, all six metrics: 165.8 s
  with and without);
* :func:`configure_allocator` (once per process, opt-in: :data:`bench.core.defaults.DEFAULTS`
  ``"malloc_mmap_threshold"``, default ``None``): a fixed ``M_MMAP_THRESHOLD`` in bytes, which also turns
  the dynamic adjustment off, and ``M_TRIM_THRESHOLD`` to the same value.  With 1 MiB every large tensor is
  a fresh ``mmap``, whose page faults cost 28 % on 300 faces and 44 % on 1,000 (236 s against 164 s):
  the flattest memory, but too slow for a default.

Both only act with glibc (Linux); elsewhere they do nothing and say so in :func:`allocator_settings`.
They change where memory comes from, never a computed value.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys
from typing import Any

#: glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

_STATE: dict[str, Any] = {"configured": None}


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:  # pragma: no cover - no C library to talk to
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


def configure_allocator(mmap_threshold: int | None) -> dict[str, Any]:
    """Fix glibc's mmap and trim thresholds at ``mmap_threshold`` bytes (``None``: leave the allocator alone).

    Idempotent per process; returns :func:`allocator_settings`."""
    if mmap_threshold is not None and _STATE["configured"] != int(mmap_threshold):
        libc = _libc()
        if libc is not None:
            ok = libc.mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold)) and libc.mallopt(_M_TRIM_THRESHOLD,
                                                                                     int(mmap_threshold))
            _STATE["configured"] = int(mmap_threshold) if ok else None
    return allocator_settings()


def release_free_memory() -> bool:
    """Return the free pages of the C heaps to the system (glibc ``malloc_trim(0)``); ``True`` if any were."""
    libc = _libc()
    return bool(libc.malloc_trim(0)) if libc is not None else False


def allocator_settings() -> dict[str, Any]:
    """What :func:`configure_allocator` set in this process (for run records and benchmarks)."""
    libc = _libc()
    return {"allocator": "glibc" if libc is not None else "unmanaged (not glibc)",
            "mmap_threshold": _STATE["configured"], "trim_between_batches": libc is not None}
