"""A real `bench run` subprocess killed with SIGKILL mid-run, restarted, ends with exactly the rows of
an uninterrupted run: no row lost, none duplicated."""
import os
import signal
import subprocess
import sys
import time

import pytest

from bench.api import run
from bench.store import ResultStore
from tests.bench.store_support import count_sample_rows

LIMIT = 96

# The subprocess runs the real CLI with a bicubic method slowed down by a sleep per batch, so that a
# kill reliably lands in the middle of the run.  Its identity (describe()) is the plain bicubic's.
SLOW_CLI = """
import sys, time
from baselines.interpolation import Bicubic
from bench.registries import METHODS
class SlowBicubic(Bicubic):
    def restore(self, *args, **kwargs):
        time.sleep(0.15)
        return super().restore(*args, **kwargs)
METHODS.register("slow-bicubic", SlowBicubic, "bicubic slowed down for the kill test", replace=True)
from bench.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


def _args(root, store):
    return ["run", "--method", "slow-bicubic", "--dataset", "utkface", "--root", str(root), "--degradation", "x8",
            "--limit", str(LIMIT), "--metrics", "psnr,ssim", "--store", str(store), "--batch-size", "8",
            "--no-progress"]


_count = count_sample_rows


def _kill_after(root, store, at_least, cwd):
    proc = subprocess.Popen([sys.executable, "-c", SLOW_CLI, *_args(root, store)], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while _count(store) < at_least and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return proc.returncode


def _rows(store):
    with ResultStore(store) as s:
        (run,) = s.runs()
        samples = [(r["sample_id"], r["status"], r["error"], str(r["degradation"])) for r in s.sample_rows(run["run_id"])]
        scores = [row[1:] for row in s.scores(run["run_id"])]
        return run["run_id"], samples, scores


def test_sigkill_twice_then_resume_equals_uninterrupted(tmp_path, utkface_dir):
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    store = tmp_path / "killed.sqlite"
    assert _kill_after(utkface_dir, store, 8, repo) == -signal.SIGKILL
    first = _count(store)
    assert 0 < first < LIMIT, "the kill must land mid-run"
    assert _kill_after(utkface_dir, store, first + 16, repo) == -signal.SIGKILL
    second = _count(store)
    assert first < second < LIMIT
    done = subprocess.run([sys.executable, "-c", SLOW_CLI, *_args(utkface_dir, store)], cwd=repo,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{second} already done" in done.stdout

    reference = tmp_path / "reference.sqlite"
    run(method="bicubic", dataset="utkface", root=utkface_dir, degradation="x8", limit=LIMIT,
        metrics="psnr,ssim", store=reference, batch_size=16, progress=False)
    killed_id, killed_samples, killed_scores = _rows(store)
    ref_id, ref_samples, ref_scores = _rows(reference)
    assert killed_id == ref_id  # same identity: same command, same run
    assert len(killed_samples) == LIMIT and len(killed_scores) == 2 * LIMIT
    assert killed_samples == ref_samples
    assert killed_scores == ref_scores  # bit-identical values, no duplicates (primary keys), none missing
