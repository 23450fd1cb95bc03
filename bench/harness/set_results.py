"""Set-level values of a run on any subset of its samples, from the per-image vectors in the store.

    value(run, metric, ids) = metric.compute( merge( fold(vectors of chunk, samples of chunk) for chunk in ids ) )

The store keeps, per image, the vectors a set-level metric needs (Inception features, attribute
predictions: :meth:`bench.core.types.SetMetric.channels`), never a running state.  So the runner computes a
run's values over all its members at the end of every pass, and a leaderboard computes them again on
the faces every method of a table restored (the common ids), exactly: FID on 50 common faces is the FID
that a 50-face run would have given.  Chunks of ``chunk`` samples keep memory flat (a chunk of 256
Inception features is 2 MB; FID merges its moments, KID keeps a bounded bottom-k sample), and the free pages
of each chunk's temporaries (FID: 16-32 MB moment matrices) are given back before the next
(:func:`bench.core.memory.release_free_memory`), so glibc does not serve the next chunk's large blocks from
heaps fragmented by the previous ones (measured: 18 MB less at the peak of the set-level FID of 10,000
faces; the larger end-of-run step from 1,000 to 10,000 faces is the full-rank Fréchet computation,
``docs/speed.md``).

The metric object that aggregates is rebuilt from the run's stored options through the registry:
constructing a set metric loads no network (the contract of :class:`bench.core.types.SetMetric`).  The
version of frbench that wrote the vectors is returned with the values, so a table can say when values
were recomputed by another version.
"""
from __future__ import annotations

import warnings
from typing import Any, Mapping, Sequence

from bench.core.memory import release_free_memory
from bench.core.registry import METRICS
from bench.harness.store import ResultStore
from bench.core.types import Attributes, Sample, SetMetric

#: samples per chunk when folding stored vectors
CHUNK = 256


def stored_attributes(data: Mapping[str, Any] | None) -> Attributes:
    """The :class:`Attributes` of a stored sample row (``Attributes.to_dict`` in the store)."""
    data = dict(data or {})
    age, age_bin, gender = data.pop("age", None), data.pop("age_bin", None), data.pop("gender", None)
    return Attributes(age=age, age_bin=age_bin, gender=gender, extra=data)


def aggregator(store: ResultStore, run_id: str, metric: str) -> tuple[SetMetric, dict[str, Any]]:
    """The set metric of ``run_id`` rebuilt from its stored options (no network), and its stored entry."""
    entries = store.run_metrics(run_id)
    if metric not in entries:
        raise KeyError(f"run {run_id} has no set-level metric {metric!r}")
    entry = entries[metric]
    return METRICS.build(metric, **entry["options"]), entry


def merged_state(store: ResultStore, run_id: str, metric: str, sample_ids: Sequence[str],
                 instance: SetMetric | None = None, chunk: int = CHUNK) -> tuple[SetMetric, dict[str, Any] | None]:
    """The metric object and its merged state over exactly ``sample_ids`` (``None`` for no ids).

    ``instance``: the metric object to aggregate with (the runner passes its own); default: rebuilt from
    the stored options.  Raises ``KeyError`` when a sample lacks a stored vector.
    """
    if instance is None:
        instance, entry = aggregator(store, run_id, metric)
    else:
        entry = store.run_metrics(run_id)[metric]
    total = None
    for rows, vectors in store.iter_set_inputs(run_id, sorted(sample_ids), entry["channels"], chunk=chunk):
        samples = [Sample(id=row["id"], attributes=stored_attributes(row["attributes"])) for row in rows]
        part = instance.fold(vectors, samples)
        total = part if total is None else instance.merge([total, part])
        del part, vectors
        release_free_memory()
    return instance, total


def compute_on_ids(store: ResultStore, run_id: str, metric: str, sample_ids: Sequence[str],
                   instance: SetMetric | None = None, chunk: int = CHUNK,
                   warnings_out: list[str] | None = None) -> dict[str, float | None]:
    """The values of set-level ``metric`` of ``run_id`` over exactly ``sample_ids`` (any subset of its members).

    The metric's warnings (e.g. FID on fewer than 2,048 images) are appended to ``warnings_out`` as text
    (tables show the counts instead).  See :func:`merged_state` for ``instance``.
    """
    instance, total = merged_state(store, run_id, metric, sample_ids, instance, chunk)
    if total is None:
        return {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values = instance.compute(total)
    if warnings_out is not None:
        warnings_out.extend(dict.fromkeys(f"{metric}: {w.message}" for w in caught))
    return values
