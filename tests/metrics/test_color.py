"""metrics.color: conversions shared across the metrics of a batch (``shared_conversions``)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.core.registry import METRICS
from metrics import color
from metrics.color import rgb_to_gray_matlab, rgb_to_y_bt601, shared_conversions, to_255

#: the per-image metrics that convert colours (RGB 0..255, BT.601 Y, MATLAB rgb2gray)
CONVERTING = ("psnr", "psnr_y", "ssim", "ssim_y", "ssim_gray", "niqe", "brisque")


def _faces(seed: int, n: int = 3, size: int = 112) -> torch.Tensor:
    """Smooth seeded colour images with texture, ``uint8 [n, 3, size, size]`` (NIQE needs 96x96 blocks)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = np.stack([np.sin(6 * xx + c) * np.cos(4 * yy - c) for c in range(3)])
    images = 128 + 80 * base[None] + rng.normal(0, 12, (n, 3, size, size))
    return torch.from_numpy(np.clip(np.round(images), 0, 255).astype(np.uint8))


def test_a_conversion_is_computed_once_per_tensor_inside_the_block_only():
    x = _faces(0)
    assert rgb_to_gray_matlab(x) is not rgb_to_gray_matlab(x)  # outside: nothing kept
    with shared_conversions():
        grey = rgb_to_gray_matlab(x)
        assert rgb_to_gray_matlab(x) is grey
        assert to_255(x) is to_255(x) and rgb_to_y_bt601(x) is rgb_to_y_bt601(x)
        assert rgb_to_gray_matlab(x, quantize=False) is not grey  # another option: another result
        assert rgb_to_gray_matlab(x.clone()) is not grey  # another tensor, equal values: not assumed equal
        x[0, 0, 0, 0] = 255 - int(x[0, 0, 0, 0])  # modified in place: its version counter moved on
        fresh = rgb_to_gray_matlab(x)
        assert fresh is not grey and not torch.equal(fresh, grey)
    # the memo matches the plain conversion: MATLAB rgb2gray rounding of the weighted sum, computed here
    expected = np.floor(np.tensordot(color.MATLAB_GRAY_COEFFS, x.numpy().astype(np.float64), axes=([0], [1])) + 0.5)
    np.testing.assert_array_equal(fresh[:, 0].numpy(), expected)


def test_niqe_and_brisque_share_one_grey_conversion_per_batch(monkeypatch):
    calls = []
    original = color._weighted_sum

    def counting(x255, coeffs):
        calls.append(coeffs)
        return original(x255, coeffs)

    monkeypatch.setattr(color, "_weighted_sum", counting)
    niqe, brisque = METRICS.build("niqe"), METRICS.build("brisque")
    restored = _faces(1)
    niqe(restored, None), brisque(restored, None)
    assert calls.count(color.MATLAB_GRAY_COEFFS) == 2  # one per metric
    calls.clear()
    with shared_conversions():
        niqe(restored, None), brisque(restored, None)
    assert calls.count(color.MATLAB_GRAY_COEFFS) == 1  # shared


def test_every_converting_metric_gives_the_same_values_with_and_without_sharing():
    """No metric modifies a shared conversion in place: all of them in one block (the runner's order and
    the reverse) give exactly the values each gives alone."""
    hq = _faces(2)
    noisy = torch.from_numpy(np.clip(hq.numpy().astype(int) + np.random.default_rng(3).integers(-20, 21, hq.shape),
                                     0, 255).astype(np.uint8))
    metrics = {name: METRICS.build(name) for name in CONVERTING}

    def score(name):
        metric = metrics[name]
        return np.asarray([float(v) for v in metric(noisy, hq if metric.needs_reference else None)])

    alone = {name: score(name) for name in CONVERTING}
    for order in (CONVERTING, CONVERTING[::-1]):
        with shared_conversions():
            together = {name: score(name) for name in order}
        for name in CONVERTING:
            np.testing.assert_array_equal(together[name], alone[name], err_msg=name)
    assert all(np.isfinite(v).all() for v in alone.values())
    assert alone["psnr"].mean() == pytest.approx(10 * np.log10(255 ** 2 / np.mean(
        (noisy.numpy().astype(float) - hq.numpy().astype(float)) ** 2, axis=(1, 2, 3))).mean(), rel=1e-12)
