"""AssetManager with url and path sources, overrides, offline mode, records and verification."""
from __future__ import annotations

import json
import os
import tarfile
import io
from pathlib import Path

import pytest

from bench.core.assets import AssetIntegrityError, AssetManager, AssetUnavailableError, ManifestError
from bench.core.assets.download import _HashingWriter
from bench.core.assets.errors import UnknownAssetError, _SourceFailed
from bench.core.assets.manager import DEFAULT_CACHE_DIR
from bench.core.assets.manifest import override_env_var
from bench.core.assets.pypi import _archive_member

from tests.bench.core.assets.conftest import asset_entry, manifest_of, sha256

# bytes that pass the "torch checkpoint" magic check (zip header) for assets without a sha256
BLOB = b"PK\x03\x04" + bytes(range(256)) * 40
OTHER = b"PK\x03\x04" + b"something else entirely" * 100


def _files_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


# ------------------------------------------------------------------------------------------ url


def test_url_source_fetches_verifies_and_caches(tmp_path, http_server):
    http_server.routes["/w.pth"] = (200, BLOB, {})
    manifest = manifest_of(net=asset_entry("w.pth", sha256(BLOB), [{"kind": "url", "url": http_server.url("/w.pth")}]))
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=False)

    path = manager.path("net")
    assert path == tmp_path / "cache" / "net" / "w.pth"
    assert path.read_bytes() == BLOB
    # a second manager finds the verified file without downloading again
    again = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=False).path("net")
    assert again == path and http_server.hits["/w.pth"] == 1
    record = json.loads((tmp_path / "cache" / "records.json").read_text())["assets"]["net"]
    assert record["sha256"] == sha256(BLOB) and record["source"].startswith("url http://127.0.0.1")
    assert _files_in(tmp_path / "cache") == ["net/w.pth", "records.json"]


def test_url_sha256_mismatch_is_refused_and_nothing_is_cached(tmp_path, http_server):
    http_server.routes["/w.pth"] = (200, OTHER, {})
    expected = sha256(BLOB)
    manifest = manifest_of(net=asset_entry("w.pth", expected, [{"kind": "url", "url": http_server.url("/w.pth")}]))
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=False)

    with pytest.raises(AssetIntegrityError) as info:
        manager.fetch("net")
    message = str(info.value)
    assert "'net'" in message and http_server.url("/w.pth") in message
    assert expected in message and sha256(OTHER) in message
    assert info.value.expected == expected and info.value.actual == sha256(OTHER)
    assert _files_in(tmp_path / "cache") == []  # no partial file, no record
    assert not manager.cache_path("net").exists()


def test_url_404_gives_an_actionable_unavailable_error(tmp_path, http_server):
    url = http_server.url("/missing.pth")
    manifest = manifest_of(net=asset_entry("w.pth", sha256(BLOB), [{"kind": "url", "url": url}]))
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=False)

    with pytest.raises(AssetUnavailableError) as info:
        manager.path("net")
    message = str(info.value)
    assert "asset 'net' is not available" in message
    assert f"url {url}: HTTP 404" in message                      # the source and why it failed
    assert sha256(BLOB) in message                                # what the file must hash to
    assert f"download the official file from {url}" in message    # where to get it
    assert str(manager.cache_path("net")) in message              # where to put it
    assert "FRBENCH_ASSET_NET" in message
    assert info.value.attempts and info.value.attempts[0][1].startswith("HTTP 404")
    assert _files_in(tmp_path / "cache") == []


def test_progress_bar_is_shown_and_does_not_crash(tmp_path, http_server, capsys):
    big = b"PK\x03\x04" + os.urandom(3 * 1024 * 1024)
    http_server.routes["/big.pth"] = (200, big, {})
    http_server.routes["/nolength.pth"] = (200, BLOB, {"Content-Length": ""})
    manifest = manifest_of(
        big=asset_entry("big.pth", sha256(big), [{"kind": "url", "url": http_server.url("/big.pth")}]),
        nolen=asset_entry("n.pth", sha256(BLOB), [{"kind": "url", "url": http_server.url("/nolength.pth")}]))
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=True)
    assert manager.fetch("big").read_bytes() == big
    assert manager.fetch("nolen").read_bytes() == BLOB
    err = capsys.readouterr().err
    assert "big (url)" in err


