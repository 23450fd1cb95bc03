"""PSNR: calibration against the official TID2013 values, equality with scikit-image, conventions."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bench.core.registry import METRICS
from metrics.color import rgb_to_gray_matlab, rgb_to_y_bt601
from metrics.psnr import PSNR, psnr, psnr_y

from tests.conftest import require_module

from tests.metrics.conftest import round_sig, to_tensor

skmetrics = require_module("skimage.metrics", reason="scikit-image (test extra) is needed for cross-checks")
skcolor = require_module("skimage.color")


def test_calibration_matches_official_psnr(calibration):
    """Official PSNR = scikit-image ``peak_signal_noise_ratio`` on 3-channel RGB uint8 (pyiqa ResultsCalibra).

    The table prints 4 significant digits: ours must round to the printed value and lie within 0.05 %.
    """
    names, dist, ref, official = calibration
    values = psnr(to_tensor(dist), to_tensor(ref), channel="rgb")
    assert values.dtype == torch.float64 and values.shape == (len(names),)
    for name, value in zip(names, values.tolist()):
        target = official["psnr"][name]
        assert abs(value - target) / target < 5e-4, (name, value, target)
        assert round_sig(value) == pytest.approx(target, abs=1e-12), (name, value, target)


def test_rgb_equals_skimage_on_faces(utk_pairs):
    hq, degraded = utk_pairs
    ours = psnr(to_tensor(degraded), to_tensor(hq))
    ref = [skmetrics.peak_signal_noise_ratio(h, d, data_range=255) for h, d in zip(hq, degraded)]
    np.testing.assert_allclose(ours.numpy(), ref, rtol=0, atol=1e-10)
    assert 18 < min(ref) and max(ref) < 40  # a realistic x8 bicubic range, not a degenerate case


def test_y_equals_skimage_on_skimage_ycbcr(utk_pairs):
    """Y channel = BasicSR test_y_channel; scikit-image's ``rgb2ycbcr`` uses the same BT.601 studio-swing row."""
    hq, degraded = utk_pairs
    ours = psnr(to_tensor(degraded), to_tensor(hq), channel="y")
    y_hq = skcolor.rgb2ycbcr(hq)[..., 0]
    y_dg = skcolor.rgb2ycbcr(degraded)[..., 0]
    ref = [skmetrics.peak_signal_noise_ratio(h, d, data_range=255) for h, d in zip(y_hq, y_dg)]
    np.testing.assert_allclose(ours.numpy(), ref, rtol=0, atol=1e-9)
    assert not np.allclose(ours.numpy(), psnr(to_tensor(degraded), to_tensor(hq)).numpy(), atol=1e-3)


def _matlab_gray(images: np.ndarray) -> np.ndarray:
    x = images.astype(np.float64)
    return np.floor(0.298936021293775 * x[..., 0] + 0.587043074451121 * x[..., 1]
                    + 0.114020904255103 * x[..., 2] + 0.5).astype(np.uint8)


def test_gray_and_crop_border_equal_skimage(utk_pairs):
    hq, degraded = utk_pairs
    ours = psnr(to_tensor(degraded), to_tensor(hq), channel="gray")
    ref = [skmetrics.peak_signal_noise_ratio(h, d, data_range=255)
           for h, d in zip(_matlab_gray(hq), _matlab_gray(degraded))]
    np.testing.assert_allclose(ours.numpy(), ref, rtol=0, atol=1e-10)
    crop = 8
    ours_c = PSNR(crop_border=crop)(to_tensor(degraded), to_tensor(hq))
    ref_c = [skmetrics.peak_signal_noise_ratio(h[crop:-crop, crop:-crop], d[crop:-crop, crop:-crop], data_range=255)
             for h, d in zip(hq, degraded)]
    np.testing.assert_allclose(ours_c.numpy(), ref_c, rtol=0, atol=1e-10)
    assert not np.allclose(ours_c.numpy(), psnr(to_tensor(degraded), to_tensor(hq)).numpy(), atol=1e-6)


