"""Strict state-dict checks: every key and shape of a parameter file against a network, or nothing loads.

:func:`check_state_dict` compares a state dict with a network and raises :class:`StateDictMismatchError`
naming ``missing`` keys (in the network, not in the file), ``unexpected`` keys (in the file, not in the
network) and ``mismatched`` shapes (``(key, file shape, network shape)``), each sorted, up to eight of
each in the message and all of them on the exception.  :func:`load_strict` checks first and only then
calls ``load_state_dict(strict=True)``: a network is never partially loaded, and nothing is silently
dropped (no ``strict=False`` anywhere in the suite).  :func:`manifest_mismatches` compares a network
(typically built on the ``meta`` device, so production-size models cost no memory) with a golden
manifest ``{"keys": {name: [shape, dtype, "param"|"buffer"]}}``.

Every port of the suite (baselines, DebiasFR, IFQA, the FID Inception, the attribute classifiers) loads
through these functions, so callers catch one error type.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

import torch
from torch import nn

__all__ = ["StateDictMismatchError", "check_state_dict", "load_strict", "manifest_mismatches",
           "state_dict_mismatches"]

NetT = TypeVar("NetT", bound=nn.Module)


class StateDictMismatchError(ValueError):
    """A state dict does not have exactly the keys and shapes of the network (the one error class)."""

    def __init__(self, message: str, missing: Sequence[str] = (), unexpected: Sequence[str] = (),
                 mismatched: Sequence[tuple[str, tuple, tuple]] = ()) -> None:
        super().__init__(message)
        self.missing = list(missing)
        self.unexpected = list(unexpected)
        self.mismatched = list(mismatched)


def _show(items: Sequence, limit: int = 8) -> str:
    items = list(items)
    return ", ".join(map(str, items[:limit])) + (f" ... (+{len(items) - limit} more)" if len(items) > limit else "")


def state_dict_mismatches(net: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> dict[str, list]:
    """``{"missing": [...], "unexpected": [...], "mismatched": [(key, file shape, network shape), ...]}``."""
    expected = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state_dict.items()}
    return {"missing": sorted(set(expected) - set(got)), "unexpected": sorted(set(got) - set(expected)),
            "mismatched": sorted((k, got[k], expected[k]) for k in set(expected) & set(got) if got[k] != expected[k])}


def check_state_dict(net: nn.Module, state_dict: Mapping[str, torch.Tensor], what: str = "network") -> None:
    """Raise :class:`StateDictMismatchError` unless ``state_dict`` has exactly ``net``'s keys and shapes.

    ``what`` names the network in the message (``"<what> state dict does not match the network: ..."``).
    """
    bad = state_dict_mismatches(net, state_dict)
    if any(bad.values()):
        parts = []
        if bad["missing"]:
            parts.append(f"{len(bad['missing'])} missing keys: {_show(bad['missing'])}")
        if bad["unexpected"]:
            parts.append(f"{len(bad['unexpected'])} unexpected keys: {_show(bad['unexpected'])}")
        if bad["mismatched"]:
            parts.append(f"{len(bad['mismatched'])} shape mismatches (key, file, network): {_show(bad['mismatched'])}")
        raise StateDictMismatchError(f"{what} state dict does not match the network: " + "; ".join(parts),
                                     bad["missing"], bad["unexpected"], bad["mismatched"])


def load_strict(net: NetT, state_dict: Mapping[str, torch.Tensor], what: str = "network") -> NetT:
    """Strictly load ``state_dict`` (keys and shapes checked first, then ``strict=True``); returns ``net``."""
    check_state_dict(net, state_dict, what)
    net.load_state_dict(dict(state_dict), strict=True)
    return net


def manifest_mismatches(model: nn.Module, manifest: Mapping) -> list[str]:
    """Differences (order, names, shapes, dtypes, param/buffer kind) between ``model`` and a manifest.

    Empty list = the network's ``state_dict()`` has exactly the manifest's keys, in the same order.
    """
    want = manifest["keys"]
    own = model.state_dict(keep_vars=True)
    params = {k for k, _ in model.named_parameters()}
    out = []
    if list(own) != list(want):
        missing = [k for k in want if k not in own]
        unexpected = [k for k in own if k not in want]
        out.append(f"missing: {_show(missing) or 'none'}; unexpected: {_show(unexpected) or 'none'}"
                   if missing or unexpected else "same keys but in a different order")
    for key, (shape, dtype, kind) in want.items():
        if key not in own:
            continue
        t = own[key]
        if list(t.shape) != list(shape):
            out.append(f"{key}: shape {tuple(t.shape)} vs manifest {tuple(shape)}")
        if str(t.dtype).replace("torch.", "") != dtype:
            out.append(f"{key}: dtype {t.dtype} vs manifest {dtype}")
        if ("param" if key in params else "buffer") != kind:
            out.append(f"{key}: kind vs manifest {kind}")
    return out
