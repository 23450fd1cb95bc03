"""bench.core.provenance: the weights/parameter files a run loads, with their sha256, for the run identity."""
from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from bench.core import provenance
from bench.core.provenance import cached, file_sha256, note_file, record_files, recording


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _rewrite_in_place(path: Path, data: bytes) -> None:
    """Other bytes in the same file (same inode), with a bumped mtime so the test does not depend on the
    file system's timestamp granularity."""
    st = path.stat()
    with open(path, "r+b") as fh:
        fh.truncate(0)
        fh.write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


# ----------------------------------------------------------------------------------------- recorders


def test_a_recorder_gets_the_realpath_and_sha256_of_a_file_noted_inside_it(tmp_path):
    weights = _write(tmp_path / "w.bin", b"weights v1" * 1000)
    link = tmp_path / "link.bin"
    link.symlink_to(weights)
    assert not recording()
    with record_files() as files:
        assert recording()
        note_file(link, "test")
    assert not recording()
    assert files.digests() == {os.path.realpath(weights): _sha(weights)}
    assert files.digests()[os.path.realpath(weights)] == hashlib.sha256(b"weights v1" * 1000).hexdigest()
    assert files.roles() == {os.path.realpath(weights): ["test"]}
    assert weights in files and link in files and len(files) == 1


def test_nothing_is_recorded_outside_a_recorder_and_nothing_is_hashed(tmp_path, monkeypatch):
    weights = _write(tmp_path / "w.bin", b"abc")
    monkeypatch.setattr(provenance, "_hash", lambda real: pytest.fail("hashed without a recorder"))
    note_file(weights)                       # no recorder: returns at once
    note_file(tmp_path / "does-not-exist")   # not even a stat
    with record_files() as files:
        pass
    note_file(weights)
    assert files.digests() == {}


def test_nested_recorders_both_get_the_files(tmp_path):
    a, b = _write(tmp_path / "a.bin", b"a"), _write(tmp_path / "b.bin", b"b")
    with record_files() as outer:
        note_file(a)
        with record_files() as inner:
            note_file(b)
    assert inner.digests() == {str(b.resolve()): _sha(b)}
    assert outer.digests() == {str(a.resolve()): _sha(a), str(b.resolve()): _sha(b)}
    assert list(outer.digests()) == sorted(outer.digests())


def test_a_file_noted_in_a_worker_thread_reaches_the_recorder(tmp_path):
    weights = _write(tmp_path / "w.bin", b"from a thread")
    with record_files() as files:
        worker = threading.Thread(target=note_file, args=(weights,))
        worker.start()
        worker.join()
    assert files.digests() == {str(weights.resolve()): _sha(weights)}


# ---------------------------------------------------------------------------------------------- memo


def test_digest_equals_hashlib_and_is_memoised(tmp_path, monkeypatch):
    data = os.urandom(3 * provenance.CHUNK + 17)  # several chunks
    weights = _write(tmp_path / "big.bin", data)
    assert file_sha256(weights) == hashlib.sha256(data).hexdigest()
    monkeypatch.setattr(provenance, "_hash", lambda real: pytest.fail("hashed twice"))
    assert file_sha256(weights) == hashlib.sha256(data).hexdigest()


def test_a_file_rewritten_in_place_gets_a_new_digest(tmp_path):
    weights = _write(tmp_path / "preset.safetensors", b"float32 " * 64)
    with record_files() as first:
        note_file(weights)
    _rewrite_in_place(weights, b"float16 " * 32)
    with record_files() as second:
        note_file(weights)
    key = str(weights.resolve())
    assert first.digests()[key] == hashlib.sha256(b"float32 " * 64).hexdigest()
    assert second.digests()[key] == hashlib.sha256(b"float16 " * 32).hexdigest()
    assert first.digests() != second.digests()


def test_a_file_replaced_by_another_one_gets_a_new_digest(tmp_path):
    weights = _write(tmp_path / "w.bin", b"old")
    assert file_sha256(weights) == hashlib.sha256(b"old").hexdigest()
    _write(tmp_path / "new.bin", b"new")
    os.replace(tmp_path / "new.bin", weights)  # another inode under the same name
    assert file_sha256(weights) == hashlib.sha256(b"new").hexdigest()


def test_a_file_that_changed_while_recording_is_reported_as_a_conflict(tmp_path):
    weights = _write(tmp_path / "w.bin", b"one")
    with record_files() as files:
        note_file(weights)
        _rewrite_in_place(weights, b"two")
        note_file(weights)
    key = str(weights.resolve())
    assert files.digests() == {key: hashlib.sha256(b"two").hexdigest()}
    assert files.conflicts() == {key: [hashlib.sha256(b"one").hexdigest(), hashlib.sha256(b"two").hexdigest()]}


# -------------------------------------------------------------------------------------------- cached


def test_cached_builds_once_and_renotes_the_files_on_a_hit(tmp_path):
    weights = _write(tmp_path / "model.bin", b"model weights")
    cache: dict = {}
    calls = []

    def build():
        calls.append(1)
        note_file(weights, "model")
        return object()

    with record_files() as first:
        model = cached(cache, "k", build)
    with record_files() as second:
        again = cached(cache, "k", build)
    assert again is model and len(calls) == 1
    expected = {str(weights.resolve()): _sha(weights)}
    assert first.digests() == expected and second.digests() == expected
    assert second.roles() == {str(weights.resolve()): ["model"]}
    assert cached(cache, "k", build) is model  # a hit without any recorder
    assert len(calls) == 1


