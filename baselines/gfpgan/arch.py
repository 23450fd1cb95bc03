"""GFPGANv1Clean (GFPGAN v1.3 / v1.4 generator) in plain PyTorch.

Written from the official architecture (reference
``TencentARC/GFPGAN@7552a77``, ``gfpgan/archs/gfpganv1_clean_arch.py`` + ``stylegan2_clean_arch.py``).
Module names follow the official state dict so ``params_ema`` of ``GFPGANv1.3.pth`` / ``GFPGANv1.4.pth``
loads strictly (:func:`load_gfpgan_weights`; 285 keys at the released configuration).

The "clean" family differs from the equalised-LR blocks in :mod:`reference_models.shared.stylegan2` (used by
DebiasFR): every layer is a plain ``nn.Conv2d`` / ``nn.Linear`` with no run-time weight scaling, the
modulated-conv weight is stored already divided by ``sqrt(Cin*k*k)``, StyleConv applies ``sqrt(2)``
*before* the noise/bias and a plain LeakyReLU(0.2) after, and the U-Net ResBlocks add the skip without
``/sqrt(2)``.  The modulated conv, ToRGB and constant input are the shared blocks with ``equal_lr=False``
(same keys, same maths); the channel table, noise buffers, pixel norm and bilinear resize are shared as
they are; the clean StyleConv, the ResBlock and the mapping MLP of plain layers are defined here.

Tensors: ``x (B, 3, out, out)`` RGB in [-1, 1]; ``image`` same convention, not clamped.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from bench.core.checkpoints import StateDictMismatchError, load_strict
from reference_models.shared.stylegan2 import (
    ConstantInput,
    ModulatedConv2d,
    NoiseBuffers,
    NormStyleCode,
    ToRGB,
    channel_table,
    resize_bilinear,
)

REFERENCE_REPO = "TencentARC/GFPGAN"
REFERENCE_COMMIT = "7552a7791caad982045a7bbe5634bbf1cd5c8679"
LICENCE = "Apache-2.0 (TencentARC/GFPGAN; third-party parts carry their own licences)"

#: constructor of the released v1.3 / v1.4 models (``inference_gfpgan.py``, ``GFPGANer`` arch 'clean')
RELEASED_CONFIG = {"out_size": 512, "num_style_feat": 512, "channel_multiplier": 2, "decoder_load_path": None,
                   "fix_decoder": False, "num_mlp": 8, "input_is_latent": True, "different_w": True,
                   "narrow": 1, "sft_half": True}

__all__ = [
    "LICENCE",
    "RELEASED_CONFIG",
    "GFPGANv1Clean",
    "StateDictMismatchError",
    "StyleGAN2GeneratorCSFT",
    "extract_gfpgan_state",
    "load_gfpgan_weights",
]


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


class CleanStyleConv(nn.Module):
    """``lrelu(sqrt(2) * modconv(x, w) + weight * noise + bias)``; keys ``weight (1,)``, ``bias (1,C,1,1)``,
    ``modulated_conv.*``.  ``noise=None`` draws fresh ``N(0,1)`` noise ``(B,1,H,W)``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, num_style_feat: int,
                 upsample: bool = False) -> None:
        super().__init__()
        self.modulated_conv = ModulatedConv2d(in_channels, out_channels, kernel_size, num_style_feat, demodulate=True,
                                              sample_mode="upsample" if upsample else None, equal_lr=False)
        self.weight = nn.Parameter(torch.zeros(1))
        self.bias = nn.Parameter(torch.zeros(1, out_channels, 1, 1))

    def forward(self, x: torch.Tensor, style: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        out = self.modulated_conv(x, style) * math.sqrt(2.0)
        if noise is None:
            b, _, h, w = out.shape
            noise = out.new_empty(b, 1, h, w).normal_()
        out = out + self.weight * noise
        out = out + self.bias
        return _lrelu(out)


class StyleGAN2GeneratorCSFT(nn.Module):
    """Clean StyleGAN2 synthesis network with channel-split SFT (``stylegan_decoder.`` in GFPGANv1Clean).

    W+ layer ``l``: style_conv1 -> 0, to_rgb1 -> 1, level ``j``: conv1 -> 2j+1, conv2 -> 2j+2, to_rgb -> 2j+3.
    The SFT ``(scale_j, shift_j) = conditions[2j], conditions[2j+1]`` is applied after conv1 of level ``j``.
    """

    def __init__(self, out_size: int, num_style_feat: int = 512, num_mlp: int = 8, channel_multiplier: float = 2,
                 narrow: float = 1, sft_half: bool = False) -> None:
        super().__init__()
        self.out_size, self.num_style_feat, self.sft_half = out_size, num_style_feat, sft_half
        self.log_size = int(math.log2(out_size))
        if 2 ** self.log_size != out_size or out_size < 8:
            raise ValueError(f"out_size must be a power of two >= 8, got {out_size}")
        self.num_layers = 2 * (self.log_size - 2) + 1
        self.num_latent = 2 * self.log_size - 2
        ch = channel_table(channel_multiplier, narrow, max_size=max(out_size, 1024))
        self.channels = ch
        mlp: list[nn.Module] = [NormStyleCode()]
        for _ in range(num_mlp):
            mlp += [nn.Linear(num_style_feat, num_style_feat, bias=True), nn.LeakyReLU(0.2, inplace=True)]
        self.style_mlp = nn.Sequential(*mlp)
        self.constant_input = ConstantInput(ch[4], size=4)
        self.style_conv1 = CleanStyleConv(ch[4], ch[4], 3, num_style_feat)
        self.to_rgb1 = ToRGB(ch[4], num_style_feat, upsample=False, equal_lr=False)
        self.style_convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        cin = ch[4]
        for i in range(3, self.log_size + 1):
            cout = ch[2 ** i]
            self.style_convs.append(CleanStyleConv(cin, cout, 3, num_style_feat, upsample=True))
            self.style_convs.append(CleanStyleConv(cout, cout, 3, num_style_feat))
            self.to_rgbs.append(ToRGB(cout, num_style_feat, upsample=True, equal_lr=False))
            cin = cout
        self.noises = NoiseBuffers(self.num_layers)

    def sft(self, out: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        if self.sft_half:
            keep, mod = torch.split(out, out.size(1) // 2, dim=1)
            return torch.cat([keep, mod * scale + shift], dim=1)
        return out * scale + shift

    def forward(self, latent: torch.Tensor, conditions: Sequence[torch.Tensor], input_is_latent: bool = True,
                noise: Sequence[torch.Tensor | None] | None = None, randomize_noise: bool = True) -> torch.Tensor:
        """``latent (B, L, S)`` (or ``(B, S)``, repeated) -> ``image (B, 3, out, out)``."""
        if not input_is_latent:
            latent = self.style_mlp(latent)
        if latent.ndim == 2:
            latent = latent.unsqueeze(1).repeat(1, self.num_latent, 1)
        if noise is None:
            noise = [None] * self.num_layers if randomize_noise else self.noises.as_list()
        out = self.constant_input(latent.shape[0])
        out = self.style_conv1(out, latent[:, 0], noise=noise[0])
        skip = self.to_rgb1(out, latent[:, 1])
        layer = 1
        for j, to_rgb in enumerate(self.to_rgbs):
            out = self.style_convs[2 * j](out, latent[:, layer], noise=noise[2 * j + 1])
            if 2 * j + 1 < len(conditions):
                out = self.sft(out, conditions[2 * j], conditions[2 * j + 1])
            out = self.style_convs[2 * j + 1](out, latent[:, layer + 1], noise=noise[2 * j + 2])
            skip = to_rgb(out, latent[:, layer + 2], skip)
            layer += 2
        return skip


class CleanResBlock(nn.Module):
    """``y = lrelu(conv2(resize(lrelu(conv1(x)))))``; ``out = y + skip(resize(x))`` (no /sqrt(2)).
    ``mode`` 'down' (×0.5) or 'up' (×2); plain convs (3×3 with bias, 1×1 skip without bias)."""

    def __init__(self, in_channels: int, out_channels: int, mode: str = "down") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, in_channels, 3, 1, 1)
        self.conv2 = nn.Conv2d(in_channels, out_channels, 3, 1, 1)
        self.skip = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.factor = 0.5 if mode == "down" else 2.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = _lrelu(self.conv1(x))
        out = _lrelu(self.conv2(resize_bilinear(out, self.factor)))
        return out + self.skip(resize_bilinear(x, self.factor))


class GFPGANv1Clean(nn.Module):
    """GFPGAN v1.3/v1.4 generator: ``image, out_rgbs = model(x, return_rgb=..., randomize_noise=...)``.

    Constructor as in the official class (see the golden README); ``decoder_load_path`` loads a clean
    StyleGAN2 prior strictly from its ``params_ema``; ``fix_decoder`` only sets ``requires_grad``.
    """

    def __init__(self, out_size: int, num_style_feat: int = 512, channel_multiplier: float = 1,
                 decoder_load_path: str | None = None, fix_decoder: bool = True, num_mlp: int = 8,
                 input_is_latent: bool = False, different_w: bool = False, narrow: float = 1,
                 sft_half: bool = False) -> None:
        super().__init__()
        self.config = {"out_size": out_size, "num_style_feat": num_style_feat,
                       "channel_multiplier": channel_multiplier, "decoder_load_path": decoder_load_path,
                       "fix_decoder": fix_decoder, "num_mlp": num_mlp, "input_is_latent": input_is_latent,
                       "different_w": different_w, "narrow": narrow, "sft_half": sft_half}
        self.out_size, self.num_style_feat = out_size, num_style_feat
        self.input_is_latent, self.different_w, self.sft_half = input_is_latent, different_w, sft_half
        self.log_size = int(math.log2(out_size))
        if 2 ** self.log_size != out_size or out_size < 8:
            raise ValueError(f"out_size must be a power of two >= 8, got {out_size}")
        self.num_latent = 2 * self.log_size - 2
        cu = channel_table(channel_multiplier, narrow * 0.5, max_size=max(out_size, 1024))
        self.unet_channels = cu

        self.conv_body_first = nn.Conv2d(3, cu[out_size], 1)
        self.conv_body_down = nn.ModuleList()
        cin = cu[out_size]
        for i in range(self.log_size, 2, -1):
            self.conv_body_down.append(CleanResBlock(cin, cu[2 ** (i - 1)], mode="down"))
            cin = cu[2 ** (i - 1)]
        self.final_conv = nn.Conv2d(cin, cu[4], 3, 1, 1)
        self.conv_body_up = nn.ModuleList()
        cin = cu[4]
        for i in range(3, self.log_size + 1):
            self.conv_body_up.append(CleanResBlock(cin, cu[2 ** i], mode="up"))
            cin = cu[2 ** i]
        self.toRGB = nn.ModuleList([nn.Conv2d(cu[2 ** i], 3, 1) for i in range(3, self.log_size + 1)])
        linear_out = self.num_latent * num_style_feat if different_w else num_style_feat
        self.final_linear = nn.Linear(cu[4] * 16, linear_out)
        self.stylegan_decoder = StyleGAN2GeneratorCSFT(out_size, num_style_feat, num_mlp, channel_multiplier,
                                                       narrow, sft_half)
        if decoder_load_path:
            from bench.core.provenance import note_file

            state = torch.load(decoder_load_path, map_location="cpu", weights_only=True)["params_ema"]
            note_file(decoder_load_path, "decoder prior")
            load_strict(self.stylegan_decoder, state, what="GFPGAN StyleGAN2 decoder prior")
        if fix_decoder:
            for p in self.stylegan_decoder.parameters():
                p.requires_grad_(False)
        self.condition_scale = nn.ModuleList()
        self.condition_shift = nn.ModuleList()
        for i in range(3, self.log_size + 1):
            c = cu[2 ** i]
            cs = c if sft_half else 2 * c
            for lst in (self.condition_scale, self.condition_shift):
                lst.append(nn.Sequential(nn.Conv2d(c, c, 3, 1, 1), nn.LeakyReLU(0.2, True), nn.Conv2d(c, cs, 3, 1, 1)))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``x -> (feat (B, Cu(4), 4, 4), skips)`` with ``skips[0]`` the 4×4 one."""
        feat = _lrelu(self.conv_body_first(x))
        skips: list[torch.Tensor] = []
        for block in self.conv_body_down:
            feat = block(feat)
            skips.insert(0, feat)
        return _lrelu(self.final_conv(feat)), skips

    def forward(self, x: torch.Tensor, return_latents: bool = False, return_rgb: bool = True,
                randomize_noise: bool = True, noise: Sequence[torch.Tensor] | None = None,
                return_debug: bool = False, **kwargs):
        """Returns ``(image, out_rgbs)`` (plus a debug dict with ``style_code``/``conditions`` if
        ``return_debug``).  Extra keyword arguments (GFPGANer's ``weight``) are ignored, as officially;
        ``return_latents`` is accepted and has no effect on the outputs."""
        feat, skips = self.encode(x)
        code = self.final_linear(feat.reshape(feat.size(0), -1))
        style_code = code.view(code.size(0), -1, self.num_style_feat) if self.different_w else code
        conditions: list[torch.Tensor] = []
        out_rgbs: list[torch.Tensor] = []
        for i, up in enumerate(self.conv_body_up):
            feat = up(feat + skips[i])
            conditions.append(self.condition_scale[i](feat))
            conditions.append(self.condition_shift[i](feat))
            if return_rgb:
                out_rgbs.append(self.toRGB[i](feat))
        image = self.stylegan_decoder(style_code, conditions, input_is_latent=self.input_is_latent,
                                      noise=noise, randomize_noise=randomize_noise)
        if return_debug:
            return image, out_rgbs, {"style_code": style_code, "conditions": conditions}
        return image, out_rgbs


def extract_gfpgan_state(checkpoint: Mapping) -> Mapping[str, torch.Tensor]:
    """``params_ema`` if present, else ``params`` (official ``GFPGANer``), else the mapping itself if flat."""
    for key in ("params_ema", "params"):
        if key in checkpoint:
            return checkpoint[key]
    if checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        return checkpoint
    raise KeyError("GFPGAN checkpoint has neither 'params_ema' nor 'params'")


def load_gfpgan_weights(model: GFPGANv1Clean, state: Mapping[str, torch.Tensor]) -> None:
    """Strict load; raises :class:`StateDictMismatchError` naming missing/unexpected/mismatched keys."""
    load_strict(model, state, what="GFPGANv1Clean")