def test_colour_conversions_known_values():
    """MATLAB ``rgb2gray(uint8(...))`` of pure colours and white; BT.601 Y of black and white."""
    pixels = torch.tensor([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [128, 128, 128], [0, 0, 0]],
                          dtype=torch.float32) / 255.0
    batch = pixels.T.reshape(1, 3, 1, 6)
    gray = rgb_to_gray_matlab(batch).flatten().tolist()
    assert gray == [76.0, 150.0, 29.0, 255.0, 128.0, 0.0]
    y = rgb_to_y_bt601(batch).flatten()
    assert y[3].item() == pytest.approx(235.0, abs=1e-9) and y[5].item() == pytest.approx(16.0, abs=1e-12)


def test_identical_images_give_inf_and_mixed_batch():
    x = torch.rand(3, 3, 16, 16)
    y = x.clone()
    y[1] = (y[1] + 0.1).clamp(0, 1)
    values = psnr(y, x)
    assert math.isinf(values[0].item()) and values[0].item() > 0 and math.isinf(values[2].item())
    assert math.isfinite(values[1].item()) and values[1].item() > 10


def test_known_value_and_batch_independence():
    ref = torch.zeros(2, 3, 8, 8)
    out = torch.zeros(2, 3, 8, 8)
    out[0] += 10 / 255.0  # MSE = 100 -> 10 log10(65025 / 100) = 28.1308...
    out[1, 0] += 20 / 255.0  # one channel off by 20: MSE = 400 / 3 (channels pooled)
    values = psnr(out, ref)
    assert values[0].item() == pytest.approx(10 * math.log10(255 ** 2 / 100), abs=1e-12)
    assert values[1].item() == pytest.approx(10 * math.log10(255 ** 2 / (400 / 3)), abs=1e-12)
    assert psnr(out[1:], ref[1:])[0].item() == values[1].item()


def test_quantize_makes_float32_exact_and_can_be_disabled():
    """float32 k/255 inputs give bit-identical results to uint8 inputs; quantize=False keeps raw floats."""
    gen = torch.Generator().manual_seed(0)
    a8 = torch.randint(0, 256, (2, 3, 20, 20), dtype=torch.uint8, generator=gen)
    b8 = torch.randint(0, 256, (2, 3, 20, 20), dtype=torch.uint8, generator=gen)
    assert torch.equal(psnr(a8.float() / 255, b8.float() / 255), psnr(a8, b8))
    off = a8.float() / 255 + 0.4 / 255  # not on an 8-bit level: quantize snaps back to a8
    assert torch.equal(psnr(off, b8.float() / 255), psnr(a8, b8))
    assert not torch.equal(psnr(off, b8.float() / 255, quantize=False), psnr(a8, b8))


@pytest.mark.parametrize("bad, message", [
    ((torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9)), "same shape"),
    ((torch.rand(3, 8, 8), torch.rand(3, 8, 8)), r"\[B, 3, H, W\]"),
    ((torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8)), r"\[B, 3, H, W\]"),
    ((torch.rand(1, 3, 8, 8), None), "reference"),
])
def test_clear_errors(bad, message):
    with pytest.raises(ValueError, match=message):
        psnr(*bad)


def test_option_errors():
    with pytest.raises(ValueError, match="channel"):
        PSNR(channel="lab")
    with pytest.raises(ValueError, match="crop_border"):
        PSNR(crop_border=-1)
    with pytest.raises(ValueError, match="removes the whole"):
        psnr(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), crop_border=4)


def test_class_and_registry():
    metric = METRICS.create("psnr")
    assert isinstance(metric, PSNR) and metric.name == "psnr" and metric.unit == "dB" and metric.higher_is_better
    y_metric = METRICS.create("psnr_y")
    assert y_metric.name == "psnr_y" and y_metric.channel == "y" and psnr_y().describe()["options"]["channel"] == "y"
    assert PSNR.name == "psnr"  # the class attribute is untouched by instances
    x, r = torch.rand(2, 3, 12, 12), torch.rand(2, 3, 12, 12)
    assert torch.equal(y_metric(x, r), psnr(x, r, channel="y"))
    assert metric.describe()["options"] == {"channel": "rgb", "crop_border": 0, "quantize": True}
