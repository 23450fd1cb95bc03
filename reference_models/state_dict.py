"""Strict state-dict loading and manifest comparison shared by the ported reference networks.

Every port in :mod:`reference_models` loads official (or fixture) parameters through
:func:`load_state_dict_strict`: it never silently drops or ignores a key; any missing key, unexpected
key or shape mismatch raises :class:`StateDictMismatchError` naming them.  :func:`manifest_mismatches`
compares a network (typically built on the ``meta`` device, so production-size models cost no memory)
with a golden ``manifest_full.json`` (``{"keys": {name: [shape, dtype, "param"|"buffer"]}}``).
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

# the same exception class as the attribute-predictor port, so callers catch one type
from .attribute_classifiers.dbfr_attribute_predictor import StateDictMismatchError

__all__ = ["StateDictMismatchError", "load_state_dict_strict", "manifest_mismatches", "state_dict_mismatches"]


def _show(items: list[str], limit: int = 8) -> str:
    if not items:
        return "none"
    return ", ".join(items[:limit]) + (f" ... (+{len(items) - limit})" if len(items) > limit else "")


def state_dict_mismatches(model: nn.Module, state: Mapping[str, torch.Tensor]) -> dict[str, list[str]]:
    """``{"missing": [...], "unexpected": [...], "shape": [...]}`` between ``model`` and ``state``."""
    own = model.state_dict()
    return {
        "missing": [k for k in own if k not in state],
        "unexpected": [k for k in state if k not in own],
        "shape": [f"{k}: file {tuple(state[k].shape)} vs network {tuple(own[k].shape)}"
                  for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)],
    }


def load_state_dict_strict(model: nn.Module, state: Mapping[str, torch.Tensor], what: str = "network") -> None:
    """Load ``state`` into ``model`` after checking keys and shapes; raise naming every mismatch."""
    bad = state_dict_mismatches(model, state)
    if any(bad.values()):
        raise StateDictMismatchError(
            f"{what} state dict mismatch: missing keys: {_show(bad['missing'])}; unexpected keys: "
            f"{_show(bad['unexpected'])}; shape mismatches: {_show(bad['shape'])}")
    model.load_state_dict(dict(state), strict=True)


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
        out.append(f"missing: {_show(missing)}; unexpected: {_show(unexpected)}" if missing or unexpected
                   else "same keys but in a different order")
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
