"""Which weights and parameter files a run loaded, each with its sha256: part of the run identity.

Why
---
A run's identity (the key under which the result store resumes and compares runs) names the method,
the metrics and their options.  Names are not enough: a weights file replaced in place (a float32 preset
overwritten by a float16 one of the same name, a re-trained ``--weights`` file, another copy staged
through ``FRBENCH_ASSET_<NAME>``) would silently mix two versions under one identity.  So the runner
records every file its components read while they are built and prepared, and puts their sha256 into
the identity::

    from bench.core.provenance import record_files
    with record_files() as files:
        method = build_method(...); metrics = build_metrics(...)
        for m in metrics: getattr(m, "prepare", lambda: None)()   # lazy networks load here
    identity["files"] = files.digests()   # {resolved path: sha256 hex}

Contract for loaders
--------------------
* Every function that reads a weights or parameter file (a torch checkpoint, safetensors, npz, ONNX, a
  dlib predictor, a parameter table ...) calls :func:`note_file` with the path it read, after the read
  succeeded (so that its own "missing file" errors are unchanged).  :mod:`bench.core.checkpoints` and
  :meth:`bench.core.assets.AssetManager.path` already do, so a loader that goes through them needs nothing
  more; noting a file twice is harmless.
* A process-level cache of loaded models goes through :func:`cached`: a cache hit re-notes the files
  the cached object was built from, so a second run in the same process gets the same identity.
* :func:`note_file` does nothing (no hashing, no ``stat``) when no recorder is active, so loaders may
  call it unconditionally.

Recorders are process-wide, not thread-local: a loader may run in a worker thread.  Every active
recorder receives every noted file (nested recorders: the outer one also gets the inner one's files).

The memo
--------
:func:`file_sha256` hashes a file (1 MiB chunks) once per process and file version: the digest is kept
under the file's resolved path together with ``(st_dev, st_ino, st_size, st_mtime_ns)``; a file whose
inode, size or modification time changed (rewritten, replaced by ``os.replace``, edited) is hashed again.
A digest computed while the file changed under it is returned but not memoised.  Like every
``stat``-based cache this trusts the file system's timestamps: a rewrite with the same size within one
timestamp tick, or one that resets ``mtime``, is not seen.

This module imports only the standard library (the bottom layer: anything may import it).
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, TypeVar

__all__ = ["FileRecord", "cached", "file_sha256", "note_file", "record_files", "recording"]

T = TypeVar("T")

#: bytes read at a time when hashing
CHUNK = 1 << 20

_memo: dict[str, tuple[tuple[int, int, int, int], str]] = {}
_memo_lock = threading.Lock()
_active: list[FileRecord] = []
_active_lock = threading.Lock()


def _stat_key(real: str) -> tuple[int, int, int, int]:
    st = os.stat(real)
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _hash(real: str) -> str:
    digest = hashlib.sha256()
    with open(real, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of the file at ``path``, memoised per process and file version (see the module doc).

    Raises ``OSError`` (``FileNotFoundError`` ...) when the file cannot be read.  Thread-safe.
    """
    real = os.path.realpath(os.fspath(path))
    digest = ""
    for _ in range(3):
        key = _stat_key(real)
        with _memo_lock:
            hit = _memo.get(real)
        if hit is not None and hit[0] == key:
            return hit[1]
        digest = _hash(real)
        if _stat_key(real) == key:  # unchanged while it was read: safe to memoise
            with _memo_lock:
                _memo[real] = (key, digest)
            return digest
    return digest  # the file keeps changing: the last digest, not memoised


