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
    "limit": None,
    "seed": 0,
    "batch_size": 16,
    "store": str(RESULTS_DIR / "results.sqlite"),
    "out": str(RESULTS_DIR),
    "save_images": False,
    "device": "cpu",
    "workers": 2,  # decoding threads
    "leaderboard_dir": str(RESULTS_DIR / "leaderboard"),
}

#: Environment variable that moves the asset cache (default: ~/.cache/frbench/assets).
ASSET_CACHE_ENV = "FRBENCH_CACHE"
