"""The one table of defaults shared by the command line and the Python API.

Change a default here and both ``bench run`` and :func:`bench.api.run` follow.
"""
from __future__ import annotations

import os
from pathlib import Path

#: Root of everything a run writes (store, restored images, leaderboards); overridable.
RESULTS_DIR = Path(os.environ.get("FRBENCH_RESULTS", "frbench-results"))

DEFAULTS: dict = {
    "method": "bicubic",
    "dataset": "synthetic",
    "root": None,
    # metrics when none are requested: full-reference ones need HQ; captured-LQ sets get none of them
    "metrics": ("psnr", "ssim"),
    "degradation": "x8",
    # alignment protocol step (bench.data.framing): "auto" = FFHQ re-alignment for methods expecting FFHQ-aligned
    # faces on real datasets framed otherwise; "ffhq" always; "none" never
    "align": "auto",
    "limit": None,
    "seed": 0,
    # which samples --limit takes: "random" = the first N of one seeded permutation (bench.harness.selection; seed:
    # --subset-seed, default the run seed), "first" = name order (not a random sample)
    "subset": "random",
    "batch_size": 16,
    "store": str(RESULTS_DIR / "results.sqlite"),
    "out": str(RESULTS_DIR),
    "save_images": False,
    "device": "cpu",
    "workers": 2,  # decoding threads (per process: the driver, or each Ray worker)
    # C allocator (bench.core.memory): free heap pages are returned to the system between batches (always); a
    # fixed glibc mmap/trim threshold in bytes flattens memory further but costs ~30-40 % time (None: glibc's own)
    "malloc_mmap_threshold": None,
    # input images (bench.core.imageio): more pixels (W*H, read from the header) are refused before decoding
    # (40 MP = 120 MB as uint8 RGB); larger files (stat size) are refused before reading (at least 8 bytes per
    # allowed pixel, so --max-pixels raises both)
    "max_pixels": 40_000_000,
    "max_image_bytes": 256 * 1024 * 1024,
    # where samples are processed: "local" (this process) or "ray" (actors of a Ray cluster; bench.harness.executors)
    "executor": "local",
    "ray_address": None,  # None: a Ray cluster on this machine (or $RAY_ADDRESS); "auto" or HOST:PORT: an existing one
    "ray_workers": None,  # actors; None: as many as the cluster has CPUs (GPUs with --device cuda) for them
    "shard_size": None,  # samples per Ray task; None: 4 batches; always a multiple of the batch size
    "ray_shard_batches": 4,
    "ray_cpus_per_worker": 1,
    "ray_gpus_per_worker": None,  # None: 1 with a CUDA device, else 0
    "ray_max_retries": 3,  # restarts of a dead actor, and retries of the shard it was processing
    "ray_startup_timeout": 600.0,  # seconds to place and start the actors (fails clearly when resources lack)
    "leaderboard_dir": str(RESULTS_DIR / "leaderboard"),
    # bench leaderboard: compare every run of a table on the ids they all have (False: each on its own ids)
    "common_ids": True,
    # bench correlate: outputs, bootstrap replicates / seed / interval level (metrics.correlation)
    "correlation_dir": str(RESULTS_DIR / "correlation"),
    "correlation_replicates": 1000,
    "correlation_seed": 20_200,
    "correlation_level": 0.95,
    # bench report: output folder, faces per setting in the HTML gallery, seed of their choice
    "report_dir": str(RESULTS_DIR / "report"),
    "report_gallery": 8,
    "report_seed": 0,
}

#: Environment variable that moves the asset cache (default: ~/.cache/frbench/assets).
ASSET_CACHE_ENV = "FRBENCH_CACHE"