def test_hashless_asset_is_recorded_then_enforced(tmp_path, http_server):
    http_server.routes["/ckpt.pth"] = (200, BLOB, {})
    manifest = manifest_of(ckpt=asset_entry("ckpt.pth", None, [{"kind": "url", "url": http_server.url("/ckpt.pth")}]))
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=False)
    assert manager.sha256_status("ckpt").startswith("not published")

    path = manager.fetch("ckpt")
    assert manager.records()["ckpt"]["sha256"] == sha256(BLOB)
    row = manager.list()[0]
    assert row.cached and row.sha256 == sha256(BLOB) and row.sha256_status == "recorded locally, not published"
    assert manager.verify("ckpt").state == "matches-record"

    # the upstream file changes: a forced re-fetch is refused and the cached copy is kept
    http_server.routes["/ckpt.pth"] = (200, OTHER, {})
    with pytest.raises(AssetIntegrityError, match="recorded locally"):
        manager.fetch("ckpt", force=True)
    assert path.read_bytes() == BLOB
    # forgetting the record accepts the new file
    manager.forget("ckpt")
    assert manager.fetch("ckpt").read_bytes() == OTHER
    assert manager.records()["ckpt"]["sha256"] == sha256(OTHER)


def test_html_page_instead_of_a_checkpoint_is_refused(tmp_path, http_server):
    page = b"<!DOCTYPE html><html><body>Google Drive can't scan this file for viruses</body></html>"
    http_server.routes["/uc"] = (200, page, {"Content-Type": "text/html; charset=utf-8"})
    http_server.routes["/octet"] = (200, page, {})  # mislabeled: caught by the magic-byte check
    manifest = manifest_of(
        a=asset_entry("a.pth", None, [{"kind": "url", "url": http_server.url("/uc"),
                                       "page": "https://example.org/view"}]),
        b=asset_entry("b.pth", None, [{"kind": "url", "url": http_server.url("/octet")}]))
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=False)
    with pytest.raises(AssetUnavailableError, match="HTML page.*https://example.org/view"):
        manager.fetch("a")
    with pytest.raises(AssetUnavailableError, match="HTML page"):
        manager.fetch("b")
    assert _files_in(tmp_path / "cache") == []


def test_sources_are_tried_in_order(tmp_path, http_server):
    local = tmp_path / "copy.pth"
    local.write_bytes(BLOB)
    manifest = manifest_of(net=asset_entry("w.pth", sha256(BLOB), [
        {"kind": "url", "url": http_server.url("/gone")},
        {"kind": "path", "path": str(tmp_path / "absent.pth")},
        {"kind": "path", "path": str(local)}]))
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=False)
    assert manager.fetch("net").read_bytes() == BLOB
    assert http_server.hits == {"/gone": 1}
    assert manager.records()["net"]["source"] == f"path {local}"


def test_sha256_mismatch_on_one_source_falls_through_to_the_next(tmp_path, http_server):
    http_server.routes["/bad"] = (200, OTHER, {})
    good = tmp_path / "good.pth"
    good.write_bytes(BLOB)
    manifest = manifest_of(net=asset_entry("w.pth", sha256(BLOB), [
        {"kind": "url", "url": http_server.url("/bad")}, {"kind": "path", "path": str(good)}]))
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=False)
    assert manager.fetch("net").read_bytes() == BLOB


# ----------------------------------------------------------------------------------------- path


def test_path_source_expands_home_and_variables(tmp_path, monkeypatch):
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "a.bin").write_bytes(BLOB)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "b.bin").write_bytes(OTHER)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MY_WEIGHTS", str(tmp_path / "elsewhere"))
    manifest = manifest_of(
        a=asset_entry("a.pth", sha256(BLOB), [{"kind": "path", "path": "~/a.bin"}]),
        b=asset_entry("b.pth", sha256(OTHER), [{"kind": "path", "path": "$MY_WEIGHTS/b.bin"}]))
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=False)
    assert manager.path("a").read_bytes() == BLOB
    assert manager.path("b").read_bytes() == OTHER
    assert manager.path("a").parent == tmp_path / "cache" / "a"  # copied into the cache


