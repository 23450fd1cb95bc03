"""DebiasFR discriminator ``StyleGAN2DiscriminatorClean`` (``network_d``), ported to plain PyTorch.

Official code ``github.com/Seeyn/DebiasFR@7016255``, ``dbfr/archs/stylegan2_dis_arch.py:L226-276``
(spec ``docs/protocols/debiasfr.md`` §2.4; interface of the official code).
Training config (``options/degradation_tune_lr_wpseudo.yml:L84-87``): ``out_size=512,
channel_multiplier=1``; no discriminator checkpoint is released.  Unlike basicsr's
``StyleGAN2Discriminator`` it resamples bilinearly (no FIR blur, no strided conv).

Layout (``C(r)`` = StyleGAN2 width table with ``narrow``):

1. ``conv_body.0``: 1×1 ConvLayer 3 -> C(out) (+ FusedLeakyReLU);
2. ``conv_body.1..``: ``log2(out) - 2`` :class:`~reference_models.shared.stylegan2.ResBlock` s, out -> 4;
3. minibatch stddev (group ``min(B, stddev_group)``, one feature) -> C(4) + 1 channels;
4. ``final_conv``: 3×3 ConvLayer -> C(4); flatten ``(B, 16 C(4))``;
5. ``final_linear``: EqualLinear(16 C(4) -> C(4), fused leaky ReLU), EqualLinear(C(4) -> 1).

Input ``x (B, 3, out, out)`` RGB in [-1, 1] (B divisible by ``min(B, stddev_group)``); output raw
scores ``(B, 1)`` (no sigmoid; the official GAN loss is softplus-based).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from bench.core.checkpoints import load_strict
from reference_models.shared.stylegan2 import ConvLayer, EqualLinear, ResBlock, channel_table, minibatch_stddev

#: the training configuration of DebiasFR's discriminator
TRAINING_CONFIG = {"out_size": 512, "channel_multiplier": 1, "stddev_group": 4, "narrow": 1}


class StyleGAN2DiscriminatorClean(nn.Module):
    """``score (B, 1) = d(x)``; ``resample_kernel`` is accepted and ignored, as in the official class."""

    def __init__(self, out_size: int, channel_multiplier: float = 2,
                 resample_kernel: Sequence[int] = (1, 3, 3, 1), stddev_group: int = 4, narrow: float = 1) -> None:
        super().__init__()
        log_size = int(math.log2(out_size))
        if 2 ** log_size != out_size or out_size < 8:
            raise ValueError(f"out_size must be a power of two >= 8, got {out_size}")
        self.out_size, self.stddev_group, self.stddev_feat = out_size, stddev_group, 1
        ch = channel_table(channel_multiplier, narrow, max_size=max(out_size, 1024))
        body: list[nn.Module] = [ConvLayer(3, ch[out_size], 1, bias=True, activate=True)]
        cin = ch[out_size]
        for i in range(log_size, 2, -1):
            body.append(ResBlock(cin, ch[2 ** (i - 1)]))
            cin = ch[2 ** (i - 1)]
        self.conv_body = nn.Sequential(*body)
        self.final_conv = ConvLayer(cin + 1, ch[4], 3, bias=True, activate=True)
        self.final_linear = nn.Sequential(
            EqualLinear(ch[4] * 16, ch[4], bias=True, bias_init=0.0, lr_mul=1.0, activation="fused_lrelu"),
            EqualLinear(ch[4], 1, bias=True, bias_init=0.0, lr_mul=1.0, activation=None))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_body(x)
        out = minibatch_stddev(out, self.stddev_group, self.stddev_feat)
        out = self.final_conv(out)
        return self.final_linear(out.reshape(out.size(0), -1))


def load_dbfr_discriminator_state_dict(model: StyleGAN2DiscriminatorClean, state: Mapping[str, torch.Tensor]) -> None:
    """Strict load (e.g. ``ckpt['params']`` of a ``net_d`` file); raises naming every mismatch."""
    load_strict(model, state, what="DebiasFR discriminator")
