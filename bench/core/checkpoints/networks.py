"""Loading an official checkpoint into a baseline network, shared by every baseline.

``weights`` is a local path (the released ``.pth`` dict, read with ``torch.load(weights_only=True)``, or a
flat ``.safetensors``), or ``None`` to take the named asset from the asset manager (sha256-checked; a clear
:class:`bench.core.assets.AssetUnavailableError` with download instructions when it is absent offline).  Either
file is noted for the run identity by :func:`bench.core.assets.load_state_dict` (:mod:`bench.core.provenance`).  The
network is built on the ``meta`` device and filled by the strict loader of the method, so a checkpoint
with a missing, unexpected or mis-shaped key is refused with the keys named.

``weights="random"`` instead builds a seeded random network (:func:`build_random`; smoke tests only): the
global RNG is forked, seeded with ``seed`` and restored, so the result depends on ``seed`` alone.
:func:`load_network` is the one entry point every baseline's ``load_*`` uses for either case.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

#: the provenance warning of a seeded random network
RANDOM_WEIGHTS_WARNING = "random weights: not the released model"


def read_official_state(weights: str | Path | None, asset: str,
                        keys: Sequence[str]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The state dict under the first of ``keys`` (e.g. ``params_ema``), or the flat dict; and its provenance."""
    from bench.core.assets import AssetManager
    from bench.core.checkpoints.loading import load_state_dict
    from bench.core.checkpoints.loading import CheckpointLoadError

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


def build_random(factory: Callable[[], torch.nn.Module], seed: int,
                 init: Callable[[torch.nn.Module], None] | None = None) -> tuple[torch.nn.Module, dict[str, Any]]:
    """``factory()`` (then ``init(net)``) under a forked global RNG seeded with ``seed``; and its provenance."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        net = factory()
        if init is not None:
            init(net)
    return net, {"weights": "random", "seed": int(seed), "warning": RANDOM_WEIGHTS_WARNING}


def load_network(factory: Callable[[], torch.nn.Module], weights: str | Path | None, asset: str,
                 keys: Sequence[str], strict_loader: Callable[[torch.nn.Module, dict[str, torch.Tensor]], Any], *,
                 device: str | torch.device = "cpu", seed: int = 0,
                 random_init: Callable[[torch.nn.Module], None] | None = None,
                 adapt_state: Callable[[dict[str, torch.Tensor], dict[str, Any]], dict[str, torch.Tensor]] | None = None,
                 ) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The network of ``factory`` with official or seeded random weights, on ``device`` in eval mode; and its provenance.

    ``weights == "random"``: :func:`build_random` (with ``random_init``).  Otherwise
    :func:`read_official_state` (``weights``, ``asset``, ``keys``), then ``adapt_state(state, info)`` (e.g. a
    key prefix removed; it may add entries to ``info``), then :func:`build_with_state` with ``strict_loader``.
    """
    if weights == "random":
        net, info = build_random(factory, seed, random_init)
    else:
        state, info = read_official_state(weights, asset, keys)
        if adapt_state is not None:
            state = adapt_state(state, info)
        net = build_with_state(factory, state, strict_loader)
    return net.to(device).eval(), info

