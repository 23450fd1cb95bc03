"""Run identities as hashes, and what differs between two recorded configurations.

A run id is the first 16 hex digits of the sha256 of its identity written as canonical JSON (sorted keys,
no spaces): the same identity gives the same id on any machine, in any key order.  When a resume asks a
run for a metric it already holds with another configuration, :func:`differences` names every changed
key (``describe.resize: "tf1-bilinear" -> "clean"``) in the refusal.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping


def stable_json(obj: Any) -> str:
    """Canonical JSON (sorted keys, no spaces) used for hashing identities."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def run_id_for(identity: Mapping[str, Any]) -> str:
    """16 hex digits of the sha256 of the canonical identity."""
    return hashlib.sha256(stable_json(identity).encode("utf-8")).hexdigest()[:16]


def differences(old: Any, new: Any, path: str = "") -> list[str]:
    """Human-readable list of what differs between two JSON-like values (``a.b: 1 -> 2``)."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in old:
                out.append(f"{where}: (absent) -> {stable_json(new[key])[:80]}")
            elif key not in new:
                out.append(f"{where}: {stable_json(old[key])[:80]} -> (absent)")
            else:
                out += differences(old[key], new[key], where)
        return out
    if stable_json(old) != stable_json(new):
        return [f"{path or 'value'}: {stable_json(old)[:80]} -> {stable_json(new)[:80]}"]
    return []


def alignment_label(identity: Mapping[str, Any]) -> str:
    """How a run's faces were framed, for table captions: ``none``, or ``ffhq (re-aligned from utkface)``.

    The ``alignment`` key is in a run's identity only when the alignment step was applied
    (:mod:`bench.data.framing`); runs without it fed the faces as the dataset frames them.
    """
    alignment = identity.get("alignment") if isinstance(identity, Mapping) else None
    if not isinstance(alignment, Mapping):
        return "none"
    return f"{alignment.get('name', '?')} (re-aligned from {alignment.get('dataset_framing', '?')})"
