"""Strict key-and-shape check of an official state dict against a baseline network, with a structured error.

Used by the baselines whose error must name its parts (CodeFormer, VQFR): :class:`StateDictMismatchError`
carries ``missing`` (network keys absent from the file), ``unexpected`` (file keys the network does not
have) and ``mismatched`` (``(key, file shape, network shape)``), each sorted, and its message lists up to
eight of each.  :func:`load_strict` checks first and only then calls ``load_state_dict(strict=True)``, so
nothing is ever partially loaded.  (The other baselines use :func:`reference_models.state_dict.load_state_dict_strict`,
whose error has no such fields.)
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

import torch
from torch import nn

__all__ = ["StateDictMismatchError", "check_state_dict", "load_strict"]

NetT = TypeVar("NetT", bound=nn.Module)


class StateDictMismatchError(ValueError):
    """A state dict does not have exactly the keys and shapes of the network."""

    def __init__(self, message: str, missing: Sequence[str] = (), unexpected: Sequence[str] = (),
                 mismatched: Sequence[tuple[str, tuple, tuple]] = ()) -> None:
        super().__init__(message)
        self.missing = list(missing)
        self.unexpected = list(unexpected)
        self.mismatched = list(mismatched)


def check_state_dict(net: nn.Module, state_dict: Mapping[str, torch.Tensor], what: str = "network") -> None:
    """Raise :class:`StateDictMismatchError` unless ``state_dict`` has exactly ``net``'s keys and shapes.

    ``what`` names the network in the message (``"<what> state dict does not match the network: ..."``).
    """
    expected = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state_dict.items()}
    missing = sorted(set(expected) - set(got))
    unexpected = sorted(set(got) - set(expected))
    mismatched = sorted((k, got[k], expected[k]) for k in set(expected) & set(got) if got[k] != expected[k])
    if missing or unexpected or mismatched:
        def show(items) -> str:
            items = list(items)
            return ", ".join(map(str, items[:8])) + (f" ... (+{len(items) - 8} more)" if len(items) > 8 else "")

        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys: {show(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys: {show(unexpected)}")
        if mismatched:
            parts.append(f"{len(mismatched)} shape mismatches (key, file, network): {show(mismatched)}")
        raise StateDictMismatchError(f"{what} state dict does not match the network: " + "; ".join(parts),
                                     missing, unexpected, mismatched)


def load_strict(net: NetT, state_dict: Mapping[str, torch.Tensor], what: str = "network") -> NetT:
    """Strictly load ``state_dict`` (keys and shapes checked first, then ``strict=True``); returns ``net``."""
    check_state_dict(net, state_dict, what)
    net.load_state_dict(dict(state_dict), strict=True)
    return net
