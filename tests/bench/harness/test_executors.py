"""The Ray executor gives exactly the rows and set-level results of the local executor, survives a
worker killed mid-shard, and a driver killed mid-run resumes like the local one.

One local Ray cluster (127.0.0.1, 2 CPUs, no dashboard) is started for the whole module and shut down
at its end.  Skipped when Ray is not installed (``pip install 'frbench[ray]'``).
"""
from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.harness.executors import LocalExecutor, RayExecutor, make_executor
from bench.harness.runner import ConfigurationError, Runner

from tests.metrics.fid_support import fid_weights  # noqa: F401  (real FID Inception, persistent cache)
from tests.bench.harness.store_support import count_sample_rows
from tests.conftest import asset_unavailable

REPO = Path(__file__).resolve().parents[3]
N = 24
BATCH = 4


# -- no Ray needed ---------------------------------------------------------------------------------------
def test_shards_are_contiguous_and_aligned_to_batches():
    executor = RayExecutor(shard_size=6)
    assert executor.effective_shard_size(4) == 8  # rounded up to whole batches
    assert RayExecutor().effective_shard_size(16) == 64
    assert RayExecutor.shards(20, 8) == [(0, 0, 8), (1, 8, 16), (2, 16, 20)]
    assert RayExecutor.shards(0, 8) == []
    assert isinstance(make_executor("local"), LocalExecutor)
    with pytest.raises(ConfigurationError, match="unknown executor"):
        make_executor("dask")
    with pytest.raises(ConfigurationError, match="executor ray only"):
        make_executor("local", workers=2)


def test_cli_passes_the_executor_options(monkeypatch):
    import bench.api
    from bench.cli import main

    seen = {}

    def fake_run(**kwargs):
        seen.update(kwargs)

        class Summary:
            def format(self):
                return "ok"

        return Summary()

    monkeypatch.setattr(bench.api, "run", fake_run)
    assert main(["run", "--executor", "ray", "--address", "auto", "--ray-workers", "3", "--shard-size", "32",
                 "--no-progress"]) == 0
    assert (seen["executor"], seen["ray_address"], seen["ray_workers"], seen["shard_size"]) == ("ray", "auto", 3, 32)


# -- with a Ray cluster ----------------------------------------------------------------------------------
try:
    import ray  # noqa: F401

    HAS_RAY = True
except ImportError:
    HAS_RAY = False


@pytest.fixture(scope="module")
def ray_cluster():
    if not HAS_RAY:
        asset_unavailable("Ray is not installed (pip install 'frbench[ray]'): the Ray executor tests are skipped")
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
             logging_level="WARNING")
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def _runner(store, executor, metrics="psnr,ssim", n=N, **kw):
    return Runner("bicubic", "synthetic", dataset_options={"n": n}, metrics=metrics, degradation="x8",
                  store=store, batch_size=BATCH, progress=False, executor=executor, **kw)


def _rows(store):
    from bench.harness.store import ResultStore

    with ResultStore(store) as s:
        (run,) = s.runs()
        samples = [(r["sample_id"], r["status"], r["stage"], r["error"], r["source"], r["degradation"],
                    r["attributes"], r["hq_size"], r["lq_size"]) for r in s.sample_rows(run["run_id"])]
        scores = [row[1:] for row in s.scores(run["run_id"])]
        members = sorted(s.conn.execute("SELECT metric, sample_id FROM set_members WHERE run_id=?",
                                        (run["run_id"],)).fetchall())
        vectors = s.conn.execute("SELECT sample_id, channel, dtype, shape, data FROM vectors WHERE run_id=?"
                                 " ORDER BY sample_id, channel", (run["run_id"],)).fetchall()
        return run["run_id"], samples, scores, members, vectors