def test_env_override_is_used_in_place_and_verified(tmp_path, monkeypatch, http_server):
    manifest = manifest_of(
        my_net=asset_entry("w.pth", sha256(BLOB), [{"kind": "url", "url": http_server.url("/w.pth")}]))
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=False)
    assert override_env_var("my_net") == "FRBENCH_ASSET_MY_NET"

    good = tmp_path / "mine.pth"
    good.write_bytes(BLOB)
    monkeypatch.setenv("FRBENCH_ASSET_MY_NET", str(good))
    assert manager.path("my_net") == good
    assert http_server.hits == {} and _files_in(tmp_path / "cache") == []

    bad = tmp_path / "wrong.pth"
    bad.write_bytes(OTHER)
    monkeypatch.setenv("FRBENCH_ASSET_MY_NET", str(bad))
    with pytest.raises(AssetIntegrityError) as info:
        manager.path("my_net")
    assert "FRBENCH_ASSET_MY_NET" in str(info.value) and sha256(OTHER) in str(info.value)

    monkeypatch.setenv("FRBENCH_ASSET_MY_NET", str(tmp_path / "nope.pth"))
    with pytest.raises(AssetUnavailableError, match="does not point at a file"):
        manager.path("my_net")


def test_env_override_without_published_hash_is_accepted(tmp_path, monkeypatch):
    manifest = manifest_of(ckpt=asset_entry("c.pth", None, download_page="https://example.org/drive"))
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=False)
    mine = tmp_path / "c.pth"
    mine.write_bytes(OTHER)
    monkeypatch.setenv("FRBENCH_ASSET_CKPT", str(mine))
    assert manager.path("ckpt") == mine


# -------------------------------------------------------------------------------------- offline


def test_offline_skips_network_sources_but_not_local_ones(tmp_path, monkeypatch, http_server):
    http_server.routes["/w.pth"] = (200, BLOB, {})
    local = tmp_path / "local.pth"
    local.write_bytes(BLOB)
    manifest = manifest_of(
        net=asset_entry("w.pth", sha256(BLOB), [{"kind": "url", "url": http_server.url("/w.pth")},
                                                {"kind": "pypi", "package": "basicsr==1.4.2", "artifact": "sdist",
                                                 "member": "basicsr/x.npz"}]),
        both=asset_entry("b.pth", sha256(BLOB), [{"kind": "url", "url": http_server.url("/w.pth")},
                                                 {"kind": "path", "path": str(local)}]))
    monkeypatch.setenv("FRBENCH_OFFLINE", "1")
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=False)
    assert manager.offline
    with pytest.raises(AssetUnavailableError) as info:
        manager.path("net")
    message = str(info.value)
    assert message.count("skipped: offline mode") == 2
    assert "python -m pip download --no-deps --no-binary :all: basicsr==1.4.2" in message
    assert http_server.hits == {}
    assert manager.path("both").read_bytes() == BLOB  # path sources still work offline
    assert http_server.hits == {}
    # an explicit offline=False wins over the environment
    assert AssetManager(cache_dir=tmp_path / "c2", manifest=manifest, offline=False, progress=False).path("net")


def test_fetch_false_does_not_fetch(tmp_path, http_server):
    http_server.routes["/w.pth"] = (200, BLOB, {})
    manifest = manifest_of(net=asset_entry("w.pth", sha256(BLOB), [{"kind": "url", "url": http_server.url("/w.pth")}]))
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=False)
    with pytest.raises(AssetUnavailableError, match="fetch=False"):
        manager.path("net", fetch=False)
    assert http_server.hits == {}


# ---------------------------------------------------------------------------------------- cache


def test_cache_dir_comes_from_the_environment(tmp_path, monkeypatch):
    manifest = manifest_of(x=asset_entry("x.pth", sha256(BLOB), [{"kind": "path", "path": "/nonexistent"}]))
    monkeypatch.setenv("FRBENCH_CACHE", str(tmp_path / "from-env"))
    manager = AssetManager(manifest=manifest)
    assert manager.cache_dir == tmp_path / "from-env"
    assert manager.cache_path("x") == tmp_path / "from-env" / "x" / "x.pth"

    monkeypatch.delenv("FRBENCH_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert AssetManager(manifest=manifest).cache_dir == tmp_path / "home" / ".cache" / "frbench" / "assets"
    assert str(DEFAULT_CACHE_DIR) == "~/.cache/frbench/assets"


def test_verify_detects_a_corrupted_cached_file(tmp_path):
    src = tmp_path / "src.pth"
    src.write_bytes(BLOB)
    manifest = manifest_of(net=asset_entry("w.pth", sha256(BLOB), [{"kind": "path", "path": str(src)}]))
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=False)
    cached = manager.path("net")
    assert manager.verify("net").state == "verified"

    data = bytearray(cached.read_bytes())
    data[100] ^= 0xFF
    cached.write_bytes(bytes(data))
    st = cached.stat()
    os.utime(cached, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    result = manager.verify("net")
    assert result.state == "mismatch" and not result.ok
    assert result.expected == sha256(BLOB) and result.actual == sha256(bytes(data))
    with pytest.raises(AssetIntegrityError, match="corrupted"):
        manager.path("net")
    # a forced fetch repairs it
    assert manager.fetch("net", force=True).read_bytes() == BLOB
    assert manager.verify("net").ok


def test_file_placed_by_hand_for_a_hashless_asset_is_recorded(tmp_path):
    manifest = manifest_of(vq=asset_entry("VQ-33a1fac5.pth", None, download_page="https://example.org/folder"))
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=False)
    assert manager.verify("vq").state == "not-cached"
    target = manager.cache_path("vq")
    target.parent.mkdir(parents=True)
    target.write_bytes(BLOB)
    assert manager.path("vq") == target
    assert manager.records()["vq"]["sha256"] == sha256(BLOB)
    assert manager.verify("vq").state == "matches-record"