def test_cached_rebuilds_when_a_file_changed_in_place(tmp_path):
    weights = _write(tmp_path / "model.bin", b"v1")
    cache: dict = {}

    def build():
        note_file(weights)
        return weights.read_bytes()

    assert cached(cache, "k", build) == b"v1"
    _rewrite_in_place(weights, b"v2")
    with record_files() as files:
        assert cached(cache, "k", build) == b"v2"  # the stale object is not handed out
    assert files.digests() == {str(weights.resolve()): hashlib.sha256(b"v2").hexdigest()}


def test_cached_does_not_store_a_failed_build():
    cache: dict = {}

    def build():
        raise RuntimeError("no weights")

    with pytest.raises(RuntimeError):
        cached(cache, "k", build)
    assert cache == {}


# ------------------------------------------------------------------------------------ load sites


def test_safe_load_notes_what_it_loads(tmp_path):
    import torch
    from safetensors.torch import save_file

    from bench.core.checkpoints import load_npz, load_state_dict

    st = tmp_path / "w.safetensors"
    save_file({"w": torch.ones(2)}, str(st))
    pth = tmp_path / "w.pth"
    torch.save({"params_ema": {"w": torch.zeros(3)}}, pth)
    npz = tmp_path / "p.npz"
    np.savez(npz, a=np.arange(3))
    with record_files() as files:
        load_state_dict(st)
        load_state_dict(pth, key="params_ema")
        load_npz(npz)
    assert files.digests() == {str(p.resolve()): _sha(p) for p in sorted((st, pth, npz))}


def test_the_asset_manager_notes_the_path_it_hands_out(tmp_path):
    from bench.core.assets import AssetManager

    source = _write(tmp_path / "src.bin", b"\x00parameters")
    manifest = {"version": 1, "assets": {"thing": {
        "description": "A test asset.", "licence": "CC0-1.0", "sha256": _sha(source), "size": None,
        "file": "thing.bin", "format": "text", "provenance": "made by the test",
        "sources": [{"kind": "path", "path": str(source)}]}}}
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=False)
    with record_files() as files:
        path = manager.path("thing")
    assert files.digests() == {str(path.resolve()): _sha(source)}
    assert files.roles()[str(path.resolve())] == ["asset:thing"]


def test_debiasfr_through_the_registry_records_the_shipped_preset():
    from bench.core.registry import METHODS
    from reference_models.debiasfr.method import PRESETS

    preset = PRESETS["small"]
    with record_files() as files:
        METHODS.create("debiasfr", device="cpu")
    assert files.digests() == {os.path.realpath(preset): hashlib.sha256(preset.read_bytes()).hexdigest()}


def test_bicubic_records_nothing():
    from bench.core.registry import METHODS

    with record_files() as files:
        METHODS.create("bicubic", device="cpu")
    assert files.digests() == {}


# -------------------------------------------------------------------------- NIQE (LIVE parameters)


@pytest.fixture
def live_niqe_cache(monkeypatch):
    """The persistent test cache (``$FRBENCH_TEST_CACHE`` or ``~/.cache/frbench/assets``, as in
    tests/metrics/conftest.py) holding the NIQE parameters (fetched once from PyPI); skips when they
    cannot be provisioned."""
    from bench.core.assets import AssetError, AssetManager
    from metrics import nr_params

    cache = Path(os.environ.get("FRBENCH_TEST_CACHE") or Path.home() / ".cache" / "frbench" / "assets")
    manager = AssetManager(cache_dir=cache, progress=False)
    try:
        raw = manager.path(nr_params.NIQE_ASSET)
    except AssetError as exc:
        pytest.skip(f"the LIVE NIQE parameters could not be provisioned (needs PyPI once): {exc}")
    monkeypatch.setenv("FRBENCH_CACHE", str(cache))
    nr_params.clear_cache()
    yield manager, raw
    nr_params.clear_cache()


def test_niqe_records_its_parameter_files(live_niqe_cache):
    import torch

    from bench.core.registry import METRICS
    from metrics import nr_params

    manager, raw = live_niqe_cache
    images = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (1, 3, 96, 96), dtype=np.uint8))
    with record_files() as files:
        metric = METRICS.create("niqe")
        getattr(metric, "prepare", lambda: None)()
        metric(images)  # the parameters are loaded at the latest here
    digests = files.digests()
    assert digests[str(raw.resolve())] == manager.spec(nr_params.NIQE_ASSET).sha256 == _sha(raw)
    converted = raw.parent / "niqe_pris_params.frbench.safetensors"
    assert digests[str(converted.resolve())] == _sha(converted)
    assert set(digests) == {str(raw.resolve()), str(converted.resolve())}
    with record_files() as again:  # process-level cache hit: the same files
        nr_params.niqe_parameters()
    assert again.digests() == digests
    nr_params.clear_cache()
    with record_files() as reused:  # a new process: the conversion is reused, the identity is the same
        nr_params.niqe_parameters()
    assert reused.digests() == digests
