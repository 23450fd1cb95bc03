"""Rows a dataset loader did not use, by reason: read from the dataset, kept with the run, printed.

Each loader counts every file, label row or metadata entry it drops or filters (and every label it keeps
only coarsely) in ``dataset.filter_counts``, a :class:`bench.data.datasets._common.RowCounts`. Its
records, ``{"reason", "kind", "count", "examples"}`` with ``kind`` one of ``bad data`` (the entry is wrong:
an age before birth, an unparsable name), ``filter`` (fine, but outside the selection asked for: an age
over ``max_age``, the other split) and ``coarse label`` (kept, a label coarser than the suite's), are:

* stored with the run, under :data:`CONFIG_KEY` of the run's ``config`` record (written again by a resume,
  which indexes the dataset again);
* printed by the run summary (:class:`bench.harness.summary.RunSummary`) and by ``bench errors``, one
  line per reason with its count (:func:`format_counts`; ``--examples`` adds the first few locations).

A plug-in dataset may give a plain ``{reason: count}`` mapping instead: its counts are shown as filters.
"""
from __future__ import annotations

from typing import Any, Mapping

#: Key of the records in a run's ``config``.
CONFIG_KEY = "dataset_counts"


def dataset_counts(dataset: Any) -> list[dict[str, Any]]:
    """The count records of an indexed dataset (``[]`` when it counts nothing)."""
    counts = getattr(dataset, "filter_counts", None)
    if counts is None:
        return []
    records = getattr(counts, "records", None)
    if callable(records):
        return [dict(r) for r in records()]
    return [{"reason": str(reason), "kind": "filter", "count": int(n), "examples": []}
            for reason, n in sorted(dict(counts).items()) if n]


def stored_counts(run: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The count records kept with a run (a row of :meth:`bench.harness.store.ResultStore.runs`)."""
    records = (run.get("config") or {}).get(CONFIG_KEY) or []
    return [r for r in records if isinstance(r, Mapping) and "reason" in r and "count" in r]


def format_counts(records: list[Mapping[str, Any]], examples: bool = False, indent: str = "  ",
                  hint: str = "") -> list[str]:
    """Text lines: a header with the totals by kind, then one line per reason (``count  kind  reason``)."""
    if not records:
        return []
    totals: dict[str, int] = {}
    for r in records:
        totals[str(r.get("kind", "filter"))] = totals.get(str(r.get("kind", "filter")), 0) + int(r["count"])
    head = ", ".join(f"{n:,} {kind}" for kind, n in totals.items())
    lines = [f"{indent}dataset entries not used or coarsened, by reason ({head}){hint}:"]
    for r in records:
        lines.append(f"{indent}  {int(r['count']):>9,}  {str(r.get('kind', 'filter')):<12}  {r['reason']}")
        if examples:
            lines.extend(f"{indent}             e.g. {where}" for where in r.get("examples") or [])
    return lines
