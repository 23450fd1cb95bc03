"""PSFR-GAN face-parsing network (``ParseNet`` of chaofengc/PSFRGAN, "netP" / "FPN") in plain PyTorch.

PSFR-GAN conditions its generator on a 19-class CelebAMask-HQ parsing map that it predicts **from the LQ
face itself** with this network (``test_enhance_dir_align.py``: ``parse_logits, _ = netP(x)``, then the
one-hot of the per-pixel maximum).  Written for frbench from the description in
the official code (reference ``chaofengc/PSFRGAN@ab853cd``, ``models/networks.py``
``ParseNet``/``define_P`` and ``models/blocks.py``; no code copied).  Names follow the released
``parse_multi_iter_90000.pth`` (bare state dict, 238 entries incl. BatchNorm statistics), loaded strictly by
:func:`load_parsenet_weights` (the official code loads it strictly too).

Maths (``norm_type='bn'``, ``relu_type='LeakyReLU'`` as released):

* ``ConvLayer(cin, cout, scale, bn, act)``: ``[nearest x2 if scale='up'] -> ReflectionPad(ceil((k-1)/2)) ->
  conv k×k (stride 2 if scale='down'; no bias when followed by BN) -> [BatchNorm2d, eval statistics,
  eps 1e-5] -> [LeakyReLU 0.2]``;
* ``ResidualBlock(cin, cout, scale)``: ``shortcut(x) + conv2(conv1(x))``; the shortcut is the identity when
  ``scale='none'`` and ``cin == cout``, else a plain biased ``ConvLayer(cin, cout, 3, scale)``;
  ``conv1`` = ``ConvLayer(cin, cout, 'up' for up-blocks else 'none', BN, LeakyReLU)``,
  ``conv2`` = ``ConvLayer(cout, cout, 'down' for down-blocks else 'none', BN, no activation)``;
* widths: with an unclipped width ``h`` (``base_ch`` doubled per down-step, halved per up-step) every
  block maps ``clip(h) -> clip(h*2)`` resp. ``clip(h) -> clip(h/2)``, ``clip`` to ``ch_range``;
* ``feat = encoder(x)`` (a plain ``ConvLayer(3, base_ch)`` + ``log2(in/min_feat)`` down-blocks),
  ``y = feat + body(feat)`` (``res_depth`` blocks and an extra long skip), ``y = decoder(y)``
  (``log2(out/min_feat)`` up-blocks); ``parse_logits = out_mask_conv(y)`` (19 ch),
  ``parse_img = out_img_conv(y)`` (3 ch), both plain 3×3 ``ConvLayer``.  Returns ``(logits, image)``.

Licence: CC BY-NC-SA 4.0 (chaofengc/PSFRGAN; code and weights).  Paper: Chen et al., *Progressive
Semantic-Aware Style Transformation for Blind Face Restoration*, CVPR 2021.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from bench.core.checkpoints import StateDictMismatchError, load_strict

#: ``define_P``: ParseNet(512, 512, 32, 64, 19, norm_type='bn', relu_type='LeakyReLU', ch_range=[32, 256])
RELEASED_PARSENET_CONFIG = {"in_size": 512, "out_size": 512, "min_feat_size": 32, "base_ch": 64, "parsing_ch": 19,
                            "res_depth": 10, "relu_type": "LeakyReLU", "ch_range": (32, 256)}

__all__ = ["RELEASED_PARSENET_CONFIG", "ParseNet", "StateDictMismatchError", "load_parsenet_weights",
           "parse_onehot"]


class _BN(nn.Module):
    """Holder so the BatchNorm tensors are named ``norm.norm.*`` as in the release."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x)


class ConvLayer(nn.Module):
    """[nearest ×2] -> reflection pad -> conv (stride 2 for 'down') -> [BN] -> [LeakyReLU 0.2]."""

    def __init__(self, cin: int, cout: int, kernel_size: int = 3, scale: str = "none", bn: bool = False,
                 act: bool = False) -> None:
        super().__init__()
        self.scale, self.act = scale, act
        self.pad = math.ceil((kernel_size - 1) / 2)
        self.conv2d = nn.Conv2d(cin, cout, kernel_size, 2 if scale == "down" else 1, bias=not bn)
        self.norm = _BN(cout) if bn else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.scale == "up":
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.conv2d(F.pad(x, (self.pad,) * 4, mode="reflect"))
        if self.norm is not None:
            x = self.norm(x)
        if self.act:
            x = F.leaky_relu(x, 0.2)
        return x


