"""Fixtures for the asset manager tests: a local HTTP server, tiny PyPI artifacts, manifests in tmp.

Nothing here touches the network or the real cache: the root conftest points ``FRBENCH_CACHE`` at a
temporary folder, and every test below passes its own ``cache_dir`` as well.
"""
from __future__ import annotations

import hashlib
import io
import tarfile
import threading
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench.core.assets.manager import OFFLINE_ENV
from bench.core.assets.pypi import PYPI_INDEX_ENV

#: A package index nobody listens on (port 9, discard): pypi sources fail fast unless a test serves one.
UNREACHABLE_INDEX = "http://127.0.0.1:9/simple"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def asset_entry(file: str = "thing.bin", sha: str | None = None, sources: list | None = None,
                fmt: str = "torch", size: int | None = None, **extra) -> dict:
    """A well-formed manifest entry for tests."""
    entry = {
        "description": "A test asset.",
        "licence": "CC0-1.0",
        "sha256": sha,
        "size": size,
        "file": file,
        "format": fmt,
        "provenance": "made by the test",
        "sources": sources or [],
    }
    entry.update(extra)
    return entry


def manifest_of(**assets) -> dict:
    return {"version": 1, "assets": assets}


@pytest.fixture(autouse=True)
def _no_ambient_asset_env(monkeypatch):
    """Tests start online, without per-asset overrides from the developer's shell, and with a package
    index on 127.0.0.1 that does not answer, so that no test reaches the real PyPI by accident."""
    import os

    monkeypatch.delenv(OFFLINE_ENV, raising=False)
    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    monkeypatch.setenv(PYPI_INDEX_ENV, UNREACHABLE_INDEX)
    for key in list(os.environ):
        if key.startswith("FRBENCH_ASSET_"):
            monkeypatch.delenv(key)


@dataclass
class LocalServer:
    """Routes: path -> (status, body, headers). ``hits`` counts requests per path."""

    base: str
    routes: dict = field(default_factory=dict)
    hits: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)  # path -> request headers of the last request

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture
def http_server():
    server_state = LocalServer(base="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server API
            server_state.hits[self.path] = server_state.hits.get(self.path, 0) + 1
            server_state.headers[self.path] = dict(self.headers.items())
            status, body, headers = server_state.routes.get(self.path, (404, b"not found", {}))
            self.send_response(status)
            headers = {"Content-Type": "application/octet-stream", "Content-Length": str(len(body)), **headers}
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # keep test output clean
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


# ----------------------------------------------------------------------------- tiny PyPI artifacts

PAYLOAD = b"\x93NUMPY-like test parameters \x00\x01\x02" * 100
PKG, VER = "frbench-tinyasset", "1.0"
MODULE = "frbench_tinyasset"


def _tar_add(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tf.addfile(info, io.BytesIO(data))


def build_sdist(folder: Path, payload: bytes = PAYLOAD, extra: dict[str, bytes] | None = None) -> Path:
    """A minimal PEP 517 sdist (setuptools backend) with a data member; ``extra`` adds or replaces files
    (paths relative to the top-level folder)."""
    top = f"{MODULE}-{VER}"
    pyproject = (
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "{PKG}"\nversion = "{VER}"\n\n'
        f'[tool.setuptools]\npackages = ["{MODULE}"]\n'
    ).encode()
    pkg_info = f"Metadata-Version: 2.1\nName: {PKG}\nVersion: {VER}\n".encode()
    files = {"pyproject.toml": pyproject, "PKG-INFO": pkg_info, f"{MODULE}/__init__.py": b"",
             f"{MODULE}/data/params.bin": payload, **(extra or {})}
    path = folder / f"{MODULE}-{VER}.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for name, data in files.items():
            _tar_add(tf, f"{top}/{name}", data)
    return path


def build_wheel(folder: Path, payload: bytes = PAYLOAD) -> Path:
    """A minimal pure-Python wheel with a data member."""
    dist_info = f"{MODULE}-{VER}.dist-info"
    files = {
        f"{MODULE}/__init__.py": b"",
        f"{MODULE}/data/params.bin": payload,
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {PKG}\nVersion: {VER}\n".encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: frbench-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{name},,\n" for name in files) + f"{dist_info}/RECORD,,\n"
    files[f"{dist_info}/RECORD"] = record.encode()
    path = folder / f"{MODULE}-{VER}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


@pytest.fixture(scope="session")
def tiny_dists(tmp_path_factory):
    """Folder with one sdist and one wheel of frbench-tinyasset 1.0, both holding PAYLOAD."""
    folder = tmp_path_factory.mktemp("dists")
    sdist, wheel = build_sdist(folder), build_wheel(folder)
    return {"dir": folder, "sdist": sdist, "wheel": wheel,
            "sdist_sha256": sha256(sdist.read_bytes()), "wheel_sha256": sha256(wheel.read_bytes())}
