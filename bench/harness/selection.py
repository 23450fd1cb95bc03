"""Which samples a run uses: one seeded permutation of the dataset's ids, cut at ``--limit``.

A benchmark on a subset is only comparable when the subset is a random sample of the dataset, the same
for every method.  Name order is neither: on UTKFace the first 50 file names are 3 centenarians and
47 ten-year-old boys.  So ``--limit N`` takes the first ``N`` ids of ONE seeded permutation:

    order(ids, seed) = ids sorted by  sha256("frbench-subset:{seed}:{id}")

* It depends on the ids and the seed only, never on the file system's listing order.
* Subsets are nested: ``--limit 50`` lies inside ``--limit 100`` (same permutation, shorter prefix), so
  raising ``--limit`` extends a run with the next ids, and a table can compare runs of different limits
  on their common ids.
* The same (dataset, split, seed) gives the same ids for every method.
* A file added to the dataset takes its hash position: every other id keeps its relative order.

Name order stays available explicitly (``--subset first``).  The selection (order and seed, not the
limit) is part of the run identity; ``bench runs ids RUN`` lists a run's ids in this order.  Dataset
splits (``-D split=test``) are hash assignments of the id, independent of this order: the permutation
is applied within the split.
"""
from __future__ import annotations

import hashlib
from typing import Any, Sequence, TypeVar

#: ``--subset`` choices: ``random`` = the seeded permutation (default), ``first`` = name order
SUBSET_ORDERS: tuple[str, ...] = ("random", "first")

T = TypeVar("T")


def subset_key(seed: int, sample_id: str) -> bytes:
    """Sort key of one id in the seeded permutation: ``sha256("frbench-subset:{seed}:{id}")``."""
    return hashlib.sha256(f"frbench-subset:{int(seed)}:{sample_id}".encode("utf-8")).digest()


def ordered(items: Sequence[T], order: str = "random", seed: int = 0, key=lambda item: item.id) -> list[T]:
    """``items`` (samples, or anything with an id given by ``key``) in the run's order.

    ``order="random"``: the seeded permutation of the module documentation; ``"first"``: sorted by id.
    Ties cannot occur (ids are unique in a dataset; sha256 is collision-free in practice): the id itself
    breaks them anyway.
    """
    if order not in SUBSET_ORDERS:
        raise ValueError(f"unknown subset order {order!r}; expected one of {', '.join(SUBSET_ORDERS)}")
    if order == "first":
        return sorted(items, key=key)
    return sorted(items, key=lambda item: (subset_key(seed, key(item)), key(item)))


def select(items: Sequence[T], limit: int | None, order: str = "random", seed: int = 0,
           key=lambda item: item.id) -> list[T]:
    """The first ``limit`` items of :func:`ordered` (all of them when ``limit`` is None)."""
    chosen = ordered(items, order, seed, key)
    return chosen if limit is None else chosen[: int(limit)]


def describe(order: str, seed: int) -> dict[str, Any]:
    """The selection's part of the run identity (the limit is not in it: raising it extends the run)."""
    if order == "first":
        return {"order": "first", "rule": "sample ids sorted by name"}
    return {"order": "random", "seed": int(seed), "rule": "ids sorted by sha256('frbench-subset:{seed}:{id}')"}
