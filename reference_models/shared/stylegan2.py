"""StyleGAN2 building blocks in plain PyTorch (no custom CUDA ops), shared by the suite's ports.

Background: Karras et al., *Analyzing and Improving the Image Quality of StyleGAN* (CVPR 2020).  The
blocks are written from the official DebiasFR generator and discriminator
(``Seeyn/DebiasFR@70162552``, ``dbfr/archs/stylegan2_bilinear_arch.py`` and ``dbfr/archs/stylegan2_dis_arch.py``; see also
``docs/protocols/debiasfr.md`` §2.3-2.4).  Module and attribute names are chosen so that the
official state-dict keys load unchanged, e.g. ``style_convs.3.modulated_conv.modulation.weight``.

Conventions
-----------
* **Equalised learning rate.** Weights are stored unscaled (``N(0, 1)`` at init) and multiplied at run
  time by the python float ``scale = 1/sqrt(fan_in)`` (times ``lr_mul`` for :class:`EqualLinear`).  The
  multiplication order ``W * scale`` matches the reference bit for bit on CPU.
* **Activations.** :class:`FusedLeakyReLU` = ``sqrt(2) * leaky_relu(x + b, 0.2)`` with its own ``bias``
  parameter; :class:`ScaledLeakyReLU` = ``sqrt(2) * leaky_relu(x, 0.2)``.  The ``sqrt(2)`` gain keeps
  the activation variance at one.
* **Resampling.** The DebiasFR / GFPGAN-"clean" family resamples with bilinear interpolation
  (``align_corners=False``): ×2 up before a conv, ×0.5 down (which equals exact 2×2 average pooling).
  The original StyleGAN2 uses FIR filtering ("blur", kernel ``[1, 3, 3, 1]``) via ``upfirdn2d``;
  :func:`upfirdn2d`, :func:`make_resample_kernel`, :class:`Blur` and :class:`FIRUpsample` give that
  operation in plain torch for ports that need it (GPEN, original-StyleGAN2 GFPGAN).
* **Port layouts.** GFPGAN-"clean" (no equalised learning rate) and GPEN (rosinality key names, FIR skip
  upsampling) are options of :class:`ModulatedConv2d`, :class:`ToRGB` and :class:`ConstantInput`.
* Tensors are ``(B, C, H, W)`` float32; latents / styles are ``(B, S)`` (one layer) or ``(B, L, S)``.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)

__all__ = [
    "Blur",
    "ConstantInput",
    "ConvLayer",
    "ConvUpLayer",
    "EqualConv2d",
    "EqualLinear",
    "FIRUpsample",
    "FusedLeakyReLU",
    "ModulatedConv2d",
    "NoiseBuffers",
    "NormStyleCode",
    "ResBlock",
    "ResUpBlock",
    "ScaledLeakyReLU",
    "StyleConv",
    "ToRGB",
    "channel_table",
    "fused_leaky_relu",
    "make_resample_kernel",
    "make_style_mlp",
    "minibatch_stddev",
    "resize_bilinear",
    "upfirdn2d",
]


# ----------------------------------------------------------------------------------------------------
# activations and equalised layers


def fused_leaky_relu(x: torch.Tensor, bias: torch.Tensor, negative_slope: float = 0.2) -> torch.Tensor:
    """``sqrt(2) * leaky_relu(x + bias)``, ``bias`` broadcast over channel dim 1 (2-D or 4-D ``x``)."""
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return SQRT2 * F.leaky_relu(x + bias.view(shape), negative_slope)


class FusedLeakyReLU(nn.Module):
    """Bias + leaky ReLU(0.2) + gain ``sqrt(2)``; parameter ``bias`` of shape ``(C,)``, zero-initialised."""

    def __init__(self, channels: int, negative_slope: float = 0.2) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))
        self.negative_slope = negative_slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fused_leaky_relu(x, self.bias, self.negative_slope)


class ScaledLeakyReLU(nn.Module):
    """``sqrt(2) * leaky_relu(x, 0.2)`` (no parameters)."""

    def __init__(self, negative_slope: float = 0.2) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return SQRT2 * F.leaky_relu(x, self.negative_slope)


class EqualLinear(nn.Module):
    """Equalised linear layer: ``x @ (W * lr_mul / sqrt(in))^T + b * lr_mul``.

    ``weight (out, in)`` is initialised ``N(0, 1) / lr_mul`` and ``bias (out,)`` to ``bias_init``.
    ``activation='fused_lrelu'`` adds the bias inside :func:`fused_leaky_relu` (same key ``bias``).
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True, bias_init: float = 0.0,
                 lr_mul: float = 1.0, activation: str | None = None) -> None:
        super().__init__()
        if activation not in (None, "fused_lrelu"):
            raise ValueError(f"unsupported activation {activation!r} (None or 'fused_lrelu')")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.lr_mul, self.activation = lr_mul, activation
        self.scale = (1.0 / math.sqrt(in_channels)) * lr_mul
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels).div_(lr_mul))
        self.bias = nn.Parameter(torch.full((out_channels,), float(bias_init))) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias * self.lr_mul
        if self.activation == "fused_lrelu":
            out = F.linear(x, self.weight * self.scale)
            return out if bias is None else fused_leaky_relu(out, bias)
        return F.linear(x, self.weight * self.scale, bias)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, lr_mul={self.lr_mul}, activation={self.activation}"


