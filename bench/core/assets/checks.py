"""The checks a freshly retrieved file must pass before it may take its name in the asset cache.

* :func:`check_new_file`: the published sha256 when the manifest has one; otherwise the size, the
  sha256 prefix embedded in the official file name, the sha256 recorded locally at the first fetch
  (trust on first use) and the file's magic bytes.  A mismatch is an
  :class:`~bench.core.assets.errors.AssetIntegrityError`; a file that is not the asset at all (an HTML
  page, the wrong format) fails the source with a :class:`~bench.core.assets.errors._SourceFailed`.
* :func:`_format_problem`: why a file does not look like its manifest ``format`` (magic bytes), also
  used by the manager for files placed into the cache by hand.
* :class:`VerifyResult`: the outcome of :meth:`bench.core.assets.manager.AssetManager.verify`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.core.assets.errors import AssetIntegrityError, _SourceFailed
from bench.core.assets.manifest import AssetSpec

_HTML_PREFIXES = (b"<!doctype html", b"<html", b"<head", b"<?xml", b"<body")


def _format_problem(fmt: str, path: Path) -> str | None:
    """Why the file does not look like ``fmt`` (magic bytes), or None.  Used when no sha256 is known."""
    with open(path, "rb") as fh:
        head = fh.read(64)
    if not head:
        return "the file is empty"
    if head.lstrip().lower().startswith(_HTML_PREFIXES):
        return "the file is an HTML page, not the asset (a login, quota or confirmation page?)"
    if fmt in ("torchscript", "npz") and not head.startswith(b"PK\x03\x04"):
        return f"not a {fmt} file (a zip archive was expected)"
    if fmt == "torch" and not (head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"):
        return "not a torch checkpoint (neither a zip archive nor a pickle)"
    if fmt == "safetensors" and not (len(head) > 8 and head[8:9] == b"{"):
        return "not a safetensors file"
    if fmt == "libsvm" and not head.startswith(b"svm_type"):
        return "not a libsvm model file"
    return None


def check_new_file(spec: AssetSpec, tmp: Path, digest: str, size: int, label: str, recorded: str | None) -> None:
    """Verify a freshly retrieved temporary file; raise before it can reach its final name.

    ``recorded``: the sha256 recorded locally at the first fetch of ``spec`` (None when there is none).
    """
    if spec.sha256:
        if digest != spec.sha256:
            raise AssetIntegrityError(
                f"asset {spec.name!r} from {label}: sha256 mismatch, refused: expected {spec.sha256}, got "
                f"{digest} ({size:,} bytes)", name=spec.name, source=label, expected=spec.sha256, actual=digest,
                reason=f"sha256 mismatch (got {digest}), refused")
        return
    if spec.size is not None and size != spec.size:
        raise AssetIntegrityError(
            f"asset {spec.name!r} from {label}: size mismatch, refused: expected {spec.size:,} bytes, got "
            f"{size:,} (sha256 {digest})", name=spec.name, source=label, expected=f"{spec.size} bytes",
            actual=digest, reason=f"size mismatch ({size:,} bytes, expected {spec.size:,}), refused")
    if spec.sha256_prefix and not digest.startswith(spec.sha256_prefix):
        raise AssetIntegrityError(
            f"asset {spec.name!r} from {label}: sha256 {digest} does not start with {spec.sha256_prefix} "
            f"(the prefix in the official file name); refused", name=spec.name, source=label,
            expected=spec.sha256_prefix + "...", actual=digest,
            reason=f"sha256 {digest} lacks the prefix {spec.sha256_prefix}, refused")
    if recorded and digest != recorded:
        raise AssetIntegrityError(
            f"asset {spec.name!r} from {label}: sha256 mismatch, refused: expected {recorded} (recorded locally "
            f"at the first fetch; no sha256 is published), got {digest}. If the upstream file legitimately "
            f"changed, run `bench assets forget {spec.name}` and fetch again.",
            name=spec.name, source=label, expected=recorded, actual=digest,
            reason=f"sha256 {digest} differs from the locally recorded {recorded}, refused")
    problem = _format_problem(spec.format, tmp)
    if problem:
        raise _SourceFailed(problem)


@dataclass
class VerifyResult:
    """Outcome of :meth:`AssetManager.verify`.

    ``state``: ``"verified"`` (matches the published sha256), ``"matches-record"`` (matches the sha256
    recorded at the first fetch), ``"recorded"`` (no reference existed: its sha256 was recorded now),
    ``"mismatch"`` or ``"not-cached"``.
    """

    name: str
    state: str
    path: str
    expected: str | None = None
    actual: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.state in ("verified", "matches-record", "recorded")
