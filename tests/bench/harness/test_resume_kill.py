"""A real `bench run` subprocess (psnr + FID on real faces) killed with SIGKILL five times at random moments,
then resumed, ends with exactly the store of an uninterrupted run: no row lost, none duplicated, the same
Inception features, the same FID."""
import random
import signal
import sqlite3
import subprocess
import time

import pytest

from tests.bench.harness.store_support import REPO, cli_command, count_sample_rows, snapshot, subprocess_env
from tests.metrics.fid_support import fid_archive, fid_weights, persistent_cache  # noqa: F401 (fixtures)

LIMIT = 40


def _args(root, store, method="slow-bicubic"):
    return ["run", "--method", method, "--dataset", "utkface", "--root", str(root), "--degradation", "x8",
            "--limit", str(LIMIT), "--metrics", "psnr,fid", "--store", str(store), "--batch-size", "8",
            "--no-progress"]


def _env(fid_archive):  # noqa: F811
    return subprocess_env(FRBENCH_CACHE=str(persistent_cache()), FRBENCH_TEST_SLEEP="0.4",
                          FRBENCH_ASSET_FID_INCEPTION_TORCHSCRIPT=str(fid_archive))


def test_five_sigkills_at_random_moments_then_resume_equal_one_uninterrupted_run(tmp_path, utkface_dir,
                                                                                  fid_archive):  # noqa: F811
    env, store = _env(fid_archive), tmp_path / "killed.sqlite"
    rng = random.Random(13)
    counts = []
    for _ in range(5):
        proc = subprocess.Popen(cli_command(*_args(utkface_dir, store)), cwd=REPO, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # a random moment: during start-up (imports, lease, network loading) or while batches are written
        time.sleep(rng.uniform(1.0, 7.0))
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate()
        assert proc.returncode in (-signal.SIGKILL, 0), err.decode()[-2000:]
        counts.append(count_sample_rows(store))
    assert counts[-1] < LIMIT, f"the kills must leave work to resume (rows after each kill: {counts})"
    left_lease = store.exists() and sqlite3.connect(store).execute("SELECT COUNT(*) FROM leases").fetchone()[0]
    done = subprocess.run(cli_command(*_args(utkface_dir, store)), cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{counts[-1]} already done" in done.stdout
    # a lease left by the killed writer is recovered (the dead process is named), never a refusal
    assert ("recovered the writer lease" in done.stdout) == bool(left_lease)

    reference = tmp_path / "reference.sqlite"
    ref = subprocess.run(cli_command(*_args(utkface_dir, reference, "bicubic")), cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=300)
    assert ref.returncode == 0, ref.stderr[-2000:]
    killed, expected = snapshot(store), snapshot(reference)
    assert killed["runs"] == expected["runs"]  # the same identity: the same run
    assert len(killed["samples"]) == LIMIT and len(killed["scores"]) == LIMIT and len(killed["vectors"]) == LIMIT
    for table in ("samples", "scores", "vectors", "ref_vectors", "set_members", "run_metrics"):
        assert killed[table] == expected[table], table  # bit-identical, nothing lost or duplicated
    fid = {k: v for _, m, k, v, *_ in killed["set_results"] if m == "fid"}
    fid_ref = {k: v for _, m, k, v, *_ in expected["set_results"] if m == "fid"}
    assert fid.keys() == fid_ref.keys() and fid["n"] == LIMIT
    assert fid["value"] == pytest.approx(fid_ref["value"], rel=1e-9)