class FileRecord:
    """The files noted while a :func:`record_files` block was active: resolved path -> sha256."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: dict[str, str] = {}
        self._roles: dict[str, set[str]] = {}
        self._conflicts: dict[str, list[str]] = {}

    def add(self, real: str, digest: str, role: str | None = None) -> None:
        """Record ``real`` (an already resolved path) with ``digest`` (normally done by :func:`note_file`)."""
        with self._lock:
            old = self._files.get(real)
            if old is not None and old != digest:
                seen = self._conflicts.setdefault(real, [old])
                if digest not in seen:
                    seen.append(digest)
            self._files[real] = digest
            roles = self._roles.setdefault(real, set())
            if role:
                roles.add(str(role))

    def digests(self) -> dict[str, str]:
        """``{resolved path: sha256 hex}``, sorted by path (the last digest when a file changed meanwhile)."""
        with self._lock:
            return dict(sorted(self._files.items()))

    def roles(self) -> dict[str, list[str]]:
        """``{resolved path: sorted roles given by the loaders}`` (``"asset:vgg19_imagenet"``, ``"state_dict"``...)."""
        with self._lock:
            return {path: sorted(self._roles.get(path, ())) for path in sorted(self._files)}

    def conflicts(self) -> dict[str, list[str]]:
        """Files noted with more than one digest while recording (changed during the block): path -> digests."""
        with self._lock:
            return {path: list(d) for path, d in sorted(self._conflicts.items())}

    def __len__(self) -> int:
        with self._lock:
            return len(self._files)

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, (str, os.PathLike)):
            return False
        real = os.path.realpath(os.fspath(path))
        with self._lock:
            return real in self._files

    def __repr__(self) -> str:
        return f"FileRecord({self.digests()!r})"


def recording() -> bool:
    """True when at least one :func:`record_files` block is active (in any thread)."""
    return bool(_active)


def _deliver(real: str, digest: str, role: str | None) -> None:
    with _active_lock:
        recorders = list(_active)
    for recorder in recorders:
        recorder.add(real, digest, role)


def note_file(path: str | os.PathLike, role: str | None = None) -> None:
    """Tell the active recorders that ``path`` (a weights/parameter file) was loaded.

    Adds ``realpath -> sha256`` to every active :class:`FileRecord`; ``role`` is a free label kept beside
    it.  Without an active recorder this returns at once (no hashing).  ``OSError`` when the file cannot
    be read (call it after a successful load).
    """
    if not _active:
        return
    real = os.path.realpath(os.fspath(path))
    _deliver(real, file_sha256(real), role)


@contextlib.contextmanager
def record_files() -> Iterator[FileRecord]:
    """Record the files noted (in any thread) while the block runs; blocks may be nested."""
    recorder = FileRecord()
    with _active_lock:
        _active.append(recorder)
    try:
        yield recorder
    finally:
        with _active_lock:
            for i, active in enumerate(_active):
                if active is recorder:
                    del _active[i]
                    break


def _unchanged(files: FileRecord) -> bool:
    """True when every file an object was built from still has the recorded digest (or is gone)."""
    for path, digest in files.digests().items():
        try:
            if file_sha256(path) != digest:
                return False
        except OSError:
            pass  # removed since: the object still is what those bytes gave; keep recording them
    return True


def cached(cache: MutableMapping[Any, Any], key: Any, build: Callable[[], T]) -> T:
    """``build()`` once per ``key`` for a process-level ``cache`` of loaded models, keeping the identity.

    Miss: ``build()`` runs inside its own recorder (the active ones get the files too) and
    ``cache[key] = (object, files)``.  Hit: the stored files are re-checked (a ``stat`` each; a changed
    file is re-hashed) and, unchanged, re-noted into the active recorders, and the cached object is
    returned.  When a file changed in place since, the entry is stale (built from the old bytes): it is
    rebuilt, so object and recorded digest always agree.  A file removed since keeps its recorded digest.
    The values of ``cache`` are ``(object, FileRecord)`` pairs; clear the dict to forget everything.
    """
    entry = cache.get(key)
    if entry is not None:
        obj, files = entry
        if _unchanged(files):
            if _active:
                roles = files.roles()
                for path, digest in files.digests().items():
                    for role in roles.get(path) or [None]:
                        _deliver(path, digest, role)
            return obj
    with record_files() as files:
        obj = build()
    cache[key] = (obj, files)
    return obj
