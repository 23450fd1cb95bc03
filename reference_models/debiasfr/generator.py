"""DebiasFR restoration generator ``DBFR`` (``network_g``), ported to plain PyTorch.

Paper: Z. Li, D. Zeng, X. Yan, Q. Shen, B. Tang, *Analyzing and Combating Attribute Bias for Face
Restoration*, IJCAI 2023.  Official code ``github.com/Seeyn/DebiasFR@7016255``: class ``DBFR`` in
``dbfr/archs/dbfr_arch.py`` (encoder L400-446, attribute tables L458-459, forward L512-549, decoder
``StyleGAN2GeneratorFusion`` L117-278) with blocks from ``dbfr/archs/stylegan2_bilinear_arch.py``
(spec ``docs/protocols/debiasfr.md`` §2; interface of the official code).  Written from
those descriptions; module names follow the official state dict, so ``params_ema`` of
``DebiasFR_v1.pth`` loads with :func:`load_dbfr_generator_state_dict` (strict, mismatches named).

Architecture (``out`` = output size, ``Cu(r)`` U-Net widths = StyleGAN2 table with ``narrow/2``,
``Cd(r)`` decoder widths = StyleGAN2 table with ``narrow``; released: out 512, Cu = 256 (4..64), 128,
64, 32; Cd = 512 (4..64), 256, 128, 64):

1. **Encoder.** ``conv_body_first`` (1×1, 3 -> Cu(out)), ``log2(out)-2`` bilinear-downsampling
   :class:`~reference_models.shared.stylegan2.ResBlock` s (skips kept, 4×4 first), ``final_conv`` 3×3.
2. **Latent.** ``base = final_linear(flatten(feat))`` reshaped to W+ ``(B, L, S)``, ``L = 2 log2(out) - 2``
   (16 at 512), then ``w = base + Σ_k age[:, k] A[k] + Σ_k gender[:, k] G[k]`` with the learned tables
   ``age_representation (10, L, S)`` and ``gender_representation (2, L, S)``.  Any real weights work:
   one-hot picks a class offset, soft vectors mix them (DebiasFR's "human interaction").
3. **U-Net decoder.** For each level 8..out: add the matching skip, :class:`ResUpBlock` (×2), two
   :class:`Bottleneck` condition maps (``condition_in1/2``, Cu -> Cd channels), and a 1×1 ``toRGB``
   side output (used by the pyramid loss only).
4. **StyleGAN2 decoder with gated fusion** (:class:`StyleGAN2GeneratorFusion`, bilinear resampling):
   after each StyleConv of levels 8..out, ``g = sigmoid(calayer([ad_gen(out); ad_enc(c)]))`` and
   ``out = sqrt(2) lrelu(out + c * g)``.  ``sft_half=True`` switches to GFPGAN's channel-split SFT
   (``out[:, C/2:] = out[:, C/2:] * c_2j + c_2j+1``; conditions then have Cu = Cd/2 channels).

Tensors: ``x (B, 3, out, out)`` RGB in [-1, 1]; ``age (B, 10)``, ``gender (B, 2)`` weights (one-hot or
soft; age bins 0-2, 3-6, 7-9, 10-14, 15-19, 20-29, 30-39, 40-49, 50-69, 70-120; gender 0 = female,
1 = male by the spec's inference); ``image (B, 3, out, out)`` nominally [-1, 1], **not clamped**.
Noise: ``randomize_noise=True`` (official default, also at inference) draws fresh noise each call;
``False`` uses the stored buffers ``stylegan_decoder.noises.noise{i}``.

Deviation from the official constructor: the attribute tables are created with shape
``(…, num_latent, num_style_feat)``; the official code hard-codes ``(…, 16, 512)``, which is the same at
the released configuration and makes other sizes unusable (the golden fixture patches it the same way).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from bench.core.checkpoints import load_strict
from reference_models.shared.stylegan2 import (
    SQRT2,
    ConstantInput,
    ConvLayer,
    EqualConv2d,
    EqualLinear,
    NoiseBuffers,
    ResBlock,
    ResUpBlock,
    ScaledLeakyReLU,
    StyleConv,
    ToRGB,
    channel_table,
    make_style_mlp,
)

N_AGE_BINS = 10
N_GENDERS = 2

#: constructor arguments of the released ``DebiasFR_v1.pth`` (``dbfr/utils.py`` ``DBFRer``)
RELEASED_CONFIG = {"out_size": 512, "num_style_feat": 512, "channel_multiplier": 2, "num_mlp": 8,
                   "lr_mlp": 0.01, "input_is_latent": True, "different_w": True, "narrow": 1, "sft_half": False}


class Bottleneck(nn.Module):
    """Condition branch: ``lrelu_s(conv1x1(in->in/2)) -> lrelu_s(conv3x3) -> conv1x1(->out)`` plus a
    1×1 skip ``in -> out``; ``y = sqrt(2) lrelu(a + skip(x))``.  All equalised convs with bias."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        mid = in_channels // 2
        self.conv1 = nn.Sequential(EqualConv2d(in_channels, mid, 1, bias=True), ScaledLeakyReLU(0.2))
        self.conv2 = nn.Sequential(EqualConv2d(mid, mid, 3, padding=1, bias=True), ScaledLeakyReLU(0.2))
        self.conv3 = EqualConv2d(mid, out_channels, 1, bias=True)
        self.skip = EqualConv2d(in_channels, out_channels, 1, bias=True)
        self.activation = ScaledLeakyReLU(0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv3(self.conv2(self.conv1(x)))
        return self.activation(out + self.skip(x))


class StyleGAN2GeneratorFusion(nn.Module):
    """Bilinear StyleGAN2 synthesis network whose features are fused with U-Net conditions.

    Keys (``stylegan_decoder.`` prefix in :class:`DBFR`): ``style_mlp`` (unused with W+ input),
    ``constant_input``, ``style_conv1``, ``to_rgb1``, ``style_convs.{0..}``, ``to_rgbs.{0..}``,
    ``noises.noise{i}``, then the fusion lists ``calayer``, ``ad_gen``, ``ad_enc`` (2 entries per level,
    8..out).  Layer ``l`` of the W+ latent drives: style_conv1 -> 0, to_rgb1 -> 1, level ``j``:
    conv1 -> 2j+1, conv2 -> 2j+2, to_rgb -> 2j+3.
    """

    def __init__(self, out_size: int, num_style_feat: int = 512, num_mlp: int = 8, channel_multiplier: float = 2,
                 lr_mlp: float = 0.01, narrow: float = 1, sft_half: bool = False) -> None:
        super().__init__()
        self.out_size, self.num_style_feat, self.sft_half = out_size, num_style_feat, sft_half
        self.log_size = int(math.log2(out_size))
        if 2 ** self.log_size != out_size or out_size < 8:
            raise ValueError(f"out_size must be a power of two >= 8, got {out_size}")
        self.num_layers = 2 * (self.log_size - 2) + 1
        self.num_latent = 2 * self.log_size - 2
        ch = channel_table(channel_multiplier, narrow, max_size=max(out_size, 1024))
        self.channels = ch

        self.style_mlp = make_style_mlp(num_style_feat, num_mlp, lr_mlp)
        self.constant_input = ConstantInput(ch[4], size=4)
        self.style_conv1 = StyleConv(ch[4], ch[4], 3, num_style_feat, demodulate=True)
        self.to_rgb1 = ToRGB(ch[4], num_style_feat, upsample=False)
        self.style_convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        cin = ch[4]
        for i in range(3, self.log_size + 1):
            cout = ch[2 ** i]
            self.style_convs.append(StyleConv(cin, cout, 3, num_style_feat, demodulate=True, sample_mode="upsample"))
            self.style_convs.append(StyleConv(cout, cout, 3, num_style_feat, demodulate=True))
            self.to_rgbs.append(ToRGB(cout, num_style_feat, upsample=True))
            cin = cout
        self.noises = NoiseBuffers(self.num_layers)
        self.calayer = nn.ModuleList()
        self.ad_gen = nn.ModuleList()
        self.ad_enc = nn.ModuleList()
        for i in range(3, self.log_size + 1):
            c = ch[2 ** i]
            for _ in range(2):
                self.calayer.append(nn.Sequential(EqualConv2d(2 * c, c, 1, bias=True), nn.Sigmoid()))
                self.ad_gen.append(nn.Sequential(EqualConv2d(c, c, 1, bias=True), ScaledLeakyReLU(0.2)))
                self.ad_enc.append(nn.Sequential(EqualConv2d(c, c, 1, bias=True), ScaledLeakyReLU(0.2)))

    def _fuse(self, out: torch.Tensor, conditions: Sequence[torch.Tensor], idx: int, level: int) -> torch.Tensor:
        if self.sft_half:
            keep, mod = torch.split(out, out.size(1) // 2, dim=1)
            mod = mod * conditions[2 * level] + conditions[2 * level + 1]
            return torch.cat([keep, mod], dim=1)
        c = conditions[idx]
        gate = self.calayer[idx](torch.cat([self.ad_gen[idx](out), self.ad_enc[idx](c)], dim=1))
        return SQRT2 * F.leaky_relu(out + c * gate, 0.2)

    def forward(self, latent: torch.Tensor, conditions: Sequence[torch.Tensor], input_is_latent: bool = True,
                noise: Sequence[torch.Tensor | None] | None = None, randomize_noise: bool = True,
                return_styles: bool = False, style_codes: Sequence[torch.Tensor] | None = None):
        """``latent (B, L, S)`` (or ``(B, S)``, repeated) -> ``(image (B, 3, out, out), styles | None)``.

        ``conditions``: ``2 (log2(out) - 2)`` maps, pair ``(2j, 2j+1)`` at resolution ``2**(j+3)``.
        ``styles`` = concatenated modulation vectors of all StyleConvs ``(B, Σ Cin)`` when requested.
        ``style_codes``: optional per-StyleConv modulation vectors used instead of ``modulation(w)``.
        """
        if not input_is_latent:
            latent = self.style_mlp(latent)
        if latent.ndim == 2:
            latent = latent.unsqueeze(1).repeat(1, self.num_latent, 1)
        if noise is None:
            noise = [None] * self.num_layers if randomize_noise else self.noises.as_list()
        override = style_codes is not None

        def style(k: int, layer: int) -> torch.Tensor:
            return style_codes[k] if override else latent[:, layer]

        styles = []
        out = self.constant_input(latent.shape[0])
        out = self.style_conv1(out, style(0, 0), noise=noise[0], style_is_modulation=override)
        styles.append(self.style_conv1.last_style)
        skip = self.to_rgb1(out, latent[:, 1])
        layer = 1
        for j, to_rgb in enumerate(self.to_rgbs):
            conv1, conv2 = self.style_convs[2 * j], self.style_convs[2 * j + 1]
            out = conv1(out, style(2 * j + 1, layer), noise=noise[2 * j + 1], style_is_modulation=override)
            styles.append(conv1.last_style)
            if 2 * j < len(conditions):
                out = self._fuse(out, conditions, 2 * j, j)
            out = conv2(out, style(2 * j + 2, layer + 1), noise=noise[2 * j + 2], style_is_modulation=override)
            styles.append(conv2.last_style)
            if 2 * j < len(conditions):
                out = self._fuse(out, conditions, 2 * j + 1, j)
            skip = to_rgb(out, latent[:, layer + 2], skip)
            layer += 2
        for conv in [self.style_conv1, *self.style_convs]:
            conv.last_style = None   # do not keep graph references alive
        return skip, (torch.cat(styles, dim=1) if return_styles else None)


class DBFR(nn.Module):
    """DebiasFR generator: ``image, out_rgbs, styles = model(x, age, gender, ...)`` (see module doc).

    Constructor arguments as in the official class: ``decoder_load_path`` loads a StyleGAN2 prior into
    the decoder (:meth:`load_decoder_prior`, only fusion layers may be absent), ``fix_decoder`` only
    sets ``requires_grad`` as the official code does.  Full checkpoints are loaded with
    :func:`load_dbfr_generator_state_dict`.
    """

    def __init__(self, out_size: int, num_style_feat: int = 512, channel_multiplier: float = 1,
                 decoder_load_path: str | None = None, fix_decoder: bool = True, num_mlp: int = 8,
                 lr_mlp: float = 0.01, input_is_latent: bool = False, different_w: bool = False,
                 narrow: float = 1, sft_half: bool = False) -> None:
        super().__init__()
        self.out_size, self.num_style_feat = out_size, num_style_feat
        self.input_is_latent, self.different_w, self.sft_half = input_is_latent, different_w, sft_half
        self.log_size = int(math.log2(out_size))
        self.num_latent = 2 * self.log_size - 2
        cu = channel_table(channel_multiplier, narrow * 0.5, max_size=max(out_size, 1024))
        self.unet_channels = cu

        # own parameters first: they lead the official state_dict
        self.age_representation = nn.Parameter(torch.randn(N_AGE_BINS, self.num_latent, num_style_feat))
        self.gender_representation = nn.Parameter(torch.randn(N_GENDERS, self.num_latent, num_style_feat))

        self.conv_body_first = ConvLayer(3, cu[out_size], 1, bias=True, activate=True)
        self.conv_body_down = nn.ModuleList()
        cin = cu[out_size]
        for i in range(self.log_size, 2, -1):
            self.conv_body_down.append(ResBlock(cin, cu[2 ** (i - 1)]))
            cin = cu[2 ** (i - 1)]
        self.final_conv = ConvLayer(cin, cu[4], 3, bias=True, activate=True)
        self.conv_body_up = nn.ModuleList()
        cin = cu[4]
        for i in range(3, self.log_size + 1):
            self.conv_body_up.append(ResUpBlock(cin, cu[2 ** i]))
            cin = cu[2 ** i]
        self.toRGB = nn.ModuleList([EqualConv2d(cu[2 ** i], 3, 1, bias=True) for i in range(3, self.log_size + 1)])
        linear_out = self.num_latent * num_style_feat if different_w else num_style_feat
        self.final_linear = EqualLinear(cu[4] * 16, linear_out, bias=True, bias_init=0.0, lr_mul=1.0)
        self.stylegan_decoder = StyleGAN2GeneratorFusion(out_size, num_style_feat, num_mlp, channel_multiplier,
                                                         lr_mlp, narrow, sft_half)
        self.condition_in1 = nn.ModuleList()
        self.condition_in2 = nn.ModuleList()
        for i in range(3, self.log_size + 1):
            c = cu[2 ** i]
            cond_out = c if sft_half else 2 * c
            self.condition_in1.append(Bottleneck(c, cond_out))
            self.condition_in2.append(Bottleneck(c, cond_out))
        if decoder_load_path:
            from bench.core.provenance import note_file

            self.load_decoder_prior(torch.load(decoder_load_path, map_location="cpu", weights_only=True)["params_ema"])
            note_file(decoder_load_path, "decoder prior")
        if fix_decoder:
            self.freeze_decoder_like_official()

    def load_decoder_prior(self, state: Mapping[str, torch.Tensor]) -> list[str]:
        """Load a plain StyleGAN2 prior (``params_ema`` of ``DebiasFR_stylegan.pth``) into the decoder.

        The official code uses ``strict=False`` (``dbfr_arch.py:L462-464``) because the prior has no
        fusion layers.  Here only the fusion layers (``calayer``/``ad_gen``/``ad_enc``) may be missing;
        any other missing key, any unexpected key or shape mismatch raises.  Returns the keys left at
        their initial values.
        """
        from bench.core.checkpoints import StateDictMismatchError, state_dict_mismatches

        bad = state_dict_mismatches(self.stylegan_decoder, state)
        fusion = [k for k in bad["missing"] if k.split(".")[0] in ("calayer", "ad_gen", "ad_enc")]
        other = [k for k in bad["missing"] if k not in fusion]
        if other or bad["unexpected"] or bad["mismatched"]:
            raise StateDictMismatchError(f"DebiasFR decoder prior mismatch: missing {other[:8]}, unexpected "
                                         f"{bad['unexpected'][:8]}, shapes {bad['mismatched'][:8]}",
                                         other, bad["unexpected"], bad["mismatched"])
        self.stylegan_decoder.load_state_dict(dict(state), strict=False)
        return fusion

    def freeze_decoder_like_official(self) -> None:
        """``fix_decoder=True``: freeze the decoder except StyleConv modulations and fusion layers."""
        for name, p in self.stylegan_decoder.named_parameters():
            style_mod = "modulated_conv.modulation" in name and "style" in name
            fusion = "cal" in name or "ad" in name
            p.requires_grad_(style_mod or fusion)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``x -> (feat (B, Cu(4), 4, 4), skips)`` with ``skips[0]`` the 4×4 one."""
        feat = self.conv_body_first(x)
        skips = []
        for block in self.conv_body_down:
            feat = block(feat)
            skips.insert(0, feat)
        return self.final_conv(feat), skips

    def base_latent(self, feat: torch.Tensor) -> torch.Tensor:
        """``final_linear(flatten(feat))`` -> ``(B, L, S)`` (``(B, S)`` when ``different_w=False``)."""
        code = self.final_linear(feat.reshape(feat.size(0), -1))
        return code.view(code.size(0), -1, self.num_style_feat) if self.different_w else code

    def attribute_offset(self, age: torch.Tensor, gender: torch.Tensor) -> torch.Tensor:
        """``Σ_k age[:, k] A[k] + Σ_k gender[:, k] G[k]`` -> ``(B, L, S)``."""
        age_term = (age[:, :, None, None] * self.age_representation[None]).sum(1)
        gender_term = (gender[:, :, None, None] * self.gender_representation[None]).sum(1)
        return age_term + gender_term

    def latent(self, x: torch.Tensor, age: torch.Tensor, gender: torch.Tensor) -> torch.Tensor:
        """The W+ code fed to the decoder (base latent of ``x`` plus attribute offsets)."""
        return self.base_latent(self.encode(x)[0]) + self.attribute_offset(age, gender)

    def forward(self, x: torch.Tensor, age: torch.Tensor, gender: torch.Tensor, y: object = None,
                input_age: bool = True, return_latents: bool = False, return_rgb: bool = True,
                randomize_noise: bool = True, style_codes: Sequence[torch.Tensor] | None = None,
                input_is_style: bool = False, noise: Sequence[torch.Tensor] | None = None,
                return_debug: bool = False):
        """Restore ``x`` for attribute weights ``age (B, 10)`` and ``gender (B, 2)``.

        Returns ``(image, out_rgbs, styles)``: ``image (B, 3, out, out)`` unclamped; ``out_rgbs`` the
        ``log2(out)-2`` U-Net side outputs at 8..out (``[]`` unless ``return_rgb``); ``styles`` the
        concatenated StyleConv modulation vectors ``(B, Σ Cin)`` if ``return_latents`` else ``None``.
        ``y`` and ``input_age`` are accepted and ignored (official signature).  ``noise`` optionally
        gives explicit per-layer noise maps; ``return_debug`` adds a dict of intermediates (4th item).
        """
        if age.shape[1:] != (N_AGE_BINS,) or gender.shape[1:] != (N_GENDERS,):
            raise ValueError(f"age must be (B, {N_AGE_BINS}) and gender (B, {N_GENDERS}); got "
                             f"{tuple(age.shape)} and {tuple(gender.shape)}")
        feat, skips = self.encode(x)
        base = self.base_latent(feat)
        style_code = base + self.attribute_offset(age.to(base.dtype), gender.to(base.dtype))
        conditions, out_rgbs = [], []
        for i, up in enumerate(self.conv_body_up):
            feat = up(feat + skips[i])
            conditions.append(self.condition_in1[i](feat))
            conditions.append(self.condition_in2[i](feat))
            if return_rgb:
                out_rgbs.append(self.toRGB[i](feat))
        image, styles = self.stylegan_decoder(style_code, conditions, input_is_latent=self.input_is_latent,
                                              noise=noise, randomize_noise=randomize_noise,
                                              return_styles=return_latents,
                                              style_codes=style_codes if input_is_style else None)
        if return_debug:
            return image, out_rgbs, styles, {"style_code_base": base, "style_code": style_code,
                                             "conditions": conditions}
        return image, out_rgbs, styles


def load_dbfr_generator_state_dict(model: DBFR, state: Mapping[str, torch.Tensor]) -> None:
    """Strict load of a DBFR state dict (e.g. ``ckpt['params_ema']``); raises naming every mismatch."""
    load_strict(model, state, what="DebiasFR generator")


def extract_generator_state(checkpoint: Mapping) -> Mapping[str, torch.Tensor]:
    """The generator weights of a DebiasFR checkpoint: ``params_ema`` if present, else ``params``."""
    for key in ("params_ema", "params"):
        if key in checkpoint:
            return checkpoint[key]
    raise KeyError("DebiasFR checkpoint has neither 'params_ema' nor 'params'")
