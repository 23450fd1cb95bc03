"""SSIM: calibration against the official ssim.m values, equality with scikit-image, conventions.

Why scikit-image agrees to float64 rounding although it pads: ``structural_similarity`` with
``gaussian_weights=True, sigma=1.5`` filters the whole image with ``scipy.ndimage.gaussian_filter``
(``truncate=3.5`` -> radius ``int(3.5*1.5 + 0.5) = 5`` -> the same normalised 11-tap kernel as MATLAB's
``fspecial('gaussian', 11, 1.5)``) in 'reflect' mode, then averages the SSIM map only after cropping
``pad = (win_size - 1) // 2 = 5`` pixels on every side.  A map pixel at least 5 pixels from the border
never sees padded values, so the cropped map *is* MATLAB's 'valid' map, and the two means are equal.
``use_sample_covariance=False`` gives MATLAB's population moments and ``data_range=255`` its L.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import metrics.ssim as ssim_module
from bench.core.registry import METRICS
from metrics.ssim import SSIM, gaussian_window_1d, ssim, ssim_gray, ssim_y

from tests.conftest import require_module

from tests.metrics.conftest import round_sig, to_tensor

skmetrics = require_module("skimage.metrics", reason="scikit-image (test extra) is needed for cross-checks")
skcolor = require_module("skimage.color")

SK_OPTIONS = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)


def _matlab_gray(images: np.ndarray) -> np.ndarray:
    x = images.astype(np.float64)
    return np.floor(0.298936021293775 * x[..., 0] + 0.587043074451121 * x[..., 1]
                    + 0.114020904255103 * x[..., 2] + 0.5)


def test_calibration_matches_official_ssim(calibration):
    """Official SSIM = Z. Wang's ssim.m on MATLAB ``rgb2gray`` input, downsampling removed (pyiqa notes).

    Must round to the printed 4 significant digits and lie within 0.05 % on all five TID2013 pairs.
    """
    names, dist, ref, official = calibration
    values = ssim(to_tensor(dist), to_tensor(ref), channel="gray")
    assert values.dtype == torch.float64 and values.shape == (len(names),)
    for name, value in zip(names, values.tolist()):
        target = official["ssim"][name]
        assert abs(value - target) / target < 5e-4, (name, value, target)
        assert round_sig(value) == pytest.approx(target, abs=1e-12), (name, value, target)
    # the RGB (BasicSR) variant is a different number on these colour distortions: the row is gray SSIM
    rgb = ssim(to_tensor(dist), to_tensor(ref), channel="rgb")
    assert abs(rgb[0].item() - official["ssim"][names[0]]) > 0.01


def test_rgb_equals_skimage_on_faces(utk_pairs):
    hq, degraded = utk_pairs
    ours = ssim(to_tensor(degraded), to_tensor(hq))
    ref = [skmetrics.structural_similarity(h, d, channel_axis=2, **SK_OPTIONS) for h, d in zip(hq, degraded)]
    np.testing.assert_allclose(ours.numpy(), ref, rtol=0, atol=1e-9)
    assert 0.3 < min(ref) and max(ref) < 0.99


def test_skimage_mean_is_the_valid_map(utk_pairs):
    """The border handling argument of the module docstring, checked on the full skimage map."""
    hq, degraded = utk_pairs
    h, d = _matlab_gray(hq[:1])[0], _matlab_gray(degraded[:1])[0]
    mean, full_map = skmetrics.structural_similarity(h, d, full=True, **SK_OPTIONS)
    assert mean == pytest.approx(full_map[5:-5, 5:-5].mean(), abs=1e-15)
    assert abs(full_map.mean() - mean) > 1e-6  # the padded border would change the value
    ours = ssim(to_tensor(degraded[:1]), to_tensor(hq[:1]), channel="gray").item()
    assert ours == pytest.approx(mean, abs=1e-9)


def test_y_gray_and_crop_border_equal_skimage(utk_pairs):
    hq, degraded = utk_pairs
    restored, reference = to_tensor(degraded), to_tensor(hq)
    y_h, y_d = skcolor.rgb2ycbcr(hq)[..., 0], skcolor.rgb2ycbcr(degraded)[..., 0]
    ref_y = [skmetrics.structural_similarity(h, d, **SK_OPTIONS) for h, d in zip(y_h, y_d)]
    np.testing.assert_allclose(ssim(restored, reference, channel="y").numpy(), ref_y, rtol=0, atol=1e-9)
    g_h, g_d = _matlab_gray(hq), _matlab_gray(degraded)
    ref_g = [skmetrics.structural_similarity(h, d, **SK_OPTIONS) for h, d in zip(g_h, g_d)]
    np.testing.assert_allclose(ssim_gray()(restored, reference).numpy(), ref_g, rtol=0, atol=1e-9)
    c = 4
    ref_c = [skmetrics.structural_similarity(h[c:-c, c:-c], d[c:-c, c:-c], channel_axis=2, **SK_OPTIONS)
             for h, d in zip(hq, degraded)]
    ours_c = SSIM(crop_border=c)(restored, reference).numpy()
    np.testing.assert_allclose(ours_c, ref_c, rtol=0, atol=1e-9)
    assert not np.allclose(ours_c, ssim(restored, reference).numpy(), atol=1e-6)


def test_matches_direct_2d_valid_correlation():
    """Independent of skimage: MATLAB's filter2(window, img, 'valid') with the 2-D fspecial window."""
    from scipy.signal import correlate2d

    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (23, 31)).astype(np.float64)
    y = np.clip(x + rng.normal(0, 25, x.shape), 0, 255).round()
    ax = np.arange(11) - 5.0
    window = np.exp(-(ax[:, None] ** 2 + ax[None, :] ** 2) / (2 * 1.5 ** 2))
    window /= window.sum()
    filt = lambda img: correlate2d(img, window, mode="valid")  # noqa: E731
    mx, my = filt(x), filt(y)
    sxx, syy, sxy = filt(x * x) - mx ** 2, filt(y * y) - my ** 2, filt(x * y) - mx * my
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    expected = (((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (sxx + syy + c2))).mean()
    batch = lambda img: torch.from_numpy(np.repeat(img[None, None] / 255.0, 3, axis=1))  # noqa: E731
    assert ssim(batch(y), batch(x)).item() == pytest.approx(expected, abs=1e-12)
    assert np.allclose(np.outer(gaussian_window_1d(), gaussian_window_1d()), window, atol=1e-17)


def test_large_image_path_equals_banded_path(monkeypatch):
    gen = torch.Generator().manual_seed(1)
    a, b = torch.rand(2, 3, 40, 57, generator=gen), torch.rand(2, 3, 40, 57, generator=gen)
    banded = ssim(a, b)
    monkeypatch.setattr(ssim_module, "_BANDED_MAX", 0)  # force the shifted-sum path
    np.testing.assert_allclose(ssim(a, b).numpy(), banded.numpy(), rtol=0, atol=1e-13)


def test_identical_anticorrelated_and_range():
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    same = ssim(x, x.clone())
    assert torch.allclose(same, torch.ones(2, dtype=torch.float64), atol=1e-12)
    inverted = ssim(1.0 - x, x)
    assert (inverted < 0).all() and (inverted >= -1).all()
    constant = torch.full((1, 3, 16, 16), 0.5)
    assert ssim(constant, constant.clone()).item() == pytest.approx(1.0, abs=1e-15)


def test_too_small_images_raise_naming_the_size():
    with pytest.raises(ValueError, match=r"at least 11x11.*10x12"):
        ssim(torch.rand(1, 3, 10, 12), torch.rand(1, 3, 10, 12))
    assert ssim(torch.rand(1, 3, 11, 11), torch.rand(1, 3, 11, 11)).shape == (1,)  # a 1x1 map is enough
    with pytest.raises(ValueError, match=r"at least 11x11.*10x10"):
        ssim(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16), crop_border=3)


def test_shape_mismatch_and_bad_options():
    with pytest.raises(ValueError, match="same shape"):
        ssim(torch.rand(2, 3, 16, 16), torch.rand(1, 3, 16, 16))
    with pytest.raises(ValueError, match="channel"):
        SSIM(channel="YCbCr")


def test_class_and_registry():
    metric = METRICS.create("ssim")
    assert isinstance(metric, SSIM) and metric.name == "ssim" and metric.higher_is_better and metric.needs_reference
    assert METRICS.create("ssim_y").name == "ssim_y" and ssim_y().channel == "y"
    gray = METRICS.create("ssim_gray")
    assert gray.name == "ssim_gray" and "no downsampling" in gray.describe()["definition"]
    x, r = torch.rand(2, 3, 20, 20), torch.rand(2, 3, 20, 20)
    assert torch.equal(gray(x, r), ssim(x, r, channel="gray"))
