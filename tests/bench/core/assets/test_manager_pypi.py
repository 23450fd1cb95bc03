"""PyPI sources: members of an sdist or a wheel read through a package index's Simple API.

A local HTTP server (127.0.0.1, port 0, in a thread; ``http_server`` in conftest) plays the index: it
serves a project page as PEP 691 JSON or as PEP 503 HTML plus the tiny sdist and wheel built by the
fixtures, and ``FRBENCH_PYPI_INDEX`` points the manager at it.  One test, marked ``network``, fetches the
real NIQE parameters from PyPI when ``FRBENCH_NETWORK_TESTS=1``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from bench.core.assets import AssetIntegrityError, AssetManager, AssetUnavailableError
from bench.core.checkpoints import load_npz
from bench.core.assets import manager as manager_module
from bench.core.assets import pypi as pypi_module
from bench.core.assets.pypi import (
    DEFAULT_PYPI_INDEX,
    PYPI_INDEX_ENV,
    _IndexFile,
    _parse_simple_html,
    _parse_simple_json,
    _pick_index_file,
    normalize_project_name,
    pypi_index_url,
)

from tests.bench.core.assets.conftest import MODULE, PAYLOAD, PKG, VER, asset_entry, build_sdist, manifest_of, sha256

MEMBER = f"{MODULE}/data/params.bin"
OLD_SDIST = f"{MODULE}-0.9.tar.gz"
WIN_WHEEL = f"{MODULE}-{VER}-cp27-cp27m-win32.whl"


def serve_index(server, style: str, files: dict[str, bytes], project: str = PKG,
                listed: dict[str, str] | None = None, urls: dict[str, str] | None = None) -> str:
    """Serve ``/simple/<project>/`` listing ``files`` (name -> bytes, served at ``/files/<name>``).

    ``style`` is ``json`` (PEP 691; links relative to the page, ``../../files/NAME``) or ``html`` (PEP 503;
    links relative to the host root, ``/files/NAME#sha256=...``).  ``listed`` overrides the sha256 the
    index gives for a file (``""``: no hash at all), ``urls`` its link.  Returns the page's path.
    """
    listed, urls = listed or {}, urls or {}
    rows = []
    for name, data in files.items():
        server.routes[f"/files/{name}"] = (200, data, {})
        link = urls.get(name, f"../../files/{name}" if style == "json" else f"/files/{name}")
        rows.append((name, link, listed.get(name, sha256(data)), len(data)))
    page = f"/simple/{normalize_project_name(project)}/"
    if style == "json":
        body = json.dumps({"meta": {"api-version": "1.1"}, "name": normalize_project_name(project),
                           "versions": [], "files": [{"filename": n, "url": u, "hashes": {"sha256": h} if h else {},
                                                      "size": s} for n, u, h, s in rows]}).encode()
        ctype = "application/vnd.pypi.simple.v1+json"
    else:
        anchors = "\n".join(f'    <a href="{u}{"#sha256=" + h if h else ""}">{n}</a><br/>' for n, u, h, _ in rows)
        body = (f'<!DOCTYPE html>\n<html>\n  <head>\n    <meta name="pypi:repository-version" content="1.1">\n'
                f'    <title>Links for {project}</title>\n  </head>\n  <body>\n    <h1>Links for {project}</h1>\n'
                f'{anchors}\n  </body>\n</html>\n').encode()
        ctype = "text/html; charset=utf-8"
    server.routes[page] = (200, body, {"Content-Type": ctype})
    return page


@pytest.fixture(params=["json", "html"])
def index(request, http_server, tiny_dists, monkeypatch):
    """The local index, once as PEP 691 JSON and once as PEP 503 HTML, serving frbench-tinyasset."""
    monkeypatch.setenv(PYPI_INDEX_ENV, http_server.url("/simple"))
    files = {tiny_dists["sdist"].name: tiny_dists["sdist"].read_bytes(),
             tiny_dists["wheel"].name: tiny_dists["wheel"].read_bytes(),
             OLD_SDIST: b"an older release", WIN_WHEEL: b"a platform wheel that does not fit here"}

    def publish(**kwargs):
        return serve_index(http_server, request.param, {**files, **kwargs.pop("files", {})}, **kwargs)

    return SimpleNamespace(server=http_server, style=request.param, page=publish(), publish=publish,
                           files=files, **tiny_dists)


def _pypi(artifact: str, member: str = MEMBER, package: str = f"{PKG}=={VER}", **extra) -> dict:
    return {"kind": "pypi", "package": package, "artifact": artifact, "member": member, **extra}


def _cache_files(cache) -> list[str]:
    return sorted(p.name for p in cache.rglob("*") if p.is_file()) if cache.exists() else []


def test_sdist_member_is_fetched_from_the_index_and_verified(tmp_path, index):
    manifest = manifest_of(params=asset_entry(
        "params.bin", sha256(PAYLOAD), [_pypi("sdist", archive_sha256=index.sdist_sha256)], size=len(PAYLOAD)))
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=False)
    path = manager.path("params")
    assert path.read_bytes() == PAYLOAD
    assert manager.records()["params"]["source"] == f"pypi {PKG}=={VER} sdist member {MEMBER}"
    assert _cache_files(tmp_path / "cache") == ["params.bin", "records.json"]
    server = index.server
    assert server.headers[index.page]["Accept"].startswith("application/vnd.pypi.simple.v1+json")
    assert server.hits[f"/files/{index.sdist.name}"] == 1
    assert server.hits.get(f"/files/{OLD_SDIST}", 0) == 0 and server.hits.get(f"/files/{index.wheel.name}", 0) == 0


def test_wheel_member_is_fetched_with_a_progress_bar(tmp_path, index, capsys):
    manifest = manifest_of(params=asset_entry(
        "params.bin", sha256(PAYLOAD), [_pypi("wheel", archive_sha256=index.wheel_sha256)]))
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=True)
    assert manager.fetch("params").read_bytes() == PAYLOAD
    assert f"params (pypi {PKG}=={VER})" in capsys.readouterr().err
    assert index.server.hits[f"/files/{index.wheel.name}"] == 1
    assert index.server.hits.get(f"/files/{WIN_WHEEL}", 0) == 0  # the pure-Python wheel is preferred


def test_names_are_normalised_for_the_page_and_the_files(tmp_path, index):
    # the manifest may spell the project differently; the page is /simple/frbench-tinyasset/ and the
    # sdist on it is frbench_tinyasset-1.0.tar.gz
    manifest = manifest_of(params=asset_entry("params.bin", sha256(PAYLOAD), [
        _pypi("sdist", package=f"FRBench_TinyAsset=={VER}")]))
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=False)
    assert manager.fetch("params").read_bytes() == PAYLOAD
    assert index.server.hits[index.page] == 1


def test_archive_that_does_not_match_the_index_hash_is_refused(tmp_path, index):
    wrong = sha256(b"what the index claims")
    index.publish(listed={index.sdist.name: wrong})
    manifest = manifest_of(params=asset_entry("params.bin", sha256(PAYLOAD), [_pypi("sdist")]))
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=False)
    with pytest.raises(AssetIntegrityError) as info:
        manager.fetch("params")
    err = info.value
    assert (err.expected, err.actual) == (wrong, index.sdist_sha256)
    message = str(err)
    assert "'params'" in message and index.sdist.name in message and "the index" in message
    assert wrong in message and index.sdist_sha256 in message and "Nothing was written to the cache." in message
    assert index.server.hits[f"/files/{index.sdist.name}"] == 1
    assert _cache_files(tmp_path / "cache") == []


def test_manifest_archive_sha256_mismatch_is_refused_before_downloading(tmp_path, index):
    pinned = "0" * 64
    manifest = manifest_of(params=asset_entry("params.bin", sha256(PAYLOAD), [
        _pypi("wheel", archive_sha256=pinned)]))
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=False)
    with pytest.raises(AssetIntegrityError) as info:
        manager.fetch("params")
    assert (info.value.expected, info.value.actual) == (pinned, index.wheel_sha256)
    message = str(info.value)
    assert "archive_sha256" in message and pinned in message and index.wheel_sha256 in message
    assert index.server.hits.get(f"/files/{index.wheel.name}", 0) == 0
    assert _cache_files(tmp_path / "cache") == []


def test_archive_not_matching_the_manifest_is_refused_when_the_index_lists_no_hash(tmp_path, index):
    # an index that lists no hash at all: the manifest's archive_sha256 alone decides
    index.publish(listed={index.sdist.name: ""})
    pinned = sha256(b"the sdist the manifest was written for")
    manifest = manifest_of(params=asset_entry("params.bin", sha256(PAYLOAD), [
        _pypi("sdist", archive_sha256=pinned)]))
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=False)
    with pytest.raises(AssetIntegrityError, match=f"archive_sha256 says {pinned}.*expected {pinned}, got "
                                                  f"{index.sdist_sha256}"):
        manager.fetch("params")
    assert _cache_files(tmp_path / "cache") == []


def test_member_sha256_mismatch_is_refused(tmp_path, index):
    wrong = sha256(b"not the payload")
    manifest = manifest_of(params=asset_entry("params.bin", wrong, [_pypi("wheel")]))
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=False)
    with pytest.raises(AssetIntegrityError) as info:
        manager.fetch("params")
    message = str(info.value)
    assert "'params'" in message and f"pypi {PKG}=={VER} wheel" in message
    assert wrong in message and sha256(PAYLOAD) in message
    assert _cache_files(tmp_path / "cache") == []


def test_version_not_on_the_index_lists_the_files_seen(tmp_path, index):
    manifest = manifest_of(
        sdist=asset_entry("s.bin", sha256(PAYLOAD), [_pypi("sdist", package=f"{PKG}==2.0")]),
        wheel=asset_entry("w.bin", sha256(PAYLOAD), [_pypi("wheel", package=f"{PKG}==2.0")]))
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=False)
    for name, artifact in (("sdist", "sdist"), ("wheel", "wheel")):
        with pytest.raises(AssetUnavailableError) as info:
            manager.fetch(name)
        message = str(info.value)
        assert f"no {artifact} of {PKG}==2.0 on the index page {index.server.url(index.page)}" in message
        assert "files seen (4): " in message
        assert all(fname in message for fname in index.files)
        assert "pip download --no-deps" in message and f"https://pypi.org/project/{PKG}/2.0/#files" in message
    assert not any(path.startswith("/files/") for path in index.server.hits)


def test_missing_member_and_missing_project_are_reported(tmp_path, index):
    manifest = manifest_of(
        nomember=asset_entry("x.bin", sha256(PAYLOAD), [_pypi("wheel", member=f"{MODULE}/data/paramz.bin")]),
        nopkg=asset_entry("y.bin", sha256(PAYLOAD), [_pypi("wheel", package="frbench-no-such-package==9.9",
                                                           member="a/b.bin")]))
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=False)
    with pytest.raises(AssetUnavailableError, match=r"no member 'frbench_tinyasset/data/paramz.bin'.*close: "
                                                    r"frbench_tinyasset/data/params.bin"):
        manager.fetch("nomember")
    with pytest.raises(AssetUnavailableError, match=r"frbench-no-such-package is not on the package index "
                                                    r"http://127\.0\.0\.1:\d+/simple .*HTTP 404"):
        manager.fetch("nopkg")
    assert _cache_files(tmp_path / "cache") == []


def test_non_http_links_and_indexes_are_refused(tmp_path, index, monkeypatch):
    index.publish(urls={index.wheel.name: "file:///etc/passwd"})
    manifest = manifest_of(params=asset_entry("params.bin", sha256(PAYLOAD), [_pypi("wheel")]))
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=False)
    with pytest.raises(AssetUnavailableError, match=r"links frbench_tinyasset-1\.0-py3-none-any\.whl to a "
                                                    r"non-http\(s\) URL"):
        manager.fetch("params")
    monkeypatch.setenv(PYPI_INDEX_ENV, f"file://{tmp_path}/simple")
    with pytest.raises(AssetUnavailableError, match=r"is not an http\(s\) URL.*FRBENCH_PYPI_INDEX"):
        manager.fetch("params")


def test_offline_mode_skips_the_index(tmp_path, index, monkeypatch):
    monkeypatch.setenv("FRBENCH_OFFLINE", "1")
    manifest = manifest_of(params=asset_entry("params.bin", sha256(PAYLOAD), [_pypi("sdist")]))
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=False)
    with pytest.raises(AssetUnavailableError, match="skipped: offline mode"):
        manager.fetch("params")
    assert index.server.hits == {}


SETUP_PY = """\
import pathlib
pathlib.Path({marker!r}).write_text("setup.py ran")
from setuptools import setup
setup()
"""
INIT_PY = "import pathlib\npathlib.Path({marker!r}).write_text('the package was imported')\n"


def test_nothing_in_the_sdist_is_executed(tmp_path, http_server, monkeypatch):
    marker = tmp_path / "marker"
    setup_code = SETUP_PY.format(marker=str(marker))
    sdist = build_sdist(tmp_path, extra={"setup.py": setup_code.encode(),
                                         f"{MODULE}/__init__.py": INIT_PY.format(marker=str(marker)).encode()})
    monkeypatch.setenv(PYPI_INDEX_ENV, http_server.url("/simple"))
    serve_index(http_server, "json", {sdist.name: sdist.read_bytes()})

    def refuse(*args, **kwargs):
        raise AssertionError(f"a process was started: {args}")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(os, "system", refuse)
    manifest = manifest_of(params=asset_entry("params.bin", sha256(PAYLOAD), [
        _pypi("sdist", archive_sha256=sha256(sdist.read_bytes()))]))
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=False)
    assert manager.fetch("params").read_bytes() == PAYLOAD
    assert not marker.exists()
    assert MODULE not in sys.modules
    assert not (tmp_path / "cache" / "params" / MODULE).exists()
    # the probe works: running the sdist's setup.py would have left the marker
    exec(compile(setup_code.split("from setuptools")[0], "setup.py", "exec"), {})
    assert marker.read_text() == "setup.py ran"


def test_index_url_comes_from_the_environment_then_pip_then_the_default(monkeypatch):
    monkeypatch.setenv(PYPI_INDEX_ENV, "https://mirror.example/simple/")
    monkeypatch.setenv("PIP_INDEX_URL", "https://pip-env.example/simple")
    assert pypi_index_url() == ("https://mirror.example/simple/", PYPI_INDEX_ENV)
    monkeypatch.delenv(PYPI_INDEX_ENV)
    assert pypi_index_url() == ("https://pip-env.example/simple", "PIP_INDEX_URL")
    monkeypatch.delenv("PIP_INDEX_URL")
    monkeypatch.setattr(pypi_module, "_pip_config_index_url", lambda: "https://pip-conf.example/simple")
    assert pypi_index_url() == ("https://pip-conf.example/simple", "pip config global.index-url")
    monkeypatch.setattr(pypi_module, "_pip_config_index_url", lambda: None)
    assert pypi_index_url() == (DEFAULT_PYPI_INDEX, "default") == ("https://pypi.org/simple", "default")


def _files(*names: str) -> list[_IndexFile]:
    return [_IndexFile(name, f"https://files.example/{name}", None) for name in names]


def test_sdist_selection_follows_pep_503_normalisation():
    page = "https://index.example/simple/frbench-tinyasset/"
    pick = lambda names, package=f"{PKG}=={VER}": _pick_index_file(_files(*names), package, "sdist", page).filename
    assert pick(["frbench_tinyasset-1.0.zip", "FRBench.TinyAsset-1.0.tar.gz"]) == "FRBench.TinyAsset-1.0.tar.gz"
    assert pick(["frbench-tinyasset-1.0.zip", "frbench_tinyasset-1.0-py3-none-any.whl"]) == "frbench-tinyasset-1.0.zip"
    assert pick(["frbench_tinyasset-1.0.0.tar.gz", "frbench_tinyasset-1.0.tar.gz"]) == "frbench_tinyasset-1.0.tar.gz"
    for wrong in (["frbench_tinyasset-1.0.1.tar.gz"], ["frbench_tinyasset_extra-1.0.tar.gz"],
                  ["frbench_tinyasset-1.0-py3-none-any.whl"], ["tinyasset-1.0.tar.gz"]):
        with pytest.raises(manager_module._SourceFailed, match="no sdist of .*files seen"):
            pick(wrong)


def test_wheel_selection_prefers_pure_python_then_this_interpreter(monkeypatch):
    page = "https://index.example/simple/frbench-tinyasset/"
    pick = lambda names: _pick_index_file(_files(*names), f"{PKG}=={VER}", "wheel", page).filename
    pure = f"{MODULE}-{VER}-py2.py3-none-any.whl"
    foreign = f"{MODULE}-{VER}-cp27-cp27m-win32.whl"
    assert pick([foreign, f"{MODULE}-1.1-py3-none-any.whl", pure]) == pure
    assert pick([f"FRBench_TinyAsset-{VER}-1-py3-none-any.whl"]) == f"FRBench_TinyAsset-{VER}-1-py3-none-any.whl"
    with pytest.raises(manager_module._SourceFailed, match="fits this interpreter.*cp27-cp27m-win32"):
        pick([foreign])
    tags = pytest.importorskip("packaging.tags")
    best = next(iter(tags.sys_tags()))
    native = f"{MODULE}-{VER}-{best.interpreter}-{best.abi}-{best.platform}.whl"
    assert pick([foreign, native]) == native
    monkeypatch.setitem(sys.modules, "packaging.tags", None)  # as if packaging were not installed
    with pytest.raises(manager_module._SourceFailed, match="needs the 'packaging' module"):
        pick([foreign, native])
    assert pick([native, pure]) == pure  # a pure-Python wheel needs no tag matching


def test_simple_pages_are_parsed_with_relative_links_and_hashes():
    page = "https://index.example/simple/frbench-tinyasset/"
    digest = "ab" * 32
    html_files = _parse_simple_html(
        f'<html><body><a href="../../packages/x/frbench_tinyasset-1.0.tar.gz#sha256={digest.upper()}" '
        f'data-requires-python="&gt;=3.8">frbench_tinyasset-1.0.tar.gz</a><br/>'
        f'<a href="https://cdn.example/a.whl?x=1&amp;y=2#md5=00">a.whl</a></body></html>', page)
    assert html_files == [
        _IndexFile("frbench_tinyasset-1.0.tar.gz", "https://index.example/packages/x/frbench_tinyasset-1.0.tar.gz",
                   digest),
        _IndexFile("a.whl", "https://cdn.example/a.whl?x=1&y=2", None)]
    json_files = _parse_simple_json(json.dumps({"meta": {"api-version": "1.0"}, "files": [
        {"filename": "frbench_tinyasset-1.0.tar.gz", "url": "/p/frbench_tinyasset-1.0.tar.gz",
         "hashes": {"sha256": digest}, "size": 10}]}), page)
    assert json_files == [_IndexFile("frbench_tinyasset-1.0.tar.gz",
                                     "https://index.example/p/frbench_tinyasset-1.0.tar.gz", digest, 10)]
    with pytest.raises(manager_module._SourceFailed, match="Simple API version 2.0"):
        _parse_simple_json(json.dumps({"meta": {"api-version": "2.0"}, "files": []}), page)


@pytest.mark.network
@pytest.mark.skipif(os.environ.get("FRBENCH_NETWORK_TESTS") != "1", reason="set FRBENCH_NETWORK_TESTS=1 to reach PyPI")
def test_real_niqe_parameters_from_pypi(tmp_path, monkeypatch):
    monkeypatch.delenv(PYPI_INDEX_ENV)  # the real index: pip's index-url, else https://pypi.org/simple
    manager = AssetManager(cache_dir=tmp_path / "cache", progress=False)
    path = manager.fetch("niqe_pris_params")
    assert manager.verify("niqe_pris_params").state == "verified"
    params = load_npz(path, keys=["mu_pris_param", "cov_pris_param", "gaussian_window"])
    assert params["mu_pris_param"].shape == (1, 36) and params["cov_pris_param"].shape == (36, 36)
    assert np.allclose(params["cov_pris_param"], params["cov_pris_param"].T)