class EqualConv2d(nn.Module):
    """Equalised conv: ``conv2d(x, W / sqrt(in * k * k), b)``; ``weight (out, in, k, k)``, ``bias (out,)``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, bias: bool = True, bias_init: float = 0.0) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.stride, self.padding = stride, padding
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size ** 2)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.full((out_channels,), float(bias_init))) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, stride=self.stride, padding=self.padding)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, k={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, bias={self.bias is not None}")


class NormStyleCode(nn.Module):
    """Pixel norm of a style code over its last dim: ``x * rsqrt(mean(x^2) + 1e-8)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(torch.mean(x ** 2, dim=-1, keepdim=True) + 1e-8)


def make_style_mlp(num_style_feat: int, num_mlp: int, lr_mlp: float = 0.01) -> nn.Sequential:
    """Mapping network z -> w: ``[NormStyleCode, num_mlp x EqualLinear(S, S, lr_mul, fused_lrelu)]``.

    Keys ``style_mlp.1.weight`` ... ``style_mlp.{num_mlp}.bias`` (index 0 has no parameters).
    """
    layers: list[nn.Module] = [NormStyleCode()]
    layers += [EqualLinear(num_style_feat, num_style_feat, bias=True, bias_init=0.0, lr_mul=lr_mlp,
                           activation="fused_lrelu") for _ in range(num_mlp)]
    return nn.Sequential(*layers)


def channel_table(channel_multiplier: float = 2, narrow: float = 1.0, max_size: int = 1024) -> dict[int, int]:
    """StyleGAN2 width per resolution: ``512*narrow`` up to 32, then ``256, 128, 64, 32, 16`` × cm × narrow."""
    table = {r: int(512 * narrow) for r in (4, 8, 16, 32)}
    for r, base in ((64, 256), (128, 128), (256, 64), (512, 32), (1024, 16)):
        table[r] = int(base * channel_multiplier * narrow)
    return {r: c for r, c in table.items() if r <= max_size}


# ----------------------------------------------------------------------------------------------------
# resampling


