"""Benchmark: what a study saves by sharing work between its runs, and that sharing changes no value.

Grid: methods {bicubic, bilinear} x degradations {x4, x8, x16, x32} on ``--n-images`` UTKFace faces (the first N
of frbench's seeded permutation, seed 0), metrics ``psnr,ssim,fid,attr`` (``--metrics``): 8 runs.

* COLD: each of the 8 runs alone, ``bench run`` (:func:`bench.api.run`) into its OWN fresh store, with its
  own fresh HQ attribute-prediction cache (``FRBENCH_PREDICTION_CACHE``), one process each: nothing is
  shared (every run decodes its HQ faces, computes their Inception features and attribute predictions, loads
  its networks); the 8 wall times are summed.
* SHARED: the same 8 runs as ONE study (``bench study run FILE --no-report`` through :func:`bench.api.study`,
  a temporary study YAML, ``docs/studies.md``) into one store with one fresh prediction cache, one process:
  the study validates the file once, and the HQ-side vectors (Inception features, attribute predictions,
  keyed by HQ content) are computed by the first run and read by the seven others.

Printed: both times, the ratio COLD / SHARED, peak RSS of each process (``speed_support``), and the check that
the two give the SAME results: every per-image score (``scores`` table: run, sample, metric -> value), every
restored-side vector (``vectors``, byte for byte) and every set-level value (``set_results``) of store SHARED
equals that of the COLD store of the same run id (a study cell has the run id of the equivalent ``bench
run``).  Any difference is listed and the script exits with status 1.

Usage: python benchmarks/study_shared_work.py [--n-images 200] [--root DIR] [--metrics psnr,ssim,fid,attr]
       [--threads T] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speed_support import (  # noqa: E402
    DEFAULT_ROOT, frbench_spec, frbench_stage, held_out_faces, machine_note, markdown_table, run_stage,
    stage_main, store_table,
)

METHODS = ("bicubic", "bilinear")
DEGRADATIONS = ("x4", "x8", "x16", "x32")


def study_yaml(root: str | Path, n: int, metrics: str) -> str:
    """The study file of the grid (plain YAML; JSON quoting of the strings is valid YAML)."""
    return "\n".join([
        "name: shared-work-benchmark",
        "description: benchmarks/study_shared_work.py grid (temporary)",
        "seed: 0",
        f"limit: {int(n)}",
        "datasets:",
        "  - name: utkface",
        f"    root: {json.dumps(str(root))}",
        f"    degradations: [{', '.join(DEGRADATIONS)}]",
        "methods:",
        *[f"  - name: {m}" for m in METHODS],
        f"metrics: [{', '.join(metrics.split(','))}]",
        "",
    ])


def study_stage(spec: dict) -> dict:
    from bench import api

    summary = api.study(spec["study"], store=spec["store"], out=spec["out"], progress=False, report=False)
    return {"run_ids": summary.run_ids, "failed": [str(r.error) for r in summary.failed],
            "study_seconds": summary.seconds,
            "cells": [{"cell": r.cell.key, "status": r.status, "seconds": r.seconds, "run_id": r.run_id}
                      for r in summary.results]}


STAGES = {"frbench": frbench_stage, "study": study_stage}


# -- the equality check (sqlite3, not timed) ---------------------------------------------------------------------
def _same(a, b) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def table_rows(store: Path, table: str, run_id: str) -> dict[tuple, object]:
    if table == "scores":
        rows = store_table(store, "SELECT sample_id, metric, value, error FROM scores WHERE run_id = ?", [run_id])
        return {(r[0], r[1]): (r[2], r[3]) for r in rows}
    if table == "vectors":
        rows = store_table(store, "SELECT sample_id, channel, dtype, shape, data FROM vectors WHERE run_id = ?", [run_id])
        return {(r[0], r[1]): (r[2], r[3], bytes(r[4])) for r in rows}
    rows = store_table(store, "SELECT metric, key, value, n_ids FROM set_results WHERE run_id = ?", [run_id])
    return {(r[0], r[1]): (r[2], r[3]) for r in rows}


def compare_stores(cold: dict[str, Path], shared: Path) -> dict:
    """Per table, rows compared and differences (run, key) between each COLD store and the SHARED store."""
    out = {}
    for table in ("scores", "vectors", "set_results"):
        compared, differences = 0, []
        for run_id, store in cold.items():
            a, b = table_rows(store, table, run_id), table_rows(shared, table, run_id)
            if not a:
                differences.append((run_id, "no rows in the COLD store"))
            for key in sorted(set(a) | set(b)):
                compared += 1
                if key not in a or key not in b or not all(_same(x, y) for x, y in zip(a[key], b[key])):
                    differences.append((run_id, key))
        out[table] = {"rows_compared": compared, "differences": len(differences), "first": differences[:10]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=str(DEFAULT_ROOT))
    parser.add_argument("--n-images", type=int, default=200)
    parser.add_argument("--metrics", default="psnr,ssim,fid,attr")
    parser.add_argument("--threads", type=int, default=None, help="torch/OpenMP threads of every process")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    script = Path(__file__).resolve()
    n = len(held_out_faces(args.root, args.n_images))  # refuses a folder with fewer valid faces
    result: dict = {"n_images": n, "metrics": args.metrics, "threads": args.threads, "machine_before": machine_note()}
    with tempfile.TemporaryDirectory(prefix="frbench-study-") as tmp:
        tmp = Path(tmp)
        cold, cold_stores = [], {}
        for degradation in DEGRADATIONS:  # the study's cell order: datasets x degradations x methods
            for method in METHODS:
                store = tmp / f"cold-{method}-{degradation}.sqlite"
                stage = run_stage(script, "frbench", frbench_spec(method, degradation, args.metrics, args.root, n,
                                                                  store, tmp / "out"), args.threads,
                                  prediction_cache=f"{store}.predictions")
                stage.update(method=method, degradation=degradation)
                cold.append(stage)
                cold_stores[stage["run_id"]] = store
        study_file = tmp / "shared-work-benchmark.yaml"
        study_file.write_text(study_yaml(args.root, n, args.metrics))
        shared = run_stage(script, "study", {"study": str(study_file), "store": str(tmp / "shared.sqlite"),
                                             "out": str(tmp / "out")}, args.threads,
                           prediction_cache=tmp / "shared.predictions")
        checks = compare_stores(cold_stores, tmp / "shared.sqlite")
        checks["same_run_ids"] = sorted(shared["run_ids"]) == sorted(cold_stores)
        checks["failed_cells"] = shared["failed"]
    cold_wall = sum(s["wall_s"] for s in cold)
    result.update(cold=[{k: s[k] for k in ("method", "degradation", "run_id", "n_ok", "wall_s", "work_s",
                                          "run_seconds", "self_rss_mb")} for s in cold],
                  shared={k: shared[k] for k in ("wall_s", "work_s", "study_seconds", "self_rss_mb", "cells")},
                  cold_wall_s=cold_wall, shared_wall_s=shared["wall_s"], ratio_cold_over_shared=cold_wall / shared["wall_s"],
                  checks=checks, machine_after=machine_note())
    print(report(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str))
    identical = all(checks[t]["differences"] == 0 for t in ("scores", "vectors", "set_results"))
    if not (identical and checks["same_run_ids"] and not checks["failed_cells"]):
        raise SystemExit("the SHARED study and the COLD runs differ (see above)")


def report(r: dict) -> str:
    rows = [[f"{s['method']} {s['degradation']}", s["n_ok"], s["wall_s"], s["work_s"], s["run_seconds"], s["self_rss_mb"]]
            for s in r["cold"]]
    rows.append(["COLD total (8 processes, 8 stores)", "", r["cold_wall_s"], sum(s["work_s"] for s in r["cold"]),
                 sum(s["run_seconds"] for s in r["cold"]), max(s["self_rss_mb"] for s in r["cold"])])
    rows.append(["SHARED (one study, one store)", "", r["shared"]["wall_s"], r["shared"]["work_s"],
                 sum(c["seconds"] for c in r["shared"]["cells"]), r["shared"]["self_rss_mb"]])
    c = r["checks"]
    lines = [f"# Study shared work: {len(METHODS)} methods x {len(DEGRADATIONS)} scales on {r['n_images']} UTKFace faces",
             "", f"Metrics: {r['metrics']}. Machine before: {r['machine_before']}; after: {r['machine_after']}.", "",
             markdown_table(["run", "ok", "wall s", "work s", "run s (runner)", "peak RSS MB"], rows), "",
             "wall: the whole process; work: the api call; run s: the runner's own seconds (SHARED: sum over the "
             "cells; the rest of SHARED's work is the study's validation).", "",
             f"Ratio COLD / SHARED (wall): {r['ratio_cold_over_shared']:.2f}x.", "",
             markdown_table(["table", "rows compared", "differences"],
                            [[t, c[t]["rows_compared"], c[t]["differences"]] for t in ("scores", "vectors", "set_results")]),
             "", f"Same run ids: {c['same_run_ids']}; failed cells: {c['failed_cells'] or 'none'}."]
    for t in ("scores", "vectors", "set_results"):
        if c[t]["differences"]:
            lines.append(f"First differences in {t}: {c[t]['first']}")
    return "\n".join(lines)


if __name__ == "__main__":
    if not stage_main(STAGES):
        main()
