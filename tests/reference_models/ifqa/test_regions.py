"""Face-region masks (eyes / nose / mouth / rest) of reference_models.ifqa.regions."""
import numpy as np
import pytest

from reference_models.ifqa.regions import (
    PRIMARY_REGIONS,
    REGIONS,
    TEMPLATE_LANDMARKS,
    region_masks,
    region_means,
    template_landmarks,
)


@pytest.mark.parametrize("template", ["ffhq", "utkface"])
def test_template_masks_partition_the_image_and_sit_where_faces_are(template):
    masks = region_masks(None, 256, template=template)
    assert set(masks) == set(REGIONS)
    stack = np.stack([masks[k] for k in REGIONS])
    assert stack.dtype == bool and stack.shape == (4, 256, 256)
    assert (stack.sum(0) == 1).all()                                   # a partition
    ys, xs = np.nonzero(masks["eyes"])
    my, _ = np.nonzero(masks["mouth"])
    ny, _ = np.nonzero(masks["nose"])
    assert ys.mean() < ny.mean() < my.mean()                            # eyes above nose above mouth
    assert abs(xs.mean() - 128) < 10 and all(masks[k].mean() > 0.01 for k in PRIMARY_REGIONS)


def test_ffhq_template_agrees_with_the_common_ffhq_five_point_layout():
    pts = TEMPLATE_LANDMARKS["ffhq"]
    left, right = pts[36:42].mean(0), pts[42:48].mean(0)
    # eye centres of FFHQ-aligned faces at about (0.377, 0.469) and (0.623, 0.469) of the image
    assert np.allclose(left, (0.377, 0.469), atol=0.015) and np.allclose(right, (0.623, 0.469), atol=0.015)


def test_landmarks_masks_follow_the_landmarks_and_non_square_sizes():
    pts = template_landmarks("ffhq", (200, 100))
    masks = region_masks(pts, (200, 100))
    assert masks["eyes"].shape == (200, 100)
    shifted = region_masks(pts + [0, 20], (200, 100))
    assert np.nonzero(shifted["mouth"])[0].mean() > np.nonzero(masks["mouth"])[0].mean() + 15
    with pytest.raises(ValueError, match="68"):
        region_masks(pts[:5], 256)


def test_region_means_weighted_by_area_give_the_mean():
    rng = np.random.default_rng(0)
    p = rng.random((256, 256))
    masks = region_masks(None, 256)
    means = region_means(p, masks)
    total = sum(means[k] * masks[k].sum() for k in REGIONS) / p.size
    assert abs(total - p.mean()) < 1e-12
