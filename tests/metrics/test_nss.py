"""The NSS building blocks: MATLAB imresize, 7x7 filtering, MSCN with exact zeros, grids and fits."""
import numpy as np
import pytest
import torch
from scipy.ndimage import correlate

from metrics.matlab_resize import imresize, imresize_dense, resize_matrix_np
from metrics.nss import (
    SNAP_THRESHOLD,
    aggd_fit,
    aggd_from_stats,
    filter_same,
    flat_window_mask,
    gaussian_window_1d,
    ggd_fit,
    ggd_from_stats,
    grid_argmin,
    grid_values,
    mscn,
    shifted_products,
    sign_stats,
    to_gray_255,
    _grid_np,
)
from tests.conftest import require_module


def test_resize_matrix_follows_matlab_contributions():
    # 8 -> 4 with antialiasing: kernel width 8, 10 taps, rows sum to 1, mirrored (symmetric) boundary
    m = resize_matrix_np(8, 0.5)
    assert m.shape == (4, 8)
    np.testing.assert_allclose(m.sum(axis=1), 1.0, atol=1e-15)
    # the interior weight pattern is the stretched Keys cubic (a = -0.5) sampled at x - j, x = 2u - 0.5
    u = 2
    x = u / 0.5 + 0.5 * (1 - 1 / 0.5)
    j = np.arange(1, 9)
    raw = 0.5 * np.where(np.abs(0.5 * (x - j)) <= 1, 1.5 * np.abs(0.5 * (x - j)) ** 3 - 2.5 * (0.5 * (x - j)) ** 2 + 1,
                         np.where(np.abs(0.5 * (x - j)) <= 2, -0.5 * np.abs(0.5 * (x - j)) ** 3
                                  + 2.5 * (0.5 * (x - j)) ** 2 - 4 * np.abs(0.5 * (x - j)) + 2, 0))
    # output 2 of an 8-pixel axis touches pixels -1..8 (1-based); pixels 0 and -1 mirror to 1 and 2
    full = {k: 0.5 * _keys(0.5 * (x - k)) for k in range(x.__floor__() - 4, x.__floor__() + 6)}
    total = sum(full.values())
    expected = np.zeros(8)
    for k, w in full.items():
        idx = k if k >= 1 else 1 - k  # 0 -> 1, -1 -> 2 (aux = [1:n, n:-1:1])
        if idx > 8:
            idx = 17 - idx
        expected[idx - 1] += w / total
    np.testing.assert_allclose(m[u - 1], expected, atol=1e-15)
    assert raw.shape == (8,)


def _keys(t):
    t = abs(t)
    if t <= 1:
        return 1.5 * t ** 3 - 2.5 * t ** 2 + 1
    if t <= 2:
        return -0.5 * t ** 3 + 2.5 * t ** 2 - 4 * t + 2
    return 0.0


