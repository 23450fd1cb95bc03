"""DebiasFR loss terms (``Seeyn/DebiasFR dbfr/models/dbfr_model.py@7016255`` L191-L334; spec §4).

Images are in [-1, 1].  Notation: ``ŷ`` restored, ``y`` ground truth, ``x`` the LQ input, ``D`` the
discriminator, ``C`` the frozen attribute critic, ``Deg(·; k, s, n, q)`` the degradation of
:mod:`reference_models.debiasfr.degradation`.

* :func:`pyramid_loss` -- ``Σ_i L1(rgb_i, y↓_i)``: each U-Net side output (8 .. out px) against the ground
  truth halved by bilinear ``×0.5`` steps (2×2 averages) down to its size.
* :func:`generator_gan_loss` -- non-saturating ``mean softplus(−D(ŷ))``.
* :func:`discriminator_loss` -- ``mean softplus(−D(y)) + mean softplus(D(ŷ))``.
* :func:`r1_penalty` -- ``E ‖∇_y D(y)‖²`` (the caller multiplies by ``γ/2 · every``: lazy R1).
* :func:`attribute_ce` -- ``CE(C_age(ŷ), a) + CE(C_gender(ŷ), g)`` with class indices or probability targets.
* :func:`top2_soft` -- the pseudo branch's soft targets: softmax over the two largest logits, 0 elsewhere.
* :func:`pseudo_pair_loss` -- ``L1(Deg(ŷ; same k, s, n, q), x)``: corrected form maps ŷ to [0, 1] and
  compares with the [0, 1] LQ; ``range_mismatch=True`` reproduces the released code (ŷ in [-1, 1] fed to
  ``Deg``, which clips to [0, 1], compared with the [-1, 1] LQ).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from reference_models.debiasfr.degradation import DegradationParams, degrade_with


def pyramid_loss(side_outputs: list[torch.Tensor], gt: torch.Tensor) -> torch.Tensor:
    """``Σ_i mean |rgb_i − y↓_i|`` over the side outputs (any order of sizes)."""
    total = gt.new_zeros(())
    for rgb in side_outputs:
        target = gt
        while target.shape[-1] > rgb.shape[-1]:
            target = F.interpolate(target, scale_factor=0.5, mode="bilinear", align_corners=False)
        total = total + F.l1_loss(rgb, target)
    return total


def generator_gan_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    return F.softplus(-fake_scores).mean()


def discriminator_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    return F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()


def r1_penalty(real_scores: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """``mean_b Σ_{c,h,w} (∂ Σ D(y) / ∂y)²`` (StyleGAN2 ``d_r1_loss``); ``real_images`` must require grad."""
    (grad,) = torch.autograd.grad(real_scores.sum(), real_images, create_graph=True)
    return grad.pow(2).reshape(grad.shape[0], -1).sum(1).mean()


def attribute_ce(age_logits: torch.Tensor, gender_logits: torch.Tensor, age_target: torch.Tensor,
                 gender_target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the critic's logits; targets are class indices ``[B]`` or probabilities ``[B, C]``."""
    return F.cross_entropy(age_logits, age_target) + F.cross_entropy(gender_logits, gender_target)


def top2_soft(logits: torch.Tensor) -> torch.Tensor:
    """Soft vector: ``softmax`` of the two largest logits per row at their positions, 0 elsewhere.

    The official code (``dbfr_model.py:L206-L213``) builds it from batch element 0 only and uses it for the
    whole batch (harmless at batch 1 per GPU); here each row gets its own vector.
    """
    values, index = logits.topk(2, dim=1)
    return torch.zeros_like(logits).scatter(1, index, values.softmax(dim=1))


def pseudo_pair_loss(restored: torch.Tensor, lq01: torch.Tensor, params: DegradationParams, *,
                     range_mismatch: bool = False) -> torch.Tensor:
    """``L1(Deg(ŷ; k, s, n, q), x)`` through the straight-through DiffJPEG (see module docstring).

    ``restored`` in [-1, 1]; ``lq01`` the sample's LQ in [0, 1] at the size ``Deg`` returns.
    """
    size = tuple(lq01.shape[-2:])
    if range_mismatch:
        degraded = degrade_with(restored, params, differentiable=True, out_size=size)
        return F.l1_loss(degraded, lq01 * 2 - 1)
    degraded = degrade_with((restored + 1) / 2, params, differentiable=True, out_size=size)
    return F.l1_loss(degraded, lq01)
