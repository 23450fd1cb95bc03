"""Helpers shared by the tests that kill, resume and race runs (local and Ray executors)."""
from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

# The real CLI, with a bicubic slowed down by a sleep per batch so that a kill lands mid-run.  Its identity
# (describe()) is the plain bicubic's, so a reference run can use the registered "bicubic".
SLOW_CLI = """
import sys, time
from baselines.interpolation import Bicubic
from bench.core.registry import METHODS
class SlowBicubic(Bicubic):
    def restore(self, *args, **kwargs):
        time.sleep(float(__import__("os").environ.get("FRBENCH_TEST_SLEEP", "0.15")))
        return super().restore(*args, **kwargs)
METHODS.register("slow-bicubic", SlowBicubic, "bicubic slowed down for the kill tests", replace=True)
from bench.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


def cli_command(*args: str) -> list[str]:
    """``python -c SLOW_CLI args...``: the ``bench`` command line with the ``slow-bicubic`` method registered."""
    return [sys.executable, "-c", SLOW_CLI, *args]


def subprocess_env(**extra: str) -> dict[str, str]:
    """One torch thread (bit-identical Inception features in every process) plus ``extra``."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **extra}


def count_sample_rows(store: Path) -> int:
    """Rows in the ``samples`` table of a results store (0 when it does not exist yet or is being created)."""
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(str(store), timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def snapshot(store: Path) -> dict[str, list[tuple]]:
    """Everything a store holds that a run computed (timings and lease rows excluded), sorted."""
    queries = {
        "runs": "SELECT run_id, method, dataset, protocol, seed, identity, n_planned FROM runs",
        "samples": "SELECT run_id, sample_id, position, status, stage, error, source, degradation, attributes,"
                   " hq_size, lq_size, hq_key FROM samples",
        "scores": "SELECT run_id, sample_id, metric, value, error FROM scores",
        "vectors": "SELECT run_id, sample_id, channel, dtype, shape, data FROM vectors",
        "ref_vectors": "SELECT channel, content_key, dtype, shape, data FROM ref_vectors",
        "set_members": "SELECT run_id, metric, sample_id, error FROM set_members",
        "set_results": "SELECT run_id, metric, key, value, ids_digest, n_ids FROM set_results",
        "run_metrics": "SELECT run_id, metric, options, config, channels FROM run_metrics",
    }
    with sqlite3.connect(str(store)) as conn:
        return {name: sorted(conn.execute(query).fetchall()) for name, query in queries.items()}
