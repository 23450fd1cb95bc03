"""GPEN-BFR generator (``FullGenerator`` of yangxy/GPEN) in plain PyTorch (CPU-capable).

Written from the official architecture (reference ``yangxy/GPEN@2c73670``,
``face_model/gpen_model.py``).  The official model uses JIT-compiled CUDA ops (``FusedLeakyReLU``,
``upfirdn2d``); here they are the plain-torch versions of :mod:`reference_models.shared.stylegan2` (same maths).
``ToRGB`` and ``ConstantInput`` are the shared blocks in their GPEN layout (modulated conv named ``conv``,
FIR-upsampled skip ``upsample.kernel``; constant ``input``).
Module and parameter names follow the official state dict (163 entries for GPEN-BFR-512, incl. the 21
blur-kernel buffers, in the same order), so ``GPEN-BFR-512.pth`` (a bare state dict) loads strictly
through :func:`load_gpen_weights`.

Structure: a U-Net-like encoder ``ecd0 .. ecd{L-2}`` (L = log2(size)) whose every feature map is fed to
the StyleGAN2 synthesis network ``generator`` in place of noise, concatenated (``isconcat``) to the
output of each modulated conv; the 4×4 feature goes through ``final_linear`` and the mapping MLP to the
single style vector.  There is no randomness in the forward pass.

Tensors: ``x (B, 3, size, size)`` RGB in [-1, 1]; ``image`` same convention, not clamped.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from bench.core.checkpoints import StateDictMismatchError, load_strict
from reference_models.shared.stylegan2 import (
    Blur,
    ConstantInput,
    EqualConv2d,
    EqualLinear,
    FusedLeakyReLU,
    ToRGB,
    channel_table,
)

REFERENCE_REPO = "yangxy/GPEN"
REFERENCE_COMMIT = "2c736702983368847fb544d234a22ac7cff25802"
LICENCE = ("none stated: yangxy/GPEN has no licence file (README formerly: (c) Alibaba 2021, academic and "
           "non-commercial use only); treat code and weights as non-commercial research use at most")

#: constructor of the released GPEN-BFR-512 (face_gan wrapper: style_dim 512, n_mlp 8)
RELEASED_CONFIG = {"size": 512, "style_dim": 512, "n_mlp": 8, "channel_multiplier": 2, "narrow": 1,
                   "blur_kernel": [1, 3, 3, 1], "lr_mlp": 0.01, "isconcat": True}
#: GPEN-BFR-256 (``--in_size 256 --channel_multiplier 1 --narrow 0.5``)
CONFIG_256 = dict(RELEASED_CONFIG, size=256, channel_multiplier=1, narrow=0.5)

__all__ = [
    "CONFIG_256",
    "RELEASED_CONFIG",
    "FullGenerator",
    "GPENGenerator",
    "StateDictMismatchError",
    "load_gpen_weights",
]


class PixelNorm(nn.Module):
    """``x * rsqrt(mean(x^2, dim=1) + 1e-8)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(torch.mean(x ** 2, dim=1, keepdim=True) + 1e-8)


