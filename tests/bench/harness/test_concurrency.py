"""Concurrent `bench run` processes on one store: one writer per run, nothing lost or duplicated.

Two identical commands started together (psnr + FID, 40 real faces): both exit 0, or one is refused with
exit code 75 and a message naming the other process; the store equals a single-process run.  Two
different runs at the same time both complete.
"""
import subprocess

import pytest

from tests.bench.harness.store_support import REPO, cli_command, snapshot, subprocess_env
from tests.metrics.fid_support import fid_archive, fid_weights, persistent_cache  # noqa: F401 (fixtures)

LIMIT = 40


def _args(root, store, method="bicubic"):
    return ["run", "--method", method, "--dataset", "utkface", "--root", str(root), "--degradation", "x8",
            "--limit", str(LIMIT), "--metrics", "psnr,fid", "--store", str(store), "--batch-size", "8",
            "--no-progress"]


def _start(args, env):
    return subprocess.Popen(cli_command(*args), cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@pytest.fixture
def env(fid_archive):  # noqa: F811
    return subprocess_env(FRBENCH_CACHE=str(persistent_cache()), FRBENCH_TEST_SLEEP="0.3",
                          FRBENCH_ASSET_FID_INCEPTION_TORCHSCRIPT=str(fid_archive))


def test_two_identical_runs_started_together_give_the_single_process_store(tmp_path, utkface_dir, env):
    store = tmp_path / "shared.sqlite"
    procs = [_start(_args(utkface_dir, store, "slow-bicubic"), env) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes in ([0, 0], [0, 75]), outs
    for proc, (_, err) in zip(procs, outs):
        if proc.returncode == 75:  # refused: one line naming the process that writes the run
            assert "is being written by process" in err and "one writer per run" in err
            assert "Traceback" not in err
    reference = tmp_path / "single.sqlite"
    done = subprocess.run(cli_command(*_args(utkface_dir, reference)), cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    got, expected = snapshot(store), snapshot(reference)
    assert got["runs"] == expected["runs"]
    for table in ("samples", "scores", "vectors", "ref_vectors", "set_members", "run_metrics"):
        assert got[table] == expected[table], table
    assert len(got["samples"]) == LIMIT and len(got["vectors"]) == LIMIT
    fid = {k: v for _, m, k, v, *_ in got["set_results"] if m == "fid"}
    fid_ref = {k: v for _, m, k, v, *_ in expected["set_results"] if m == "fid"}
    assert fid["n"] == fid_ref["n"] == LIMIT and fid["value"] == pytest.approx(fid_ref["value"], rel=1e-9)


def test_two_different_runs_at_once_both_complete(tmp_path, utkface_dir, env):
    store = tmp_path / "shared.sqlite"
    procs = [_start(_args(utkface_dir, store, m), env) for m in ("bicubic", "bilinear")]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    got = snapshot(store)
    assert sorted(r[1] for r in got["runs"]) == ["bicubic", "bilinear"]
    assert len(got["samples"]) == 2 * LIMIT and len(got["vectors"]) == 2 * LIMIT
    # the HQ side (same faces) is stored once, whichever run computed it first
    assert len(got["ref_vectors"]) == LIMIT
    assert sorted((r, m) for r, m, k, *_ in got["set_results"] if k == "value") == sorted(
        (r[0], "fid") for r in got["runs"])
