"""Seeded choice of readable HQ faces for the training pipelines."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bench.data.datasets.folder import FolderDataset
from bench.data.training_faces import open_training_dataset, seeded_hq_faces


def test_seeded_choice_skips_unreadable_and_filtered_faces(tmp_path):
    rows = ["filename,age,gender"]
    for i in range(6):
        Image.fromarray(np.full((8, 8, 3), 10 * i, np.uint8)).save(tmp_path / f"f{i}.png")
        rows.append(f"f{i}.png,{20 + i},{i % 2}")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    rows.append("broken.png,30,1")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "unlabelled.png")
    (tmp_path / "attributes.csv").write_text("\n".join(rows) + "\n")
    ds = FolderDataset(tmp_path, kind="hq", coding="frbench")  # integer labels: the coding is declared
    labelled = lambda s: s.attributes.gender is not None  # noqa: E731
    a = seeded_hq_faces(ds, seed=3, keep=labelled, prepare=lambda im: int(im[0, 0, 0]))
    assert a.skipped == 1 and len(a.unreadable) == 1 and "broken.png" in a.unreadable[0][0]
    assert sorted(a.images) == [0, 10, 20, 30, 40, 50]
    assert a.images == [int(s.id[1]) * 10 for s in a.samples]      # prepare applied to each sample's own image
    b = seeded_hq_faces(ds, seed=3, keep=labelled, prepare=lambda im: int(im[0, 0, 0]), limit=4)
    assert b.images == a.images[:4]                                 # same seed, same order; limit counts readable
    c = seeded_hq_faces(ds, seed=4, keep=labelled, prepare=lambda im: int(im[0, 0, 0]))
    assert c.images != a.images and sorted(c.images) == sorted(a.images)


def _utkface_folder(tmp_path, n=20):
    for i in range(n):
        name = f"{20 + i}_{i % 2}_0_2017011617452{i:04d}.jpg.chip.jpg"
        Image.fromarray(np.full((8, 8, 3), i, np.uint8)).save(tmp_path / name)
    return tmp_path


@pytest.mark.parametrize("split", ["train", "test"])
def test_a_dataset_without_split_is_refused_unless_split_all(tmp_path, split):
    for i in range(2):
        Image.fromarray(np.full((8, 8, 3), i, np.uint8)).save(tmp_path / f"f{i}.png")
    with pytest.raises(ValueError) as info:
        open_training_dataset("folder", tmp_path, split, {"kind": "hq"})
    message = str(info.value)
    assert "\n" not in message and "'folder'" in message and "no train/test split" in message
    assert "test faces" in message and "--split all" in message
    ds = open_training_dataset("folder", tmp_path, "all", {"kind": "hq"})
    assert len(ds.samples) == 2
    with pytest.raises(ValueError, match="'synthetic' has no train/test split"):
        open_training_dataset("synthetic", None, split, {"n": 2, "size": 32})
    assert len(open_training_dataset("synthetic", None, "all", {"n": 3, "size": 32}).samples) == 3


def test_a_dataset_with_split_gets_it(tmp_path):
    root = _utkface_folder(tmp_path)
    train = open_training_dataset("utkface", root, "train")
    test = open_training_dataset("utkface", root, "test")
    every = open_training_dataset("utkface", root, "all")
    assert (train.split, test.split, every.split) == ("train", "test", "all")
    train_ids, test_ids = {s.id for s in train.samples}, {s.id for s in test.samples}
    assert train_ids and test_ids and not train_ids & test_ids
    assert train_ids | test_ids == {s.id for s in every.samples}


def test_other_dataset_errors_propagate_without_retry(tmp_path):
    root = _utkface_folder(tmp_path)
    with pytest.raises(ValueError, match="split must be"):          # the dataset's own error, unchanged
        open_training_dataset("utkface", root, "validation")
    with pytest.raises(ValueError, match="has no option 'nope'"):  # an unknown option is not retried
        open_training_dataset("utkface", root, "train", {"nope": 1})


def test_a_failing_dataset_is_opened_once(monkeypatch):
    from bench.core.registry import DATASETS

    calls = []

    def broken(root=None, *, split="all"):
        calls.append(split)
        raise RuntimeError("cannot read the metadata")

    real_get = DATASETS.get
    monkeypatch.setattr(DATASETS, "get", lambda name: broken if name == "broken" else real_get(name))
    with pytest.raises(RuntimeError, match="cannot read the metadata"):
        open_training_dataset("broken", None, "train")
    assert calls == ["train"]                                       # never retried without split
