"""DebiasFR loss terms: top-2 soft targets, pyramid, GAN/R1, attribute CE, pseudo-pair through the STE JPEG."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from reference_models.debiasfr.degradation import sample_degradation_params, degrade_with
from reference_models.debiasfr.losses import (
    attribute_ce,
    discriminator_loss,
    generator_gan_loss,
    pseudo_pair_loss,
    pyramid_loss,
    r1_penalty,
    top2_soft,
)


def test_top2_soft_is_softmax_of_the_two_largest_logits_per_row():
    logits = torch.tensor([[0.1, 2.0, -1.0, 1.5], [3.0, 0.0, 2.0, -5.0]])
    soft = top2_soft(logits)
    expected0 = torch.softmax(torch.tensor([2.0, 1.5]), 0)
    assert torch.allclose(soft[0], torch.tensor([0.0, expected0[0], 0.0, expected0[1]]))
    expected1 = torch.softmax(torch.tensor([3.0, 2.0]), 0)
    assert torch.allclose(soft[1], torch.tensor([expected1[0], 0.0, expected1[1], 0.0]))
    assert torch.allclose(soft.sum(1), torch.ones(2))
    assert ((soft > 0).sum(1) == 2).all()


def test_pyramid_targets_are_repeated_bilinear_halvings():
    gt = torch.rand(2, 3, 32, 32)
    rgbs = [torch.rand(2, 3, s, s) for s in (8, 16, 32)]
    half = F.avg_pool2d(gt, 2)            # bilinear x0.5 with align_corners=False == 2x2 mean
    quarter = F.avg_pool2d(half, 2)
    expected = F.l1_loss(rgbs[0], quarter) + F.l1_loss(rgbs[1], half) + F.l1_loss(rgbs[2], gt)
    assert torch.allclose(pyramid_loss(rgbs, gt), expected, atol=1e-6)


def test_gan_losses_are_softplus_forms():
    real, fake = torch.tensor([[1.0], [-2.0]]), torch.tensor([[0.5], [3.0]])
    assert torch.allclose(generator_gan_loss(fake), F.softplus(-fake).mean())
    assert torch.allclose(discriminator_loss(real, fake), F.softplus(-real).mean() + F.softplus(fake).mean())


def test_r1_penalty_equals_the_squared_input_gradient_norm():
    w = torch.randn(3 * 4 * 4)
    images = torch.randn(2, 3, 4, 4, requires_grad=True)
    scores = (images.reshape(2, -1) * w).sum(1, keepdim=True) ** 2
    # d/dx (w.x)^2 = 2 (w.x) w  ->  ||.||^2 = 4 (w.x)^2 ||w||^2
    wx = (images.detach().reshape(2, -1) * w).sum(1)
    expected = (4 * wx ** 2 * (w ** 2).sum()).mean()
    assert torch.allclose(r1_penalty(scores, images), expected, rtol=1e-5)


def test_attribute_ce_accepts_indices_and_soft_targets():
    la, lg = torch.randn(3, 10), torch.randn(3, 2)
    a, g = torch.tensor([1, 5, 9]), torch.tensor([0, 1, 1])
    hard = attribute_ce(la, lg, a, g)
    soft = attribute_ce(la, lg, F.one_hot(a, 10).float(), F.one_hot(g, 2).float())
    assert torch.allclose(hard, soft, atol=1e-6)


def _params(seed=0, size=32):
    return sample_degradation_params(torch.Generator().manual_seed(seed), batch=2, size=size, kernel_size=7,
                                     sigma_range=(0.2, 1.0), scale_range=(2.0, 4.0), jpeg_range=(60, 90))


def test_pseudo_pair_loss_is_zero_for_the_hq_and_gradients_flow_through_the_ste_jpeg():
    torch.manual_seed(0)
    hq = torch.rand(2, 3, 32, 32)
    params = _params()
    lq = degrade_with(hq, params, differentiable=False, out_size=32)
    # the restored image equal to the HQ re-degrades exactly to the LQ (same k, s, n, q)
    assert float(pseudo_pair_loss(hq * 2 - 1, lq, params)) < 1e-6
    # gradients reach a generator-like parameter through blur, resize, noise, JPEG rounding (STE)
    weight = torch.nn.Parameter(torch.tensor(0.9))
    restored = (hq * weight) * 2 - 1
    loss = pseudo_pair_loss(restored, lq, params)
    loss.backward()
    assert loss > 0 and weight.grad is not None and float(weight.grad.abs()) > 0


def test_range_mismatch_option_reproduces_the_released_comparison():
    hq = torch.rand(2, 3, 32, 32)
    params = _params(1)
    lq = degrade_with(hq, params, differentiable=False, out_size=32)
    corrected = pseudo_pair_loss(hq * 2 - 1, lq, params)
    released = pseudo_pair_loss(hq * 2 - 1, lq, params, range_mismatch=True)
    manual = F.l1_loss(degrade_with(hq * 2 - 1, params, differentiable=True, out_size=32), lq * 2 - 1)
    assert torch.allclose(released, manual)
    assert float(released) > 10 * float(corrected) + 1e-3
