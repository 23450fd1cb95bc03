"""DebiasFR differentiable degradation (reference_models/debiasfr/degradation.py)."""
import json

import numpy as np
import pytest
import torch

from reference_models.debiasfr.degradation import (
    DegradationParams,
    degrade,
    degrade_with,
    gaussian_kernel_torch,
    lq_size,
    sample_degradation_params,
)


def _image(batch=2, size=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, size, size, generator=g)


def test_sampler_distributions_and_reproducibility():
    params = sample_degradation_params(torch.Generator().manual_seed(5), batch=64, size=512)
    again = sample_degradation_params(torch.Generator().manual_seed(5), batch=64, size=512)
    assert torch.equal(params.kernel, again.kernel) and torch.equal(params.noise, again.noise)
    assert params.scale == again.scale and torch.equal(params.quality, again.quality)
    assert 1.0 <= params.scale <= 20.0
    assert params.kernel.shape == (64, 41, 41)
    assert torch.allclose(params.kernel.sum(dim=(1, 2)), torch.ones(64), atol=1e-5)
    assert params.noise.shape == (64, 3, *lq_size((512, 512), params.scale))
    assert int(params.quality.min()) >= 60 and int(params.quality.max()) <= 99
    assert float(params.noise_sigma.min()) >= 0 and float(params.noise_sigma.max()) <= 20
    assert float(params.sigma_x.min()) >= 0.1 and float(params.sigma_x.max()) <= 10
    iso = [t == "iso" for t in params.kernel_type]
    assert 0 < sum(iso) < 64
    assert torch.equal(params.sigma_x[iso], params.sigma_y[iso])
    json.dumps(params.record())
    other = sample_degradation_params(torch.Generator().manual_seed(6), batch=64)
    assert not torch.equal(params.quality, other.quality)


def test_quality_never_reaches_100():
    params = sample_degradation_params(torch.Generator().manual_seed(0), batch=4096, size=16, kernel_size=3,
                                       jpeg_range=(99, 100))
    assert set(params.quality.tolist()) == {99}


def test_kernel_matches_evaluation_degradation():
    from bench.data.degradation import gaussian_kernel

    ours = gaussian_kernel_torch(41, torch.tensor([0.5, 3.0, 9.0]), torch.tensor([4.0, 3.0, 0.2]),
                                 torch.tensor([0.7, 0.0, -2.5]), dtype=torch.float64)
    for i, (sx, sy, th) in enumerate(((0.5, 4.0, 0.7), (3.0, 3.0, 0.0), (9.0, 0.2, -2.5))):
        np.testing.assert_allclose(ours[i].numpy(), gaussian_kernel(41, sx, sy, th), atol=1e-9)


def test_output_sizes():
    x = _image(batch=2, size=128)
    params = sample_degradation_params(torch.Generator().manual_seed(1), batch=2, size=128, scale=5.5)
    assert params.noise.shape == (2, 3, 23, 23)  # int(128 // 5.5)
    assert degrade_with(x, params).shape == (2, 3, 512, 512)
    assert degrade_with(x, params, out_size=None).shape == (2, 3, 128, 128)
    assert degrade_with(x, params, out_size=(40, 30)).shape == (2, 3, 40, 30)
    out = degrade_with(x, params, differentiable=False, out_size=None)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_same_parameters_same_output_and_noise_reuse():
    x = _image(batch=3, size=96)
    params = sample_degradation_params(torch.Generator().manual_seed(2), batch=3, size=96)
    first = degrade_with(x, params, out_size=96)
    second = degrade_with(x.clone(), params, out_size=96)
    assert torch.equal(first, second)
    # a different noise realisation of the same sigma gives another output
    redrawn = sample_degradation_params(torch.Generator().manual_seed(3), batch=3, size=96, scale=params.scale)
    other_noise = DegradationParams(kernel=params.kernel, scale=params.scale, noise=redrawn.noise,
                                    quality=params.quality)
    assert not torch.equal(first, degrade_with(x, other_noise, out_size=96))


def test_batched_matches_per_image():
    x = _image(batch=2, size=64)
    params = sample_degradation_params(torch.Generator().manual_seed(4), batch=2, size=64, scale=3.0,
                                       kernel_size=9)
    batched = degrade_with(x, params, out_size=64)
    for i in range(2):
        single = degrade(x[i:i + 1], params.kernel[i], params.scale, params.noise[i:i + 1], int(params.quality[i]),
                         out_size=64)
        assert torch.allclose(batched[i:i + 1], single, atol=1e-6)


def test_gradients_flow_to_the_input():
    x = (0.2 + 0.6 * _image(batch=1, size=64)).requires_grad_(True)
    params = sample_degradation_params(torch.Generator().manual_seed(7), batch=1, size=64, scale=2.0,
                                       kernel_size=9, noise_range=(0.0, 2.0))
    target = torch.rand(1, 3, 64, 64)
    loss = (degrade_with(x, params, out_size=64) - target).abs().mean()
    loss.backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    x.grad = None
    (degrade_with(x, params, out_size=64, differentiable=False) - target).abs().mean().backward()
    assert float(x.grad.abs().max()) == 0.0  # torch.round stops the gradient


def test_identity_like_parameters_change_little():
    # delta kernel, scale 1, zero noise, q=99: only the DiffJPEG error remains (grey image: no chroma
    # subsampling error, only the fine luma quantisation)
    grey = torch.nn.functional.interpolate(_image(batch=1, size=8)[:, :1], size=(64, 64), mode="bilinear",
                                           align_corners=False)
    x = grey.expand(1, 3, 64, 64).contiguous()
    delta = torch.zeros(3, 3)
    delta[1, 1] = 1.0
    out = degrade(x, delta, 1.0, torch.zeros(1, 3, 64, 64), 99, out_size=64)
    assert float((out - x).abs().max()) < 4.0 / 255


def test_bad_arguments():
    x = _image(batch=2, size=64)
    params = sample_degradation_params(torch.Generator().manual_seed(8), batch=2, size=64, scale=2.0, kernel_size=5)
    with pytest.raises(ValueError, match="noise"):
        degrade(x, params.kernel, params.scale, params.noise[:, :, :-1], params.quality)
    with pytest.raises(ValueError, match="scale"):
        degrade(x, params.kernel, 0.5, params.noise, params.quality)
    with pytest.raises(ValueError, match="kernel"):
        degrade(x, torch.ones(3, 4, 4), params.scale, params.noise, params.quality)
    with pytest.raises(ValueError, match="divide by zero"):
        degrade(x, params.kernel, params.scale, params.noise, 100)
