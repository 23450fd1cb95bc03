"""Each per-image metric declares the smallest side it is defined on (``min_size`` / ``min_side``), and the
declaration is the real limit of its code: the declared size is computed, one pixel less is refused."""
import pytest
import torch

from bench.core.registry import METRICS
from bench.core.types import PerImageMetric, min_input_side
from metrics.brisque import BRISQUE, brisque_features
from metrics.niqe import NIQE, niqe_block_features
from metrics.psnr import PSNR
from metrics.ssim import SSIM, ssim


def _noise(height, width, channels=3, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (1, channels, height, width), generator=generator, dtype=torch.uint8)


def test_declared_minimums():
    assert (PSNR.min_size, SSIM.min_size, NIQE.min_size, BRISQUE.min_size) == (1, 11, 96, 14)
    assert SSIM(crop_border=4).min_side() == 19 and PSNR(crop_border=4).min_side() == 9
    assert min_input_side(SSIM()) == 11 and min_input_side(object()) == 1  # a plug-in that declares nothing
    for name in METRICS.names():
        cls = METRICS.component_class(name)
        if issubclass(cls, PerImageMetric):
            assert isinstance(cls.min_size, int) and cls.min_size >= 1, name


@pytest.mark.parametrize("crop", [0, 3])
def test_ssim_and_psnr_minimum_is_their_real_limit(crop):
    side = SSIM(crop_border=crop).min_side()
    x, y = _noise(side, side + 7), _noise(side, side + 7, seed=1)
    assert torch.isfinite(ssim(x, y, crop_border=crop)).all()
    with pytest.raises(ValueError):
        ssim(x[..., : side - 1, :], y[..., : side - 1, :], crop_border=crop)
    side = PSNR(crop_border=crop).min_side()
    assert torch.isfinite(PSNR(crop_border=crop)(_noise(side, side), _noise(side, side, seed=1))).all()
    if side > 1:
        with pytest.raises(ValueError):
            PSNR(crop_border=crop)(_noise(side - 1, side), _noise(side - 1, side, seed=1))


def test_niqe_and_brisque_minimum_is_their_real_limit():
    for features, side in ((niqe_block_features, NIQE.min_size), (brisque_features, BRISQUE.min_size)):
        gray = _noise(side, side + 5, channels=1).to(torch.float64)
        features(gray)  # computes at the declared minimum
        with pytest.raises(ValueError, match="at least"):
            features(gray[..., : side - 1, :])