def resize_bilinear(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Bilinear resize by ``factor`` (``align_corners=False``, no antialias). ×0.5 == 2×2 average pooling."""
    return F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)


def make_resample_kernel(k: Sequence[float]) -> torch.Tensor:
    """1-D taps -> normalised 2-D FIR kernel (outer product, sums to 1); 2-D input is only normalised."""
    t = torch.as_tensor(k, dtype=torch.float32)
    if t.ndim == 1:
        t = t[None, :] * t[:, None]
    return t / t.sum()


def upfirdn2d(x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1,
              pad: tuple[int, int] = (0, 0)) -> torch.Tensor:
    """Upsample (zero insertion) -> pad -> FIR filter -> downsample, per channel, in plain torch.

    ``x (B, C, H, W)``, ``kernel (kh, kw)``, ``pad = (p0, p1)`` applied to both axes (negative = crop).
    Output side ``(H*up + p0 + p1 - kh) // down + 1``.  The kernel is flipped before the correlation so
    that this is a true convolution, as in the original ``upfirdn2d`` op; callers multiply the kernel by
    ``up**2`` when upsampling to preserve brightness.
    """
    b, c, h, w = x.shape
    p0, p1 = pad
    out = x.reshape(b * c, 1, h, 1, w, 1)
    if up > 1:
        out = F.pad(out, (0, up - 1, 0, 0, 0, up - 1))
    out = out.reshape(b * c, 1, h * up, w * up)
    out = F.pad(out, (max(p0, 0), max(p1, 0), max(p0, 0), max(p1, 0)))
    hh, ww = out.shape[-2:]
    out = out[:, :, max(-p0, 0):hh - max(-p1, 0), max(-p0, 0):ww - max(-p1, 0)]
    weight = torch.flip(kernel, [0, 1]).to(out)[None, None]
    out = F.conv2d(out, weight)
    out = out[:, :, ::down, ::down]
    return out.reshape(b, c, out.shape[-2], out.shape[-1])


class Blur(nn.Module):
    """FIR blur used around strided / transposed convs in the original StyleGAN2 (buffer ``kernel``)."""

    def __init__(self, kernel: Sequence[float], pad: tuple[int, int], upsample_factor: int = 1) -> None:
        super().__init__()
        k = make_resample_kernel(kernel)
        if upsample_factor > 1:
            k = k * upsample_factor ** 2
        self.register_buffer("kernel", k)
        self.pad = tuple(pad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, pad=self.pad)


class FIRUpsample(nn.Module):
    """Original StyleGAN2 ``Upsample``: ``upfirdn2d(up=factor)``, buffer ``kernel`` = normalised taps × factor²."""

    def __init__(self, kernel: Sequence[float], factor: int = 2) -> None:
        super().__init__()
        self.register_buffer("kernel", make_resample_kernel(kernel) * factor ** 2)
        self.factor = factor
        p = len(kernel) - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)


# ----------------------------------------------------------------------------------------------------
# synthesis blocks


class ModulatedConv2d(nn.Module):
    """Style-modulated conv (StyleGAN2 weight (de)modulation), bilinear resampling variant.

    * ``s = modulation(style)`` (:class:`EqualLinear` S -> Cin, bias initialised to 1), ``(B, Cin)``;
    * ``W' = (W / sqrt(Cin*k*k)) * s`` per sample, ``weight`` stored as ``(1, Cout, Cin, k, k)``;
    * with ``demodulate``: ``W' *= rsqrt(sum_{Cin,k,k} W'^2 + eps)`` (unit output variance);
    * ``sample_mode='upsample'`` resizes the input bilinearly ×2 first, ``'downsample'`` ×0.5;
    * grouped conv over the batch, padding ``k // 2``.

    ``equal_lr=False`` is the GFPGAN "clean" layout (same keys): ``modulation`` a plain ``nn.Linear``
    (Kaiming-normal, bias 1), ``weight`` stored already divided by ``sqrt(Cin*k*k)``, no run-time scale.
    ``forward(x, style) -> (B, Cout, H', W')``; :meth:`modulated` takes a precomputed ``s``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, num_style_feat: int,
                 demodulate: bool = True, sample_mode: str | None = None, eps: float = 1e-8,
                 equal_lr: bool = True) -> None:
        super().__init__()
        if sample_mode not in (None, "upsample", "downsample"):
            raise ValueError(f"sample_mode must be None, 'upsample' or 'downsample', got {sample_mode!r}")
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.demodulate, self.sample_mode, self.eps = demodulate, sample_mode, eps
        fan_in = in_channels * kernel_size ** 2
        self.scale = 1.0 / math.sqrt(fan_in) if equal_lr else None
        self.padding = kernel_size // 2
        self.modulation = (EqualLinear(num_style_feat, in_channels, bias=True, bias_init=1.0, lr_mul=1.0)
                           if equal_lr else nn.Linear(num_style_feat, in_channels, bias=True))
        weight = torch.randn(1, out_channels, in_channels, kernel_size, kernel_size)
        self.weight = nn.Parameter(weight if equal_lr else weight / math.sqrt(fan_in))
        if not equal_lr and self.modulation.weight.device.type != "meta":
            nn.init.kaiming_normal_(self.modulation.weight, a=0, mode="fan_in", nonlinearity="linear")
            nn.init.constant_(self.modulation.bias, 1.0)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return self.modulated(x, self.modulation(style))

    def modulated(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """The conv for an already computed modulation vector ``s (B, Cin)``."""
        b, c = x.shape[:2]
        weight = self.weight if self.scale is None else self.scale * self.weight
        weight = weight * s.view(b, 1, c, 1, 1)
        if self.demodulate:
            demod = torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + self.eps)
            weight = weight * demod.view(b, self.out_channels, 1, 1, 1)
        weight = weight.view(b * self.out_channels, c, self.kernel_size, self.kernel_size)
        if self.sample_mode == "upsample":
            x = resize_bilinear(x, 2.0)
        elif self.sample_mode == "downsample":
            x = resize_bilinear(x, 0.5)
        h, w = x.shape[-2:]
        out = F.conv2d(x.reshape(1, b * c, h, w), weight, padding=self.padding, groups=b)
        return out.view(b, self.out_channels, out.shape[-2], out.shape[-1])

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, k={self.kernel_size}, demodulate={self.demodulate}, "
                f"sample_mode={self.sample_mode}, equal_lr={self.scale is not None}")