@pytest.mark.parametrize("shape", [(512, 512), (384, 512), (97, 31), (15, 14), (7, 9), (3, 3)])
def test_strided_imresize_equals_dense_matrix(shape):
    x = torch.rand((2, 1) + shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 255
    fast, dense = imresize(x, 0.5), imresize_dense(x, 0.5)
    assert fast.shape == dense.shape == (2, 1, -(-shape[0] // 2), -(-shape[1] // 2))
    assert torch.allclose(fast, dense, rtol=0, atol=1e-11)


def test_imresize_keeps_constants_exactly_and_matches_pyiqa():
    const = torch.full((1, 1, 40, 30), 97.0, dtype=torch.float64)
    assert torch.equal(imresize(const, 0.5), torch.full((1, 1, 20, 15), 97.0, dtype=torch.float64))
    pyiqa_resize = require_module("pyiqa.matlab_utils", reason="pyiqa is not installed (test extra)").imresize
    x = torch.rand(1, 1, 64, 48, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 255
    theirs = pyiqa_resize(x, scale=0.5, antialiasing=True)
    assert torch.allclose(imresize(x, 0.5), theirs.to(torch.float64), atol=1e-9)


@pytest.mark.parametrize("padding,mode", [("replicate", "nearest"), ("zeros", "constant")])
def test_filter_same_equals_2d_correlation_with_fspecial_window(padding, mode):
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, size=(37, 50)).astype(np.float64)
    g = gaussian_window_1d().numpy()
    window = np.outer(g, g)
    window /= window.sum()
    expected = correlate(image, window, mode=mode, cval=0.0)
    got = filter_same(torch.from_numpy(image)[None, None], padding)[0, 0].numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-11)


def test_mscn_exact_zeros_in_flat_windows():
    image = torch.full((1, 1, 30, 30), 128.0, dtype=torch.float64)
    image[..., 10:20, 10:20] = torch.from_numpy(np.random.default_rng(2).integers(0, 256, (10, 10)).astype(np.float64))
    raw = mscn(image, "replicate", snap_zeros=False)
    snapped = mscn(image, "replicate")
    flat = flat_window_mask(image, "replicate")
    assert bool((snapped[flat] == 0).all())
    assert float(raw[flat].abs().max()) < SNAP_THRESHOLD  # only rounding residue there
    assert bool((snapped[~flat] != 0).all())  # (a random texture has no pixel equal to its local mean)
    # a linear ramp does: there the exact MSCN is 0 too (pixel = its weighted local mean), and is snapped
    ramp = torch.arange(40, dtype=torch.float64).repeat(40, 1)[None, None]
    assert bool((mscn(ramp, "replicate")[..., 5:-5, 5:-5] == 0).all())


def test_grid_is_matlab_colon_and_ratio_curves_are_monotonic():
    gam = grid_values()
    assert gam.size == 9801 and gam[0] == 0.2 and gam[-1] == 10.0 and abs(gam[1234] - 1.434) < 1e-15
    grid = _grid_np()
    assert np.all(np.diff(grid["r_aggd"]) > 0) and np.all(np.diff(grid["r_ggd"]) < 0)


def test_grid_argmin_equals_brute_force_min_with_matlab_semantics():
    grid = _grid_np()
    rng = np.random.default_rng(0)
    for name, increasing, squared in (("r_aggd", True, True), ("r_ggd", False, False)):
        curve = torch.from_numpy(grid[name])
        targets = np.concatenate([rng.uniform(grid[name].min() * 0.9, grid[name].max() * 1.1, 2000),
                                  grid[name][[0, 5, 9800]], [np.nan]])
        got = grid_argmin(curve, torch.from_numpy(targets), increasing=increasing, squared=squared).numpy()
        for target, index in zip(targets, got):
            if np.isnan(target):
                assert index == 0  # MATLAB min of an all-NaN vector returns index 1
                continue
            diff = (grid[name] - target) ** 2 if squared else np.abs(grid[name] - target)
            assert index == int(np.argmin(diff))  # first minimum, as MATLAB


def test_fits_from_sums_equal_direct_fits_and_handle_empty_sides():
    rng = np.random.default_rng(5)
    vec = torch.from_numpy(np.concatenate([rng.laplace(size=3000) * 0.7, np.zeros(50), rng.normal(size=2000)]))[None]
    direct = aggd_fit(vec)
    summed = aggd_from_stats(sign_stats(vec))
    for key in ("alpha", "left_std", "right_std"):
        assert torch.allclose(direct[key], summed[key], rtol=1e-12, atol=0)
    alpha, var = ggd_fit(vec)
    alpha2, var2 = ggd_from_stats(sign_stats(vec))
    assert torch.allclose(alpha, alpha2) and torch.allclose(var, var2, rtol=1e-12)
    # no negative value: left sigma undefined (NaN) and alpha falls back to the first grid value (MATLAB)
    positive = torch.from_numpy(np.abs(rng.normal(size=500)))[None]
    fit = aggd_from_stats(sign_stats(positive))
    assert torch.isnan(fit["left_std"]).all() and float(fit["alpha"][0]) == 0.2 and torch.isfinite(fit["right_std"]).all()


def test_shifted_products_are_circshift_products():
    x = torch.randn(2, 9, 11, dtype=torch.float64)
    for (dr, dc), p in zip(((0, 1), (1, 0), (1, 1), (-1, 1)), shifted_products(x)):
        assert torch.equal(p, x * torch.roll(x, shifts=(dr, dc), dims=(-2, -1)))


def test_flat_window_counts_of_the_calibration_images(calibration_batch):
    # the counts quoted by docs/protocols/nr-iqa-calibration.md (I03, I04, I06, I08, I19)
    names, images = calibration_batch
    gray = to_gray_255(images)
    counts = dict(zip(names, flat_window_mask(gray, "replicate").sum(dim=(1, 2, 3)).tolist()))
    assert counts == {"I03.bmp": 3416, "I04.bmp": 0, "I06.bmp": 1242, "I08.bmp": 4056, "I19.bmp": 62718}


def test_gray_is_matlab_rgb2gray_of_uint8(calibration_batch):
    _, images = calibration_batch
    from_uint8 = to_gray_255(images[:1])
    from_float = to_gray_255(images[:1].float() / 255)
    assert torch.equal(from_uint8, from_float)
    assert from_uint8.dtype == torch.float64 and bool((from_uint8 == from_uint8.round()).all())
