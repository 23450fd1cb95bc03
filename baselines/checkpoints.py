"""Loading an official checkpoint into a baseline network, shared by every baseline.

``weights`` is a local path (the released ``.pth`` dict, read with ``torch.load(weights_only=True)``, or a
flat ``.safetensors``), or ``None`` to take the named asset from the asset manager (sha256-checked; a clear
:class:`bench.assets.AssetUnavailableError` with download instructions when it is absent offline).  The
network is built on the ``meta`` device and filled by the strict loader of the method, so a checkpoint
with a missing, unexpected or mis-shaped key is refused with the keys named.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import torch


def read_official_state(weights: str | Path | None, asset: str,
                        keys: Sequence[str]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The state dict under the first of ``keys`` (e.g. ``params_ema``), or the flat dict; and its provenance."""
    from bench.assets import AssetManager, load_state_dict
    from bench.assets.safe_load import CheckpointLoadError

    if weights is None:
        path, source = AssetManager().path(asset), f"asset:{asset}"
    else:
        path, source = Path(weights).expanduser(), "path"
    try:
        state = load_state_dict(path, key=tuple(keys))
    except CheckpointLoadError as exc:
        if "none of the keys" not in str(exc):
            raise
        state = load_state_dict(path)  # a flat state dict (e.g. converted to .safetensors)
    return state, {"weights": str(path), "source": source, "file_bytes": Path(path).stat().st_size}


def build_with_state(factory: Callable[[], torch.nn.Module], state: dict[str, torch.Tensor],
                     strict_loader: Callable[[torch.nn.Module, dict[str, torch.Tensor]], Any]) -> torch.nn.Module:
    """Build ``factory()`` without allocating random weights, then load ``state`` with ``strict_loader``."""
    with torch.device("meta"):
        net = factory()
    net = net.to_empty(device="cpu")
    strict_loader(net, state)
    return net
