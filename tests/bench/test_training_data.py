"""Seeded choice of readable HQ faces for the training pipelines."""
from __future__ import annotations

import numpy as np
from PIL import Image

from bench.datasets.folder import FolderDataset
from bench.training_data import seeded_hq_faces


def test_seeded_choice_skips_unreadable_and_filtered_faces(tmp_path):
    rows = ["filename,age,gender"]
    for i in range(6):
        Image.fromarray(np.full((8, 8, 3), 10 * i, np.uint8)).save(tmp_path / f"f{i}.png")
        rows.append(f"f{i}.png,{20 + i},{i % 2}")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    rows.append("broken.png,30,1")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "unlabelled.png")
    (tmp_path / "attributes.csv").write_text("\n".join(rows) + "\n")
    ds = FolderDataset(tmp_path)
    labelled = lambda s: s.attributes.gender is not None  # noqa: E731
    a = seeded_hq_faces(ds, seed=3, keep=labelled, prepare=lambda im: int(im[0, 0, 0]))
    assert a.skipped == 1 and len(a.unreadable) == 1 and "broken.png" in a.unreadable[0][0]
    assert sorted(a.images) == [0, 10, 20, 30, 40, 50]
    assert a.images == [int(s.id[1]) * 10 for s in a.samples]      # prepare applied to each sample's own image
    b = seeded_hq_faces(ds, seed=3, keep=labelled, prepare=lambda im: int(im[0, 0, 0]), limit=4)
    assert b.images == a.images[:4]                                 # same seed, same order; limit counts readable
    c = seeded_hq_faces(ds, seed=4, keep=labelled, prepare=lambda im: int(im[0, 0, 0]))
    assert c.images != a.images and sorted(c.images) == sorted(a.images)
