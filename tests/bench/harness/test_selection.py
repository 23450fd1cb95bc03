"""Sample selection: --limit takes the first N ids of ONE seeded permutation (bench.harness.selection)."""
import hashlib
import random
from collections import Counter
from types import SimpleNamespace

import pytest

from bench.harness import selection
from bench.api import run, run_ids
from bench.core.types import AGE_BIN_LABELS


def _items(ids):
    return [SimpleNamespace(id=i) for i in ids]


def test_order_is_a_seeded_sha256_permutation_of_the_ids():
    ids = [f"face{i:03d}" for i in range(50)]
    got = [s.id for s in selection.ordered(_items(ids), "random", 7)]
    expected = sorted(ids, key=lambda i: hashlib.sha256(f"frbench-subset:7:{i}".encode()).digest())
    assert got == expected and sorted(got) == ids
    assert got != ids and got != [s.id for s in selection.ordered(_items(ids), "random", 8)]
    assert [s.id for s in selection.ordered(_items(ids), "first", 7)] == ids


def test_independent_of_listing_order_and_nested():
    ids = [f"{a}_{b}.jpg" for a in range(20) for b in range(3)]
    shuffled = ids[:]
    random.Random(1).shuffle(shuffled)
    a = [s.id for s in selection.select(_items(ids), 30, "random", 0)]
    b = [s.id for s in selection.select(_items(shuffled), 30, "random", 0)]
    assert a == b  # whatever order the file system lists them in
    small = [s.id for s in selection.select(_items(shuffled), 10, "random", 0)]
    assert small == a[:10]  # --limit 10 lies inside --limit 30, in the same order
    assert len(selection.select(_items(ids), None)) == len(ids)
    # a file added to the dataset keeps every other id's relative order
    grown = [s.id for s in selection.ordered(_items(ids + ["new.jpg"]), "random", 0)]
    assert [i for i in grown if i != "new.jpg"] == [s.id for s in selection.ordered(_items(ids), "random", 0)]
    with pytest.raises(ValueError, match="unknown subset order"):
        selection.ordered(_items(ids), "alphabetical")


def test_the_selection_is_in_the_identity_but_not_the_limit():
    assert selection.describe("random", 3) == {"order": "random", "seed": 3,
                                                "rule": "ids sorted by sha256('frbench-subset:{seed}:{id}')"}
    assert selection.describe("first", 3)["order"] == "first"


def _mix(samples):
    ages = Counter(AGE_BIN_LABELS[s.attributes.age_bin] for s in samples)
    male = sum(s.attributes.gender == 1 for s in samples) / len(samples)
    return ages, male


def test_utkface_limit_100_is_the_same_random_sample_for_every_method(utkface_dir, tmp_path):
    """--limit 100 --seed 0 on real UTKFace: the same ids for bicubic and bilinear, a balanced age range
    (name order would be 3 centenarians and 97 children)."""
    from bench.data.datasets.utkface import UTKFace

    store = tmp_path / "r.sqlite"
    common = dict(dataset="utkface", root=utkface_dir, degradation="x8", limit=100, seed=0, metrics="psnr",
                  store=store, progress=False, batch_size=50)
    a, b = run(method="bicubic", **common), run(method="bilinear", **common)
    ids_a, ids_b = run_ids(a.run_id, store), run_ids(b.run_id, store)
    assert ids_a == ids_b and len(ids_a) == 100
    assert "first 100 of 8,779 in seeded random order (seed 0)" in a.format()
    samples = {s.id: s for s in UTKFace(utkface_dir).samples}
    seeded_ages, seeded_male = _mix([samples[i] for i in ids_a])
    first_ages, first_male = _mix(sorted(samples.values(), key=lambda s: s.id)[:100])
    assert len(seeded_ages) >= 8 and 0.3 < seeded_male < 0.7  # most age bins, both genders
    assert len(first_ages) <= 3 and max(first_ages.values()) >= 90  # name order: nearly one age bin
    # nested: a run at --limit 50 takes the first 50 of the same ids
    c = run(method="bicubic", **{**common, "limit": 50, "store": tmp_path / "small.sqlite"})
    assert run_ids(c.run_id, tmp_path / "small.sqlite") == ids_a[:50]
