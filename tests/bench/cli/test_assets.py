"""`bench assets list | fetch | verify | forget` through add_parser on a fresh parser."""
from __future__ import annotations

import argparse
import json

import pytest

from bench.cli import assets as cli
from bench.core.assets.manager import AssetManager
from bench.core.provenance import file_sha256

BLOB = b"PK\x03\x04" + bytes(range(256)) * 8


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench")
    sub = parser.add_subparsers(dest="command")
    cli.add_parser(sub)
    args = parser.parse_args(argv)
    return args.handler(args)


def test_list_shows_every_asset_with_status_and_licence(tmp_path, capsys):
    assert run(["assets", "list", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for name in ("niqe_pris_params", "fid_inception_torchscript", "gfpgan_v1_3", "codeformer", "vqfr_v1"):
        assert name in out
    assert "NTU S-Lab License 1.0" in out and "pypi basicsr==1.4.2" in out

    assert run(["assets", "list", "--json", "--cache-dir", str(tmp_path)]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["niqe_pris_params"]["sha256_status"] == "published" and rows["niqe_pris_params"]["cached"] is False
    assert rows["gfpgan_v1_3"]["sha256"] is None and rows["gfpgan_v1_3"]["sha256_status"].startswith("not published")


def test_offline_fetch_fails_with_the_message_and_no_traceback(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FRBENCH_OFFLINE", "1")
    code = run(["assets", "fetch", "niqe_pris_params", "--cache-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert "asset 'niqe_pris_params' is not available" in err and "skipped: offline mode" in err
    assert "2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296" in err
    assert str(tmp_path / "niqe_pris_params" / "niqe_pris_params.npz") in err
    assert "Traceback" not in err
    assert not any(tmp_path.rglob("*.npz"))


def test_fetch_needs_names_or_all(tmp_path, capsys):
    assert run(["assets", "fetch", "--cache-dir", str(tmp_path)]) == 2
    assert "--all" in capsys.readouterr().err
    assert run(["assets", "fetch", "nope", "--cache-dir", str(tmp_path)]) == 1
    assert "unknown asset 'nope'" in capsys.readouterr().err


def test_hand_placed_file_is_recorded_verified_and_corruption_detected(tmp_path, capsys):
    target = AssetManager(cache_dir=tmp_path).cache_path("gfpgan_v1_3")
    target.parent.mkdir(parents=True)
    target.write_bytes(BLOB)

    assert run(["assets", "fetch", "gfpgan_v1_3", "--offline", "--cache-dir", str(tmp_path)]) == 0
    assert str(target) in capsys.readouterr().out
    assert run(["assets", "verify", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"gfpgan_v1_3: ok  {file_sha256(target)}" in out and "recorded locally" in out

    target.write_bytes(BLOB[::-1])
    assert run(["assets", "verify", "gfpgan_v1_3", "--cache-dir", str(tmp_path)]) == 1
    assert "sha256 MISMATCH" in capsys.readouterr().err

    assert run(["assets", "forget", "gfpgan_v1_3", "--cache-dir", str(tmp_path)]) == 0
    assert not target.exists() and "gfpgan_v1_3" not in AssetManager(cache_dir=tmp_path).records()


def test_verify_of_a_named_asset_that_is_not_cached_fails(tmp_path, capsys):
    assert run(["assets", "verify", "--cache-dir", str(tmp_path)]) == 0
    assert "no cached assets" in capsys.readouterr().out
    assert run(["assets", "verify", "codeformer", "--cache-dir", str(tmp_path)]) == 1
    assert "codeformer: not in the cache" in capsys.readouterr().err


def test_no_action_prints_help(capsys):
    assert run(["assets"]) == 2
    assert "fetch" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["assets", "fetch", "--all", "x"]])
def test_names_and_all_are_exclusive(tmp_path, argv, capsys):
    assert run(argv + ["--cache-dir", str(tmp_path)]) == 2
    assert "not both" in capsys.readouterr().err


def test_a_run_needing_an_absent_asset_says_so_in_one_line(tmp_path, capsys, monkeypatch):
    """`bench run` with an absent checkpoint: one line with the official URL and where to place the file;
    --debug prints the full instructions (every source tried, licence)."""
    from bench.cli import main

    monkeypatch.setenv("FRBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("FRBENCH_OFFLINE", "1")
    argv = ["run", "--method", "gfpgan", "--dataset", "synthetic", "-D", "n=2", "--metrics", "psnr",
            "--store", str(tmp_path / "r.sqlite"), "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "https://github.com/TencentARC/GFPGAN/releases/download/v1.3.0/GFPGANv1.3.pth" in err
    assert str(tmp_path / "cache" / "gfpgan_v1_3" / "GFPGANv1.3.pth") in err and "FRBENCH_ASSET_GFPGAN_V1_3" in err
    assert main(argv + ["--debug"]) == 2
    full = capsys.readouterr().err
    assert "Sources tried:" in full and "Licence:" in full
