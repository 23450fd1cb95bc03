"""Shared helpers of the end-to-end speed benchmarks (``full_evaluation_vs_reference_chain.py``,
``study_shared_work.py``): the held-out faces, stages run in child processes with their wall time and peak
memory, the frbench stage, reading a store, Markdown tables.

Stages
------
Every measured stage runs in its own child process (``python SCRIPT --stage NAME --spec FILE``), so that its
peak resident memory is its own and nothing (imported modules, loaded networks, caches) leaks from one stage
to the next.  The parent measures:

* ``wall_s``: wall time of the whole child, from ``fork/exec`` to exit (interpreter start, imports, model
  loading and the work: what a user waits for when the stage is one command);
* ``peak_rss_mb``: ``ru_maxrss`` of the child from ``os.wait4`` -- on Linux the largest resident set of the
  child *or* of any descendant it waited for (kB -> MB, 1 MB = 2**20 bytes);

and the child reports ``work_s`` (the stage function alone, after the imports of this module),
``self_rss_mb`` (``getrusage(RUSAGE_SELF)``: the stage process itself, the figure the reports print as peak
RSS) and ``children_rss_mb`` (``getrusage(RUSAGE_CHILDREN)``: the largest of its own child processes, e.g.
torch-fidelity's DataLoader workers; they are forked, so shared pages are counted in each process and the
two are not added).

The held-out faces are the frbench selection itself: the first ``n`` ids of the seeded permutation
(:mod:`bench.harness.selection`, seed 0) of the UTKFace folder's valid names, i.e. exactly the faces that
``bench run --dataset utkface --limit n`` takes.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ROOT = REPO.parent / "shared" / "data" / "utkface" / "images"

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def mb(kilobytes: float) -> float:
    """``ru_maxrss`` (kB on Linux) in MB (2**20 bytes)."""
    return float(kilobytes) / 1024.0


def held_out_faces(root: str | Path, n: int | None, seed: int = 0) -> list[tuple[str, Path]]:
    """``(sample id, file)`` of the first ``n`` UTKFace faces of the seeded permutation (what ``--limit n`` takes)."""
    from bench.data.datasets.utkface import UTKFace
    from bench.harness.selection import select

    samples = UTKFace(root).samples
    chosen = select(samples, n, "random", seed)
    if n is not None and len(chosen) < n:
        raise SystemExit(f"{root}: only {len(chosen)} valid UTKFace faces, {n} asked")
    return [(s.id, Path(s.hq)) for s in chosen]


# -- stages in child processes -------------------------------------------------------------------------------
def run_stage(script: str | Path, stage: str, spec: Mapping[str, Any], threads: int | None = None,
              prediction_cache: str | Path | None = None) -> dict[str, Any]:
    """Run ``stage`` of ``script`` in a child process; its result with ``wall_s`` and the peak memory figures.

    ``threads``: when given, ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` and torch's intra-op threads of the child.
    ``prediction_cache``: the child's ``FRBENCH_PREDICTION_CACHE``.  frbench keeps HQ attribute predictions in
    a persistent per-user cache OUTSIDE the store (default ``~/.cache/frbench/predictions``,
    ``reference_models/shared/attribute_classifiers/base.py``): a run in a fresh store is cold only with a
    fresh prediction cache too.
    A failing child raises ``SystemExit`` naming the stage and the end of its error output.
    """
    env = dict(os.environ)
    if prediction_cache is not None:
        env["FRBENCH_PREDICTION_CACHE"] = str(prediction_cache)
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), FRBENCH_SPEED_THREADS=str(threads))
    with tempfile.TemporaryDirectory(prefix="frbench-stage-") as tmp:
        spec_path, out_path, err_path = Path(tmp) / "spec.json", Path(tmp) / "out.json", Path(tmp) / "stderr.txt"
        spec_path.write_text(json.dumps(dict(spec), default=str))
        with open(err_path, "wb") as err:
            start = time.perf_counter()
            child = subprocess.Popen([sys.executable, str(script), "--stage", stage, "--spec", str(spec_path),
                                      "--stage-out", str(out_path)], env=env, stdout=subprocess.DEVNULL, stderr=err)
            _, status, usage = os.wait4(child.pid, 0)
            wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0 or not out_path.exists():
            tail = err_path.read_text(errors="replace")[-3000:]
            raise SystemExit(f"stage {stage!r} failed (exit {child.returncode}):\n{tail}")
        result = json.loads(out_path.read_text())
    result.update(wall_s=wall, peak_rss_mb=mb(usage.ru_maxrss))
    return result


def stage_main(stages: Mapping[str, Callable[[dict], dict]], argv: Sequence[str] | None = None) -> bool:
    """Child side of :func:`run_stage`: when ``--stage`` is on the command line, run it and return True."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--stage" not in argv:
        return False
    parser = argparse.ArgumentParser()
    parser.add_argument("--stage", required=True, choices=sorted(stages))
    parser.add_argument("--spec", required=True)
    parser.add_argument("--stage-out", required=True)
    args = parser.parse_args(argv)
    import warnings

    warnings.filterwarnings("ignore")
    threads = os.environ.get("FRBENCH_SPEED_THREADS")
    if threads:
        import torch

        torch.set_num_threads(int(threads))
    spec = json.loads(Path(args.spec).read_text())
    start = time.perf_counter()
    result = stages[args.stage](spec)
    result["work_s"] = time.perf_counter() - start
    result["self_rss_mb"] = mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    result["children_rss_mb"] = mb(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    Path(args.stage_out).write_text(json.dumps(result, default=float))
    return True


# -- the frbench stage ---------------------------------------------------------------------------------------
def frbench_stage(spec: dict) -> dict:
    """One ``bench run`` through :func:`bench.api.run` (the same code path as the CLI) into ``spec['store']``."""
    from bench import api

    summary = api.run(method=spec["method"], dataset=spec.get("dataset", "utkface"), root=spec["root"],
                      degradation=spec["degradation"], metrics=spec["metrics"], limit=spec.get("limit"),
                      store=spec["store"], out=spec["out"], progress=False)
    return {"run_id": summary.run_id, "n_ok": summary.n_ok, "n_failed": summary.n_failed,
            "run_seconds": summary.seconds, "metric_means": summary.metric_means,
            "set_results": summary.set_results}


def frbench_spec(method: str, degradation: str, metrics: str, root: str | Path, limit: int | None,
                 store: str | Path, out: str | Path) -> dict:
    return {"method": method, "degradation": degradation, "metrics": metrics, "root": str(root), "limit": limit,
            "store": str(store), "out": str(out)}


# -- reading a store (sqlite3 directly: independent of the package's readers) --------------------------------
def store_scores(store: str | Path, run_id: str | None = None) -> dict[tuple, float | None]:
    """``{(run_id, sample_id, metric): value}`` of the ``scores`` table (NULL -> None)."""
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
        query = "SELECT run_id, sample_id, metric, value FROM scores"
        rows = db.execute(query + (" WHERE run_id = ?" if run_id else ""), (run_id,) if run_id else ()).fetchall()
    return {(r, s, m): v for r, s, m, v in rows}


def store_table(store: str | Path, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
        return db.execute(sql, tuple(params)).fetchall()


# -- output -------------------------------------------------------------------------------------------------
def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"
        return str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def machine_note() -> str:
    """CPU count and load average: the figures depend on both (state them with the results)."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return f"{os.cpu_count()} CPUs, load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1 / 5 / 15 min)"
