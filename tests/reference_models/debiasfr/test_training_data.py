"""DebiasFR training faces: the HQ is resized to the training size as the official data pipeline does
(``cv2.resize(img_gt, (512, 512), interpolation=cv2.INTER_LINEAR)`` of the float image): float bilinear,
no antialias, not rounded to 8 bits."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.core.imageio import read_image
from bench.data.datasets.synthetic import SyntheticFaces
from reference_models.debiasfr.training_data import hq_batch, load_training_faces


def _quiet(_msg):
    pass


def test_training_hq_is_the_float_bilinear_of_the_official_pipeline():
    cv2 = pytest.importorskip("cv2")
    dataset = SyntheticFaces(n=4, size=48, seed=2)
    faces = load_training_faces(dataset, 32, log=_quiet)
    native = {s.id: read_image(s.hq, name=s.id) for s in dataset.samples}
    assert faces["hq01"] is not None and faces["hq01"].dtype == torch.float32
    for i, sample_id in enumerate(faces["ids"]):
        official = cv2.resize(native[sample_id].astype(np.float32) / 255, (32, 32), interpolation=cv2.INTER_LINEAR)
        ours = faces["hq01"][i].permute(1, 2, 0).numpy()
        assert np.abs(ours - official).max() < 1e-5                        # the same float image ...
    levels = faces["hq01"] * 255
    assert (levels - levels.round()).abs().max() > 0.05                    # ... not rounded to 8-bit levels
    assert torch.equal(faces["images"], levels.round().to(torch.uint8))    # the 8-bit copy is its rounding
    idx = torch.tensor([1, 0])
    assert torch.equal(hq_batch(faces, idx), faces["hq01"][idx])
    assert "antialias=False" in faces["hq_resize"] and "not rounded" in faces["hq_resize"]


def test_antialias_is_an_option_and_native_size_faces_stay_exact():
    dataset = SyntheticFaces(n=3, size=96, seed=2)
    plain = load_training_faces(dataset, 32, log=_quiet)["hq01"]
    smooth = load_training_faces(dataset, 32, log=_quiet, antialias=True)["hq01"]
    assert (plain - smooth).abs().max() > 0.01                            # antialias changes a 3x reduction
    same = load_training_faces(SyntheticFaces(n=3, size=32, seed=2), 32, log=_quiet)
    assert same["hq01"] is None                                           # nothing resized: the 8-bit faces
    idx = torch.tensor([0, 2])
    assert torch.equal(hq_batch(same, idx), same["images"][idx].float() / 255)
