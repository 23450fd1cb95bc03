"""Facial Primary Region Swap: exactly the region pixels are swapped and the target map marks them."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from reference_models.ifqa.fprs import (
    DIRECTIONS,
    PRIMARY_REGIONS,
    draw_swap,
    face_mask_from_landmarks,
    fprs_mix,
    fprs_target,
    swap_mask,
    template_masks,
)
from reference_models.ifqa.regions import template_landmarks


@pytest.mark.parametrize("layout", ["utkface", "ffhq"])
def test_template_masks_regions_inside_face(layout):
    regions, face = template_masks(layout, 64)
    assert set(regions) == set(PRIMARY_REGIONS)
    for name, m in regions.items():
        assert m.shape == (64, 64) and m.dtype == bool and m.any()
        assert (m & face).sum() >= 0.9 * m.sum(), name  # primary regions lie in the face mask
    assert 0.05 < face.mean() < 0.9


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_swap_exactly_region_pixels_and_target(direction):
    regions, face = template_masks("utkface", 64)
    g = torch.Generator().manual_seed(0)
    hq = torch.rand(2, 3, 64, 64, generator=g) * 2 - 1
    fake = torch.rand(2, 3, 64, 64, generator=g) * 2 - 1
    mask_np = swap_mask(regions, ("eyes", "mouth"))
    assert np.array_equal(mask_np, regions["eyes"] | regions["mouth"])
    mask = torch.from_numpy(mask_np)[None, None]
    mixed, prov = fprs_mix(hq, fake, mask, direction)
    inside = mask.expand(2, 3, 64, 64)
    if direction == "hq_into_fake":
        assert torch.equal(mixed[inside], hq[inside]) and torch.equal(mixed[~inside], fake[~inside])
        assert torch.equal(prov[0, 0].bool(), mask[0, 0])
    else:
        assert torch.equal(mixed[inside], fake[inside]) and torch.equal(mixed[~inside], hq[~inside])
        assert torch.equal(prov[0, 0].bool(), ~mask[0, 0])
    target = fprs_target(prov, torch.from_numpy(face.copy())[None, None].float())
    expected = prov[0, 0].bool().numpy() & face
    assert np.array_equal(target[1, 0].numpy().astype(bool), expected)
    assert set(torch.unique(target).tolist()) <= {0.0, 1.0}


def test_draw_swap_non_empty_and_both_directions():
    rng = np.random.default_rng(0)
    seen_dirs, sizes = set(), set()
    for _ in range(200):
        chosen, direction = draw_swap(rng)
        assert chosen and set(chosen) <= set(PRIMARY_REGIONS)
        seen_dirs.add(direction); sizes.add(len(chosen))
    assert seen_dirs == set(DIRECTIONS) and sizes == {1, 2, 3}


def test_face_mask_from_landmarks_covers_jaw_to_brows():
    pts = template_landmarks("utkface", 100)
    face = face_mask_from_landmarks(pts, 100)
    for x, y in pts[:27].astype(int):  # jaw and brows lie on or inside the hull
        assert face[max(0, min(99, y - 1)):y + 2, max(0, x - 1):x + 2].any()
    assert not face[0, 0] and not face[99, 0]