@pytest.fixture
def one_torch_thread():
    """The local run uses the actors' intra-op thread count (1): float32 network features (FID/KID) depend
    on the reduction order of the thread split, and bit-equal features are what the merge test needs."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_ray_equals_local_rows_and_set_metrics(tmp_path, ray_cluster, fid_weights, one_torch_thread):  # noqa: F811
    options = {"fid": {"weights": str(fid_weights)}, "kid": {"weights": str(fid_weights)}}
    metrics = "psnr,ssim,fid,kid"
    local = _runner(tmp_path / "local.sqlite", "local", metrics, metric_options=options).run()
    executor = RayExecutor(workers=2, shard_size=BATCH)
    remote = _runner(tmp_path / "ray.sqlite", executor, metrics, metric_options=options).run()
    assert any("biased upward" in note for note in local.notes)  # FID on 24 images: said in the summary
    assert remote.run_id == local.run_id and remote.n_ok == local.n_ok == N
    # 6 shards over 2 actors: each actor built the method and metrics once and served several shards
    assert len(executor.log.shards) == N // BATCH and sorted(executor.log.pids) == list(range(N // BATCH))
    assert len(set(executor.log.pids.values())) <= 2 and not executor.log.resubmitted
    assert "ray: 2 worker(s), 6 shard(s) of 4" in remote.format()

    local_rows, ray_rows = _rows(tmp_path / "local.sqlite"), _rows(tmp_path / "ray.sqlite")
    assert ray_rows[1] == local_rows[1]  # sample rows: status, degradation parameters, attributes, sizes
    assert ray_rows[2] == local_rows[2] and len(ray_rows[2]) == 2 * N  # per-image scores, bit-identical
    assert ray_rows[3] == local_rows[3] and len(ray_rows[3]) == 2 * N  # every sample a member of each metric, once
    # one Inception feature row per image, shared by FID and KID, bit-identical whichever executor
    assert ray_rows[4] == local_rows[4] and len(ray_rows[4]) == N
    for metric in ("fid", "kid"):
        a, b = local.set_results[metric], remote.set_results[metric]
        assert set(a) == set(b)
        for key in a:
            if key == "n" or key.endswith(".n") or key in ("subset_size", "subsets"):
                assert a[key] == b[key], (metric, key)  # counts: exactly
            else:  # float64 sums merged in another order: equal to rounding
                assert math.isfinite(a[key]) and b[key] == pytest.approx(a[key], rel=1e-9, abs=0), (metric, key)
    assert local.set_results["fid"]["n"] == N and local.set_results["kid"]["subset_size"] == N


def test_worker_killed_mid_shard_is_retried_and_rows_exist_once(tmp_path, ray_cluster):
    reference = _runner(tmp_path / "local.sqlite", "local").run()
    marker = tmp_path / "crashed.pid"
    executor = RayExecutor(workers=2, shard_size=BATCH, crash_once=(2, str(marker)))
    summary = _runner(tmp_path / "ray.sqlite", executor).run()
    assert marker.exists(), "the fault was not injected"
    crashed_pid = int(marker.read_text())
    # shard 2 was delivered by another process than the one that died on it: Ray restarted the actor
    # (max_restarts) and retried the task (max_task_retries) by itself, the driver resubmitted nothing
    assert executor.log.pids[2] != crashed_pid
    assert executor.log.resubmitted == []
    assert sorted(executor.log.pids) == list(range(N // BATCH))
    assert summary.n_ok == N and summary.n_processed == N
    ref_rows, ray_rows = _rows(tmp_path / "local.sqlite"), _rows(tmp_path / "ray.sqlite")
    assert ray_rows[0] == ref_rows[0] == reference.run_id
    assert ray_rows[1] == ref_rows[1] and len(ray_rows[1]) == N  # every row exactly once
    assert ray_rows[2] == ref_rows[2] and len(ray_rows[2]) == 2 * N


# the driver: a slow bicubic (same identity as the plain one) so that the SIGKILL lands mid-run; the class
# lives in __main__ and reaches the workers through the object store (cloudpickle)
DRIVER = """
import sys, time
from baselines.interpolation import Bicubic
class SlowBicubic(Bicubic):
    def restore(self, *args, **kwargs):
        time.sleep(0.25)
        return super().restore(*args, **kwargs)
from bench.api import run
summary = run(method=SlowBicubic(), dataset="synthetic", dataset_options={"n": int(sys.argv[3])}, degradation="x8",
              metrics="psnr,ssim", store=sys.argv[1], batch_size=4, progress=False, executor="ray",
              ray_address=sys.argv[2], ray_workers=2, shard_size=4)
print(summary.format())
"""


_count = count_sample_rows


def test_driver_killed_mid_run_resumes_to_the_uninterrupted_rows(tmp_path, ray_cluster):
    n = 48
    store = tmp_path / "killed.sqlite"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    args = [sys.executable, "-c", DRIVER, str(store), ray_cluster, str(n)]
    proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while _count(store) < 8 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    _, stderr = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, stderr.decode()[-2000:]
    written = _count(store)
    assert 0 < written < n and written % 4 == 0, "the kill must land mid-run, between whole shards"

    done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{written} already done" in done.stdout

    reference = tmp_path / "reference.sqlite"
    _runner(reference, "local", n=n).run()
    killed, ref = _rows(store), _rows(reference)
    assert killed[0] == ref[0]  # same identity: the same run, whichever executor
    assert killed[1] == ref[1] and len(killed[1]) == n
    assert killed[2] == ref[2] and len(killed[2]) == 2 * n  # no row lost, none duplicated