class GPENModulatedConv2d(nn.Module):
    """StyleGAN2 modulated conv (rosinality layout): ``weight (1,out,in,k,k)``, optional ``blur``, ``modulation``.

    The upsampling variant is a stride-2 transposed conv followed by a 4×4 FIR blur (kernel ×4, pad (1,1)).
    Not the shared ``ModulatedConv2d`` (which the ToRGB layers use): that one upsamples bilinearly, and the
    official key order here is ``weight, blur.kernel, modulation.*`` (the manifest test checks the order).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, style_dim: int,
                 demodulate: bool = True, upsample: bool = False, blur_kernel: Sequence[float] = (1, 3, 3, 1),
                 eps: float = 1e-8) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.demodulate, self.upsample, self.eps = demodulate, upsample, eps
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size ** 2)
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.randn(1, out_channels, in_channels, kernel_size, kernel_size))
        if upsample:
            factor = 2
            p = (len(blur_kernel) - factor) - (kernel_size - 1)
            self.blur = Blur(blur_kernel, pad=((p + 1) // 2 + factor - 1, p // 2 + 1), upsample_factor=factor)
        self.modulation = EqualLinear(style_dim, in_channels, bias=True, bias_init=1.0)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        s = self.modulation(style).view(b, 1, c, 1, 1)
        weight = self.scale * self.weight * s
        if self.demodulate:
            demod = torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + self.eps)
            weight = weight * demod.view(b, self.out_channels, 1, 1, 1)
        k = self.kernel_size
        if self.upsample:
            weight = weight.transpose(1, 2).reshape(b * c, self.out_channels, k, k)
            out = F.conv_transpose2d(x.reshape(1, b * c, h, w), weight, padding=0, stride=2, groups=b)
            out = out.view(b, self.out_channels, out.shape[-2], out.shape[-1])
            return self.blur(out)
        weight = weight.view(b * self.out_channels, c, k, k)
        out = F.conv2d(x.reshape(1, b * c, h, w), weight, padding=self.padding, groups=b)
        return out.view(b, self.out_channels, out.shape[-2], out.shape[-1])


class NoiseInjection(nn.Module):
    """``isconcat``: ``cat([x, weight * noise], dim=1)``; otherwise ``x + weight * noise``; ``weight (1,)``."""

    def __init__(self, isconcat: bool = True) -> None:
        super().__init__()
        self.isconcat = isconcat
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        if self.isconcat:
            return torch.cat((x, self.weight * noise), dim=1)
        return x + self.weight * noise


class StyledConv(nn.Module):
    """Modulated conv -> noise injection (here: encoder features) -> fused bias-LeakyReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, style_dim: int,
                 upsample: bool = False, blur_kernel: Sequence[float] = (1, 3, 3, 1), isconcat: bool = True) -> None:
        super().__init__()
        self.conv = GPENModulatedConv2d(in_channels, out_channels, kernel_size, style_dim,
                                        upsample=upsample, blur_kernel=blur_kernel)
        self.noise = NoiseInjection(isconcat)
        self.activate = FusedLeakyReLU(out_channels * 2 if isconcat else out_channels)

    def forward(self, x: torch.Tensor, style: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return self.activate(self.noise(self.conv(x, style), noise))


class GPENGenerator(nn.Module):
    """StyleGAN2 synthesis network of GPEN (``generator.*`` keys) with encoder features as "noise"."""

    def __init__(self, size: int, style_dim: int, n_mlp: int, channel_multiplier: float = 2,
                 blur_kernel: Sequence[float] = (1, 3, 3, 1), lr_mlp: float = 0.01, isconcat: bool = True,
                 narrow: float = 1) -> None:
        super().__init__()
        self.size, self.style_dim = size, style_dim
        self.style = nn.Sequential(PixelNorm(), *[
            EqualLinear(style_dim, style_dim, lr_mul=lr_mlp, activation="fused_lrelu") for _ in range(n_mlp)])
        self.channels = ch = channel_table(channel_multiplier, narrow, max_size=size)
        mul = 2 if isconcat else 1
        self.input = ConstantInput(ch[4], param_name="input")
        self.conv1 = StyledConv(ch[4], ch[4], 3, style_dim, blur_kernel=blur_kernel, isconcat=isconcat)
        self.to_rgb1 = ToRGB(ch[4] * mul, style_dim, upsample=False, conv_name="conv")
        self.log_size = int(math.log2(size))
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        in_ch = ch[4]
        for i in range(3, self.log_size + 1):
            out_ch = ch[2 ** i]
            self.convs.append(StyledConv(in_ch * mul, out_ch, 3, style_dim, upsample=True,
                                         blur_kernel=blur_kernel, isconcat=isconcat))
            self.convs.append(StyledConv(out_ch * mul, out_ch, 3, style_dim, blur_kernel=blur_kernel,
                                         isconcat=isconcat))
            self.to_rgbs.append(ToRGB(out_ch * mul, style_dim, fir_kernel=blur_kernel, conv_name="conv"))
            in_ch = out_ch
        self.n_latent = self.log_size * 2 - 2

    def forward(self, z: torch.Tensor, noise: Sequence[torch.Tensor],
                input_is_latent: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """``z (B, style_dim)``; ``noise`` = ``[f4, f8, f8, ..., f_size, f_size]``; returns ``(image, latent)``."""
        w = z if input_is_latent else self.style(z)
        latent = w.unsqueeze(1).repeat(1, self.n_latent, 1)
        out = self.conv1(self.input(latent.shape[0]), latent[:, 0], noise[0])
        skip = self.to_rgb1(out, latent[:, 1])
        i = 1
        for conv_up, conv, n1, n2, to_rgb in zip(self.convs[::2], self.convs[1::2], noise[1::2], noise[2::2],
                                                 self.to_rgbs):
            out = conv_up(out, latent[:, i], n1)
            out = conv(out, latent[:, i + 1], n2)
            skip = to_rgb(out, latent[:, i + 2], skip)
            i += 2
        return skip, latent


class _EncoderConv(nn.Sequential):
    """Official ``ConvLayer``: ``[Blur(pad (2,2)) if downsample] -> EqualConv2d(no bias) -> FusedLeakyReLU``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, downsample: bool = False,
                 blur_kernel: Sequence[float] = (1, 3, 3, 1)) -> None:
        layers: list[nn.Module] = []
        if downsample:
            p = (len(blur_kernel) - 2) + (kernel_size - 1)
            layers.append(Blur(blur_kernel, pad=((p + 1) // 2, p // 2)))
            layers.append(EqualConv2d(in_channels, out_channels, kernel_size, stride=2, padding=0, bias=False))
        else:
            layers.append(EqualConv2d(in_channels, out_channels, kernel_size, stride=1,
                                      padding=kernel_size // 2, bias=False))
        layers.append(FusedLeakyReLU(out_channels))
        super().__init__(*layers)


class FullGenerator(nn.Module):
    """GPEN-BFR generator; ``forward(x, return_latents=False) -> (image, latent or None)``."""

    def __init__(self, size: int = 512, style_dim: int = 512, n_mlp: int = 8, channel_multiplier: float = 2,
                 blur_kernel: Sequence[float] = (1, 3, 3, 1), lr_mlp: float = 0.01, isconcat: bool = True,
                 narrow: float = 1) -> None:
        super().__init__()
        if size < 8 or size > 1024 or 2 ** int(math.log2(size)) != size:
            raise ValueError(f"size must be a power of two in [8, 1024], got {size}")
        self.config = {"size": size, "style_dim": style_dim, "n_mlp": n_mlp,
                       "channel_multiplier": channel_multiplier, "narrow": narrow,
                       "blur_kernel": list(blur_kernel), "lr_mlp": lr_mlp, "isconcat": isconcat}
        self.size = size
        self.generator = GPENGenerator(size, style_dim, n_mlp, channel_multiplier, blur_kernel, lr_mlp,
                                       isconcat, narrow)
        ch = self.generator.channels
        self.log_size = int(math.log2(size))
        self.names = [f"ecd{i}" for i in range(self.log_size - 1)]
        self.add_module("ecd0", nn.Sequential(_EncoderConv(3, ch[size], 1)))
        in_ch = ch[size]
        for i in range(self.log_size, 2, -1):
            out_ch = ch[2 ** (i - 1)]
            self.add_module(f"ecd{self.log_size - i + 1}",
                            nn.Sequential(_EncoderConv(in_ch, out_ch, 3, downsample=True, blur_kernel=blur_kernel)))
            in_ch = out_ch
        self.final_linear = nn.Sequential(EqualLinear(ch[4] * 4 * 4, style_dim, activation="fused_lrelu"))

    def forward(self, x: torch.Tensor, return_latents: bool = False,
                return_features: bool = False) -> tuple[torch.Tensor, ...]:
        feats = []
        h = x
        for name in self.names:
            h = getattr(self, name)(h)
            feats.append(h)
        z = self.final_linear(h.reshape(h.shape[0], -1))
        noise = [f for f in feats for _ in range(2)][::-1][1:]
        image, latent = self.generator(z, noise)
        result = (image, latent if return_latents else None)
        return result + (feats,) if return_features else result


def load_gpen_weights(model: FullGenerator, state: Mapping[str, torch.Tensor]) -> None:
    """Strict load; raises :class:`StateDictMismatchError` naming missing/unexpected/mismatched keys."""
    load_strict(model, state, what="GPEN FullGenerator")
