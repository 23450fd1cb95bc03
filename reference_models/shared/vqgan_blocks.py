"""The VQGAN building blocks shared by the codebook baselines (CodeFormer, VQFR, RestoreFormer++).

All three official code bases derive from the taming-transformers VQGAN (Esser, Rombach, Ommer, *Taming
Transformers for High-Resolution Image Synthesis*, CVPR 2021) and use the same layers; only the attribute
name of the residual 1x1 shortcut and, in VQFR, the spelling of the activation differ, so those are
parameters here.  Every attribute keeps its official name (state-dict keys are unchanged).

* :func:`group_norm`: ``GroupNorm(32 groups, eps 1e-6, affine)``.
* :func:`swish`: ``x * sigmoid(x)``.
* :class:`ResnetBlock`: ``s(x) + conv2(act(norm2(conv1(act(norm1(x))))))`` with 3x3 convs, ``s`` the
  identity or a 1x1 conv (named ``shortcut``) when the widths differ.
* :class:`AttnBlock`: single-head spatial self-attention ``x + proj_out(v softmax_keys(q^T k / sqrt(C))^T)``
  with 1x1 ``q``, ``k``, ``v``, ``proj_out`` on ``norm(x)``.
* :class:`Downsample`: zero-pad right/bottom by one, conv3x3 stride 2 without padding.
* :class:`Upsample`: nearest x2, then conv3x3.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["AttnBlock", "Downsample", "ResnetBlock", "Upsample", "group_norm", "swish"]


def group_norm(channels: int) -> nn.GroupNorm:
    """``GroupNorm(32, channels, eps=1e-6, affine=True)``."""
    return nn.GroupNorm(32, channels, eps=1e-6, affine=True)


def swish(x: torch.Tensor) -> torch.Tensor:
    """``x * sigmoid(x)`` (written out, as in the official code)."""
    return x * torch.sigmoid(x)


class ResnetBlock(nn.Module):
    """GN-act-conv3x3-GN-act-conv3x3 plus identity, or a 1x1 conv named ``shortcut`` when widths differ.

    ``shortcut``: the official attribute name of the 1x1 conv (``nin_shortcut``, ``conv_out``,
    ``residual_func``); ``activation``: :func:`swish` or ``F.silu`` as in the official code.
    """

    def __init__(self, in_ch: int, out_ch: int, shortcut: str = "nin_shortcut",
                 activation: Callable[[torch.Tensor], torch.Tensor] = swish) -> None:
        super().__init__()
        self.in_ch, self.out_ch = in_ch, out_ch
        self.activation = activation
        self.norm1 = group_norm(in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, 1, 1)
        self.norm2 = group_norm(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1)
        self._shortcut_name = shortcut
        setattr(self, shortcut, nn.Conv2d(in_ch, out_ch, 1, 1, 0) if in_ch != out_ch else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(self.activation(self.norm1(x)))
        h = self.conv2(self.activation(self.norm2(h)))
        skip = getattr(self, self._shortcut_name)
        return (x if skip is None else skip(x)) + h


class AttnBlock(nn.Module):
    """Single-head spatial self-attention with 1x1 q/k/v/proj_out and a residual."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.norm = group_norm(ch)
        self.q = nn.Conv2d(ch, ch, 1)
        self.k = nn.Conv2d(ch, ch, 1)
        self.v = nn.Conv2d(ch, ch, 1)
        self.proj_out = nn.Conv2d(ch, ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        b, c, hh, ww = h.shape
        q = self.q(h).reshape(b, c, hh * ww).transpose(1, 2)      # [b, n, c] queries
        k = self.k(h).reshape(b, c, hh * ww)                      # [b, c, n] keys
        v = self.v(h).reshape(b, c, hh * ww)                      # [b, c, n] values
        attn = torch.softmax(torch.bmm(q, k) * (int(c) ** -0.5), dim=2)   # [b, n_query, n_key]
        out = torch.bmm(v, attn.transpose(1, 2)).reshape(b, c, hh, ww)
        return x + self.proj_out(out)


class Downsample(nn.Module):
    """Zero-pad right/bottom by one, then conv3x3 stride 2 without padding."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, 2, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1), mode="constant", value=0.0))


class Upsample(nn.Module):
    """Nearest x2, then conv3x3."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
