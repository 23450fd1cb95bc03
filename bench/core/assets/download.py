"""HTTP(S) downloads into a hashing writer: the transport of ``url`` sources and of PyPI archives.

:func:`download` GETs a URL with urllib (socket timeout ``FRBENCH_DOWNLOAD_TIMEOUT`` seconds, default 60;
redirects followed only to http(s) URLs; an HTML answer is refused; at most ``limit`` bytes) into a
:class:`_HashingWriter`, which computes the sha256 and size of everything written while the bytes go to
their temporary file, with a tqdm progress bar on stderr.  Every failure becomes a
:class:`~bench.core.assets.errors._SourceFailed` with a short reason (HTTP status, timeout, unreachable
host, interrupted transfer), so that the manager can try the next source.
"""
from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import BinaryIO

from bench.core.assets.errors import _SourceFailed

#: Socket timeout in seconds for URL downloads.
TIMEOUT_ENV = "FRBENCH_DOWNLOAD_TIMEOUT"

DEFAULT_TIMEOUT = 60.0
_CHUNK = 1 << 20
_USER_AGENT = "frbench-asset-manager (python-urllib)"


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, "") or default)
    except ValueError:
        return default


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


def download(url: str, writer: _HashingWriter, desc: str, total: int | None = None, limit: int | None = None,
             html_problem: str = "the server returned an HTML page, not the file", progress: bool = True) -> None:
    """GET ``url`` into ``writer`` (progress bar ``desc`` when ``progress``; ``total`` when no Content-Length; at
    most ``limit`` bytes); redirects only to http(s); every failure is a :class:`_SourceFailed` with a short reason."""
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
            with _progress_bar(size, desc, progress) as bar:
                _copy_stream(resp, writer, bar, limit=limit)