class StyleConv(nn.Module):
    """Modulated conv + noise + bias + leaky ReLU: ``sqrt(2)*lrelu(modconv(x, w) + weight*noise + b)``.

    Keys: ``weight`` (noise strength, shape ``(1,)``, zero-init), ``modulated_conv.*``, ``activate.bias``.
    ``noise=None`` draws fresh ``N(0, 1)`` noise ``(B, 1, H, W)``.  The modulation vector of the last call
    is available as ``self.last_style`` (``(B, Cin)``).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, num_style_feat: int,
                 demodulate: bool = True, sample_mode: str | None = None) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.modulated_conv = ModulatedConv2d(in_channels, out_channels, kernel_size, num_style_feat,
                                              demodulate=demodulate, sample_mode=sample_mode)
        self.activate = FusedLeakyReLU(out_channels)
        self.last_style: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, style: torch.Tensor, noise: torch.Tensor | None = None,
                style_is_modulation: bool = False) -> torch.Tensor:
        s = style if style_is_modulation else self.modulated_conv.modulation(style)
        self.last_style = s
        out = self.modulated_conv.modulated(x, s)
        if noise is None:
            b, _, h, w = out.shape
            noise = out.new_empty(b, 1, h, w).normal_()
        out = out + self.weight * noise
        return self.activate(out)


class ToRGB(nn.Module):
    """1×1 modulated conv to RGB (no demodulation) ``+ bias (1,3,1,1)`` ``+ upsampled ×2 (previous rgb)``.

    Layout options of the ports (keys otherwise ``bias``, ``modulated_conv.*``): ``equal_lr=False`` (GFPGAN
    "clean", see :class:`ModulatedConv2d`); ``fir_kernel``: the skip is upsampled by :class:`FIRUpsample`
    (key ``upsample.kernel``) instead of bilinearly; ``conv_name``: name of the modulated conv (GPEN: ``conv``).
    """

    def __init__(self, in_channels: int, num_style_feat: int, upsample: bool = True, out_channels: int = 3,
                 equal_lr: bool = True, fir_kernel: Sequence[float] | None = None,
                 conv_name: str = "modulated_conv") -> None:
        super().__init__()
        self.upsample = (None if not upsample else FIRUpsample(fir_kernel) if fir_kernel is not None
                         else _Resize(2.0))
        self.conv_name = conv_name
        self.add_module(conv_name, ModulatedConv2d(in_channels, out_channels, 1, num_style_feat, demodulate=False,
                                                   equal_lr=equal_lr))
        self.bias = nn.Parameter(torch.zeros(1, out_channels, 1, 1))

    def forward(self, x: torch.Tensor, style: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        out = getattr(self, self.conv_name)(x, style) + self.bias
        if skip is not None:
            out = out + (skip if self.upsample is None else self.upsample(skip))
        return out


class ConstantInput(nn.Module):
    """Learned constant ``(1, C, size, size)`` repeated over the batch; parameter ``weight`` (GPEN: ``input``)."""

    def __init__(self, channels: int, size: int = 4, param_name: str = "weight") -> None:
        super().__init__()
        self.param_name = param_name
        self.register_parameter(param_name, nn.Parameter(torch.randn(1, channels, size, size)))

    def forward(self, batch: int) -> torch.Tensor:
        return getattr(self, self.param_name).repeat(batch, 1, 1, 1)


class NoiseBuffers(nn.Module):
    """Fixed noise maps ``noise{i}`` of shape ``(1, 1, r, r)``, ``r = 2**((i + 5) // 2)``, ``i < num_layers``."""

    def __init__(self, num_layers: int) -> None:
        super().__init__()
        self.num_layers = num_layers
        for i in range(num_layers):
            r = 2 ** ((i + 5) // 2)
            self.register_buffer(f"noise{i}", torch.randn(1, 1, r, r))

    def as_list(self) -> list[torch.Tensor]:
        return [getattr(self, f"noise{i}") for i in range(self.num_layers)]


# ----------------------------------------------------------------------------------------------------
# encoder / discriminator blocks (bilinear resampling)


class ConvLayer(nn.Sequential):
    """``[bilinear ×0.5 if downsample] -> EqualConv2d(pad k//2) -> [activation]`` as a Sequential.

    The conv has a bias only when ``bias and not activate``; with ``activate`` the activation is a
    :class:`FusedLeakyReLU` (``bias=True``) or, if ``bias=False``, a :class:`ScaledLeakyReLU` — unless
    ``scaled_lrelu_without_bias=False`` (DebiasFR's discriminator file, where such a layer has no
    activation at all).  The optional resize shifts the Sequential indices, hence keys like
    ``conv2.1.weight`` / ``conv2.2.bias``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, downsample: bool = False,
                 bias: bool = True, activate: bool = True, scaled_lrelu_without_bias: bool = True) -> None:
        layers: list[nn.Module] = []
        if downsample:
            layers.append(_Resize(0.5))
        layers.append(EqualConv2d(in_channels, out_channels, kernel_size, stride=1, padding=kernel_size // 2,
                                  bias=bias and not activate))
        if activate:
            if bias:
                layers.append(FusedLeakyReLU(out_channels))
            elif scaled_lrelu_without_bias:
                layers.append(ScaledLeakyReLU(0.2))
        super().__init__(*layers)


class _Resize(nn.Module):
    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return resize_bilinear(x, self.factor)

    def extra_repr(self) -> str:
        return f"bilinear x{self.factor}"


class ResBlock(nn.Module):
    """Residual down block: ``(conv2(conv1(x)) + skip(x)) / sqrt(2)``, resolution halved.

    ``conv1`` = ConvLayer 3×3 in->in; ``conv2`` = ConvLayer 3×3 in->out with bilinear ×0.5 first;
    ``skip`` = bilinear ×0.5 + 1×1 conv in->out without bias or activation.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = ConvLayer(in_channels, in_channels, 3, bias=True, activate=True)
        self.conv2 = ConvLayer(in_channels, out_channels, 3, downsample=True, bias=True, activate=True)
        self.skip = ConvLayer(in_channels, out_channels, 1, downsample=True, bias=False, activate=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.conv1(x))
        return (out + self.skip(x)) / SQRT2


class ConvUpLayer(nn.Module):
    """Bilinear ×2 then equalised conv; with ``activate`` the conv has no bias and a FusedLeakyReLU
    (key ``activation.bias``) follows; otherwise the conv has ``bias`` if requested."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 bias: bool = True, bias_init: float = 0.0, activate: bool = True) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.stride, self.padding = stride, padding
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size ** 2)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = (nn.Parameter(torch.full((out_channels,), float(bias_init)))
                     if bias and not activate else None)
        self.activation = FusedLeakyReLU(out_channels) if activate and bias else (
            ScaledLeakyReLU(0.2) if activate else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = resize_bilinear(x, 2.0)
        out = F.conv2d(out, self.weight * self.scale, self.bias, stride=self.stride, padding=self.padding)
        return out if self.activation is None else self.activation(out)


class ResUpBlock(nn.Module):
    """Residual up block: ``(conv2(conv1(x)) + skip(x)) / sqrt(2)``, resolution doubled.

    ``conv1`` = ConvLayer 3×3 in->in; ``conv2`` = ConvUpLayer 3×3 in->out (pad 1, FusedLeakyReLU);
    ``skip`` = ConvUpLayer 1×1 in->out without bias or activation.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = ConvLayer(in_channels, in_channels, 3, bias=True, activate=True)
        self.conv2 = ConvUpLayer(in_channels, out_channels, 3, stride=1, padding=1, bias=True, activate=True)
        self.skip = ConvUpLayer(in_channels, out_channels, 1, bias=False, activate=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.conv1(x))
        return (out + self.skip(x)) / SQRT2


def minibatch_stddev(x: torch.Tensor, group_size: int = 4, num_features: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """Append the minibatch standard-deviation channel(s) (StyleGAN2 discriminator).

    ``G = min(B, group_size)`` (B must be divisible by G); sample ``n`` is grouped with the samples of
    the same ``n mod (B/G)``; biased variance over the group, ``sqrt(var + eps)``, averaged over
    channels (per feature split) and space, tiled to ``(B, num_features, H, W)`` and concatenated.
    """
    b, c, h, w = x.shape
    g = min(b, group_size)
    if b % g:
        raise ValueError(f"batch {b} is not divisible by the stddev group size {g}")
    y = x.view(g, -1, num_features, c // num_features, h, w)
    y = torch.sqrt(y.var(0, unbiased=False) + eps)
    y = y.mean(dim=[2, 3, 4], keepdim=True).squeeze(2)
    y = y.repeat(g, 1, h, w)
    return torch.cat([x, y], 1)