def test_sha256_prefix_from_the_official_name_is_checked(tmp_path):
    src = tmp_path / "src.pth"
    src.write_bytes(BLOB)
    good_prefix = sha256(BLOB)[:8]
    bad_prefix = "0" * 8 if not good_prefix.startswith("0") else "f" * 8
    manifest = manifest_of(
        good=asset_entry("g.pth", None, [{"kind": "path", "path": str(src)}], sha256_prefix=good_prefix),
        bad=asset_entry("b.pth", None, [{"kind": "path", "path": str(src)}], sha256_prefix=bad_prefix))
    manager = AssetManager(cache_dir=tmp_path / "cache", manifest=manifest, progress=False)
    assert manager.fetch("good").read_bytes() == BLOB
    with pytest.raises(AssetIntegrityError, match=bad_prefix):
        manager.fetch("bad")
    assert not manager.cache_path("bad").exists()


def test_unknown_asset_suggests_close_names(tmp_path):
    manifest = manifest_of(codeformer=asset_entry("c.pth", None, download_page="https://example.org/x"))
    manager = AssetManager(cache_dir=tmp_path, manifest=manifest)
    with pytest.raises(UnknownAssetError, match="Did you mean 'codeformer'"):
        manager.path("codeformr")


# ---------------------------------------------------------------------------- manifest guards


@pytest.mark.parametrize("member", ["../evil.npz", "a/../../evil.npz", "/etc/passwd", "C:/x.npz", "a\\..\\b"])
def test_traversal_member_in_the_manifest_is_refused(tmp_path, member):
    manifest = manifest_of(x=asset_entry("x.npz", None, [
        {"kind": "pypi", "package": "basicsr==1.4.2", "artifact": "sdist", "member": member}], fmt="npz"))
    with pytest.raises(ManifestError, match="member"):
        AssetManager(cache_dir=tmp_path, manifest=manifest)


def test_archive_reader_refuses_traversal_and_links(tmp_path):
    archive = tmp_path / "pkg-1.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        for name, data in (("pkg-1.0/ok.bin", b"fine"),):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("pkg-1.0/secret.bin")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
        evil = tarfile.TarInfo("../evil.bin")
        evil.size = 4
        tf.addfile(evil, io.BytesIO(b"evil"))

    with open(tmp_path / "out", "wb") as fh:
        writer = _HashingWriter(fh)
        _archive_member(archive, "ok.bin", "sdist", writer)  # relative to the top-level folder
        assert writer.size == 4
        with pytest.raises(_SourceFailed, match="path traversal"):
            _archive_member(archive, "../evil.bin", "sdist", writer)
        with pytest.raises(_SourceFailed, match="not a regular file"):
            _archive_member(archive, "secret.bin", "sdist", writer)
        with pytest.raises(_SourceFailed, match="no member"):
            _archive_member(archive, "evil.bin", "sdist", writer)
    assert not (tmp_path.parent / "evil.bin").exists()


def test_only_http_urls_are_accepted(tmp_path):
    for url in ("file:///etc/passwd", "ftp://example.org/x.pth", "example.org/x.pth"):
        manifest = manifest_of(x=asset_entry("x.pth", None, [{"kind": "url", "url": url}]))
        with pytest.raises(ManifestError, match="http"):
            AssetManager(cache_dir=tmp_path, manifest=manifest)
