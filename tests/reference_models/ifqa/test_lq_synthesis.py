"""IFQA's LQ synthesis: deterministic from (seed, index), parameters within the spec's ranges."""
from __future__ import annotations

import numpy as np
import pytest

from reference_models.ifqa.lq_synthesis import (
    RANGES,
    draw_params,
    motion_kernel,
    render,
    synthesize_lq,
    synthesize_lq_seeded,
)


def _face(size=64, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]
    base = np.stack([x * 255 / size, y * 255 / size, (x + y) * 127 / size], axis=2)
    return np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)


def test_deterministic_from_seed_and_index():
    hq = _face()
    a, pa = synthesize_lq_seeded(hq, 3, 7)
    b, pb = synthesize_lq_seeded(hq, 3, 7)
    _, pc = synthesize_lq_seeded(hq, 3, 8)
    assert pa == pb and np.array_equal(a, b)
    assert pa != pc
    assert np.array_equal(render(hq, pa), a)  # replayable from the recorded parameters


def test_parameters_within_ranges_and_shape_kept():
    hq = _face(64)
    rng = np.random.default_rng(0)
    blurs = set()
    for _ in range(200):
        p = draw_params(rng, 64)
        blurs.add(p["blur"])
        assert RANGES["resize_ratio"][0] <= p["resize_ratio"] < RANGES["resize_ratio"][1]
        assert np.sqrt(50) <= p["noise_sigma"] < np.sqrt(250)
        assert 5 <= p["jpeg_quality"] <= 49 and isinstance(p["jpeg_quality"], int)
        if p["blur"] == "gaussian":
            lo, hi = RANGES["gaussian_sigma_256"]
            assert lo * 64 / 256 <= p["sigma"] < hi * 64 / 256
        else:
            assert 1.0 <= p["length"] < RANGES["motion_length_256"][1] * 64 / 256
            assert 0 <= p["angle"] < np.pi
    assert blurs == {"gaussian", "motion"}
    lq, _ = synthesize_lq(hq, np.random.default_rng(1))
    assert lq.shape == hq.shape and lq.dtype == np.uint8
    assert np.abs(lq.astype(float) - hq).mean() > 1.0  # actually degraded


@pytest.mark.parametrize("length,angle", [(3.0, 0.0), (7.5, 1.0), (12.0, 2.5)])
def test_motion_kernel_normalised_and_odd(length, angle):
    k = motion_kernel(length, angle)
    assert k.shape[0] == k.shape[1] and k.shape[0] % 2 == 1
    assert abs(k.sum() - 1) < 1e-12 and (k >= 0).all()


def test_noise_and_jpeg_act_at_the_small_size(monkeypatch):
    """The documented order: blur at N, shrink to r*N, noise and JPEG at r*N, bicubic back to N (not an
    Albumentations-style Downscale that re-enlarges before the noise and the JPEG)."""
    import reference_models.ifqa.lq_synthesis as lqs

    seen = []
    real = lqs.jpeg_roundtrip

    def recording(image, quality):
        seen.append(image.shape)
        return real(image, quality)

    monkeypatch.setattr(lqs, "jpeg_roundtrip", recording)
    hq = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    lq, params = lqs.synthesize_lq_seeded(hq, 1, 2)
    small = max(4, int(round(params["resize_ratio"] * 64)))
    assert seen == [(small, small, 3)] and small < 64 and lq.shape == (64, 64, 3)
    # the noise is drawn with the small image's shape (the same draw as in render)
    noise = np.random.default_rng(params["noise_seed"]).standard_normal((small, small, 3))
    assert noise.shape == seen[0]
