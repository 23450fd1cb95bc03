"""The IFQA per-pixel discriminator: a U-Net of StarGAN-v2 residual blocks (independent re-implementation).

Architecture of the official code (official ``model.py`` class
``Discriminator`` of ``AIM-SKKU/IFQA``): five down-sampling residual blocks (3 -> 64 -> ... -> 1024),
four bottleneck blocks, four up-sampling blocks with multiplicative-plus-additive skips ``e * (1 + d)``
and a last up-sampling block to one channel followed by a sigmoid.  ``forward(x)`` takes RGB in
``[-1, 1]`` of shape ``[B, 3, H, W]`` (H, W divisible by 32; 256 for the released model) and returns the
``[B, 1, H, W]`` per-pixel quality map in ``(0, 1)`` (higher = more realistic).

The state-dict key names equal those of the released ``weights/IFQA_Metric.pth`` (whose parameters sit
under the top-level key ``'D'``; :func:`load_ifqa_state_dict` accepts both forms).  ``base_channels``
(64 in the release) scales every width; ``base_channels=4`` is the width/16 copy of the golden fixture.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from bench.core.checkpoints import load_strict

__all__ = ["IFQADiscriminator", "load_ifqa_state_dict", "RELEASED_CONFIG"]

#: constructor arguments of the released network
RELEASED_CONFIG = {"base_channels": 64}

_INV_SQRT2 = 1.0 / math.sqrt(2.0)


class _DownBlock(nn.Module):
    """Pre-activation residual block (instance norm, LeakyReLU 0.2), optional 2x average-pool down-sampling."""

    def __init__(self, dim_in: int, dim_out: int, downsample: bool):
        super().__init__()
        self.downsample = downsample
        # registration order defines the state-dict order: conv1, conv2, norm1, norm2, conv1x1
        self.conv1 = nn.Conv2d(dim_in, dim_in, 3, 1, 1)
        self.conv2 = nn.Conv2d(dim_in, dim_out, 3, 1, 1)
        self.norm1 = nn.InstanceNorm2d(dim_in, affine=True)
        self.norm2 = nn.InstanceNorm2d(dim_in, affine=True)
        self.learned_sc = dim_in != dim_out
        if self.learned_sc:
            self.conv1x1 = nn.Conv2d(dim_in, dim_out, 1, 1, 0, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sc = self.conv1x1(x) if self.learned_sc else x
        if self.downsample:
            sc = F.avg_pool2d(sc, 2)
        r = self.conv1(F.leaky_relu(self.norm1(x), 0.2))
        if self.downsample:
            r = F.avg_pool2d(r, 2)
        r = self.conv2(F.leaky_relu(self.norm2(r), 0.2))
        return (sc + r) * _INV_SQRT2


class _UpBlock(nn.Module):
    """Pre-activation residual block with nearest-neighbour 2x up-sampling."""

    def __init__(self, dim_in: int, dim_out: int):
        super().__init__()
        self.conv1 = nn.Conv2d(dim_in, dim_in, 3, 1, 1)
        self.conv2 = nn.Conv2d(dim_in, dim_out, 3, 1, 1)
        self.norm1 = nn.InstanceNorm2d(dim_in, affine=True)
        self.norm2 = nn.InstanceNorm2d(dim_in, affine=True)
        self.learned_sc = dim_in != dim_out
        if self.learned_sc:
            self.conv1x1 = nn.Conv2d(dim_in, dim_out, 1, 1, 0, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sc = F.interpolate(x, scale_factor=2, mode="nearest")
        if self.learned_sc:
            sc = self.conv1x1(sc)
        r = F.interpolate(F.leaky_relu(self.norm1(x), 0.2), scale_factor=2, mode="nearest")
        r = self.conv2(F.leaky_relu(self.norm2(self.conv1(r)), 0.2))
        return (r + sc) * _INV_SQRT2


class IFQADiscriminator(nn.Module):
    """U-Net per-pixel discriminator of IFQA.

    Args:
        base_channels: width of the first encoder stage (64 in the release); stages use 1, 2, 4, 8, 16 times it.
        num_bottleneck: residual blocks at the lowest resolution (4 in the release).
    """

    def __init__(self, base_channels: int = 64, num_bottleneck: int = 4):
        super().__init__()
        c = [base_channels * m for m in (1, 2, 4, 8, 16)]
        self.base_channels = base_channels
        self.encoder128 = _DownBlock(3, c[0], True)
        self.encoder64 = _DownBlock(c[0], c[1], True)
        self.encoder32 = _DownBlock(c[1], c[2], True)
        self.encoder16 = _DownBlock(c[2], c[3], True)
        self.encoder8 = _DownBlock(c[3], c[4], True)
        self.btn = nn.Sequential(*[_DownBlock(c[4], c[4], False) for _ in range(num_bottleneck)])
        self.decoder16 = _UpBlock(c[4], c[3])
        self.decoder32 = _UpBlock(c[3], c[2])
        self.decoder64 = _UpBlock(c[2], c[1])
        self.decoder128 = _UpBlock(c[1], c[0])
        self.decoder256 = nn.Sequential(_UpBlock(c[0], 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` in ``[-1, 1]`` -> per-pixel quality ``[B, 1, H, W]`` in ``(0, 1)``."""
        if x.shape[-1] % 32 or x.shape[-2] % 32:
            raise ValueError(f"IFQA needs height and width divisible by 32, got {tuple(x.shape[-2:])}")
        e128 = self.encoder128(x)
        e64 = self.encoder64(e128)
        e32 = self.encoder32(e64)
        e16 = self.encoder16(e32)
        b = self.btn(self.encoder8(e16))
        d = self.decoder16(b)
        d = self.decoder32(e16 * (1 + d))      # = d * e + e (the official skip)
        d = self.decoder64(e32 * (1 + d))
        d = self.decoder128(e64 * (1 + d))
        return self.decoder256(e128 * (1 + d))

    @torch.no_grad()
    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Per-image IFQA score ``[B]``: the mean of the per-pixel map (official ``test.py``, batch of one)."""
        return self(x).mean(dim=(1, 2, 3))


def unwrap_checkpoint(state: Mapping) -> Mapping[str, torch.Tensor]:
    """The parameter table of a checkpoint: the released file stores it under ``'D'``."""
    if "D" in state and isinstance(state["D"], Mapping):
        state = state["D"]
    if any(k.startswith("module.") for k in state):   # saved from DataParallel
        state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    return state


def load_ifqa_state_dict(model: IFQADiscriminator, state: Mapping) -> IFQADiscriminator:
    """Strictly load ``state`` (a state dict or the released ``{'D': ...}`` checkpoint) into ``model``.

    Raises :class:`bench.core.checkpoints.StateDictMismatchError` naming every missing, unexpected or
    mis-shaped key; returns the model.
    """
    load_strict(model, unwrap_checkpoint(state), what="IFQA discriminator")
    return model
