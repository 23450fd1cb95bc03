"""Shared test helpers.

``../shared`` (beside the repository root) holds real data and reference values that are not part of
the repository; tests that need it use the ``shared_dir`` fixture or :func:`shared_path`, which skip with
a clear reason when it is absent.
"""
from __future__ import annotations

from pathlib import Path

import pytest

#: ``<repo>/../shared`` (for a test at tests/<a>/<b>/test_x.py this is
#: ``Path(__file__).resolve().parents[3].parent / "shared"``).
SHARED_DIR = Path(__file__).resolve().parents[1].parent / "shared"


def shared_path(*parts: str) -> Path:
    """``../shared/<parts>``, or skip the calling test when it does not exist."""
    path = SHARED_DIR.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared test material {path} is absent (expected ../shared beside the repository)")
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ``../shared`` folder; skips the test when it is absent."""
    return shared_path()


@pytest.fixture(scope="session")
def shared():
    """The :func:`shared_path` function as a fixture: ``shared("data", "utkface")`` (skips when absent)."""
    return shared_path


@pytest.fixture
def utkface_dir() -> Path:
    """The real UTKFace images of ../shared (skips when absent)."""
    return shared_path("data", "utkface", "images")


@pytest.fixture(autouse=True)
def _isolated_asset_cache(tmp_path, monkeypatch):
    """No test reads or writes the developer's own asset cache."""
    monkeypatch.setenv("FRBENCH_CACHE", str(tmp_path / "asset-cache"))
    yield
