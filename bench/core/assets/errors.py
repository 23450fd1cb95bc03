"""The asset errors shared by the manifest reader, the downloaders and the manager.

* :class:`AssetError` and its subclasses are public (re-exported by :mod:`bench.core.assets`):
  :class:`AssetUnavailableError` (no source delivered the file), :class:`AssetIntegrityError` (a file
  was refused for its sha256 or size) and :class:`UnknownAssetError` (a name not in the manifest).
* :class:`_SourceFailed` is internal: one source could not deliver the file and the manager tries the
  next one (``url``/``pypi``/``path`` retrieval raise it with a short reason).

A malformed manifest is a :class:`bench.core.assets.manifest.ManifestError` (a ``ValueError``).
"""
from __future__ import annotations

import difflib
from typing import Iterable


class AssetError(RuntimeError):
    """Base class of the asset manager's errors."""


class AssetUnavailableError(AssetError):
    """No source could provide the asset; the message says what was tried and how to get the file."""

    def __init__(self, message: str, name: str = "", attempts: Iterable[tuple[str, str]] = (),
                 short: str | None = None) -> None:
        super().__init__(message)
        self.name = name
        self.attempts = list(attempts)
        #: the one-line form the command line prints (the full message with ``--debug`` or ``bench assets``)
        self.short = short or message.splitlines()[0]


class AssetIntegrityError(AssetError):
    """A file's sha256 (or size) differs from the expected one; the file was refused."""

    def __init__(self, message: str, name: str = "", source: str = "", expected: str | None = None,
                 actual: str | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.name, self.source, self.expected, self.actual = name, source, expected, actual
        #: the short form used in "Sources tried" listings
        self.reason = reason or message


class UnknownAssetError(AssetError, KeyError):
    """An asset name that is not in the manifest; the message suggests close matches."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        super().__init__(f"unknown asset {name!r}.{hint} Known assets: {', '.join(known) or '(none)'}")
        self.name = name

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


class _SourceFailed(Exception):
    """One source could not deliver the file (reason in the message); the next source is tried."""