class ResidualBlock(nn.Module):
    """``shortcut_func(x) + conv2(conv1(x))`` with the scale placement of the official block."""

    def __init__(self, cin: int, cout: int, scale: str = "none") -> None:
        super().__init__()
        self.shortcut_func = None if scale == "none" and cin == cout else ConvLayer(cin, cout, 3, scale)
        self.conv1 = ConvLayer(cin, cout, 3, "up" if scale == "up" else "none", bn=True, act=True)
        self.conv2 = ConvLayer(cout, cout, 3, "down" if scale == "down" else "none", bn=True, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.shortcut_func is None else self.shortcut_func(x)
        return identity + self.conv2(self.conv1(x))


class ParseNet(nn.Module):
    """PSFR-GAN parsing network; ``forward(x)`` -> ``(parse_logits [B,19,H,W], parse_img [B,3,H,W])``.

    ``x``: ``[B, 3, H, W]`` RGB in [-1, 1].  Only ``norm_type='bn'`` / ``relu_type='LeakyReLU'`` (the
    released combination) are implemented.
    """

    def __init__(self, in_size: int = 512, out_size: int = 512, min_feat_size: int = 32, base_ch: int = 64,
                 parsing_ch: int = 19, res_depth: int = 10, relu_type: str = "LeakyReLU", norm_type: str = "bn",
                 ch_range: Sequence[int] = (32, 256)) -> None:
        super().__init__()
        if relu_type.lower() != "leakyrelu" or norm_type.lower() != "bn":
            raise ValueError("only the released ParseNet variant (relu_type='LeakyReLU', norm_type='bn') is ported")
        lo, hi = int(ch_range[0]), int(ch_range[1])
        self.config = {"in_size": in_size, "out_size": out_size, "min_feat_size": min_feat_size, "base_ch": base_ch,
                       "parsing_ch": parsing_ch, "res_depth": res_depth, "relu_type": relu_type,
                       "ch_range": (lo, hi)}

        def clip(c: int) -> int:
            return max(lo, min(c, hi))

        min_feat_size = min(in_size, min_feat_size)
        down = round(math.log2(in_size // min_feat_size))
        up = round(math.log2(out_size // min_feat_size))
        encoder: list[nn.Module] = [ConvLayer(3, base_ch, 3)]
        h = base_ch
        for _ in range(down):
            encoder.append(ResidualBlock(clip(h), clip(h * 2), "down"))
            h *= 2
        body = [ResidualBlock(clip(h), clip(h)) for _ in range(res_depth)]
        decoder = []
        for _ in range(up):
            decoder.append(ResidualBlock(clip(h), clip(h // 2), "up"))
            h //= 2
        self.encoder = nn.Sequential(*encoder)
        self.body = nn.Sequential(*body)
        self.decoder = nn.Sequential(*decoder)
        self.out_img_conv = ConvLayer(clip(h), 3)
        self.out_mask_conv = ConvLayer(clip(h), parsing_ch)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feat = self.encoder(x)
        y = self.decoder(feat + self.body(feat))
        return self.out_mask_conv(y), self.out_img_conv(y)


def parse_onehot(parse_logits: torch.Tensor) -> torch.Tensor:
    """The official rule ``(logits == logits.max(dim=1, keepdim=True)).float()`` (exact ties give multi-hot)."""
    return (parse_logits == parse_logits.max(dim=1, keepdim=True)[0]).to(parse_logits.dtype)


def load_parsenet_weights(model: ParseNet, state: Mapping[str, torch.Tensor]) -> ParseNet:
    """Strict load; raises :class:`StateDictMismatchError` naming missing/unexpected/mismatched keys."""
    load_strict(model, state, what="PSFRGAN ParseNet (netP)")
    return model
