"""The VQFR v2 network, written for frbench so that the released ``VQFR_v2.pth`` keys load exactly.

Provenance
----------
Yuchao Gu, Xintao Wang, Liangbin Xie, Chao Dong, Gen Li, Ying Shan, Ming-Ming Cheng, *VQFR: Blind Face
Restoration with Vector-Quantized Dictionary and Parallel Decoder*, ECCV 2022 (v2 of the released code adds
the fidelity ratio).  Official code: ``github.com/TencentARC/VQFR``, read at commit
``239c77a78152473eca83270c40be083bb0ae0f4a`` (``vqfr/archs/vqfrv2_arch.py``, ``vqganv2_arch.py``,
``quantizer_arch.py``).  This module is an independent re-implementation from the description in
the official repository (checked against numeric fixtures of the official code, ``tests/baselines/test_vqfr.py``); no code was copied.
The official code and the released weights are under the **Apache License 2.0** (the repository's
LICENSE also lists third-party components, e.g. BasicSR-derived code, with their own licences).

Architecture (``L = len(channel_multipliers)`` levels of widths ``ch_i = base_channels * mult_i``)
--------------------------------------------------------------------------------------------------
* ``inpfeat_extraction``: conv3x3 3 -> ``inpfeat_dim`` on the LQ input (the condition of the warping modules).
* ``encoder`` (VQGAN encoder): conv3x3 3 -> ch_0; level i: (i > 0) a Downsample (zero pad right/bottom by
  one, conv3x3 stride 2 without padding), ``num_enc_blocks`` ResnetBlocks (the first ch_{i-1} -> ch_i),
  each followed by an AttnBlock at the last level; ``mid_blocks`` ResnetBlock, AttnBlock, ResnetBlock;
  GroupNorm, SiLU, conv3x3 -> ``code_dim`` (``enc_feat``).
* code selection (``'Predict'``): ``feat2index`` = LayerNorm + Linear gives ``quant_logit`` per token
  (tokens row-major over the ``h x w`` grid); the argmax index selects a row of
  ``quantizer.embedding.weight``.  (``'Nearest'``: the closest code in squared L2 distance.)
* ``decoder`` (texture decoder): conv3x3 code_dim -> ch_{L-1}; ``mid_blocks``; levels from the top
  (``decoder.blocks.0`` = level L-1) down to 0 with a nearest-x2 Upsample + conv3x3 between levels;
  the feature after each level is ``Level_{2^i}``; ``conv_out`` (GroupNorm, SiLU, conv3x3 -> 3) of
  ``Level_1`` is ``texture_dec``.
* ``main_branch`` (parallel fidelity decoder): per level a :class:`TextureWarpingModule` whose
  "offset" feature, computed from ``[resized inpfeat, Level_{2^i}]`` (and the x2-bilinear upsampled,
  x2-scaled offset feature of the level above), drives a modulated deformable conv (DCNv2) over
  ``Level_{2^i}``; the warped features are merged bottom-up with ResnetBlocks.  The output is
  ``Level_1 + fidelity_ratio * x`` and ``main_dec = decoder.conv_out(...)``; with ``fidelity_ratio = 0``
  ``main_dec`` equals ``texture_dec``.

GroupNorm: 32 groups, eps 1e-6.  Attention: single head, ``softmax(q^T k / sqrt(C))`` over the keys.
Deformable conv: ``torchvision.ops.deform_conv2d`` (the official code path; it has a CPU kernel), or the
plain-torch :func:`deform_conv2d_torch` (same sampling convention: bilinear, zero outside the image,
offsets ``(dy, dx)`` per group and tap added to the regular 3x3 grid, the mask scaling each tap).

Tensor ranges: input ``[B, 3, H, W]`` RGB in ``[-1, 1]`` with ``H = W = spatial_size * 2**(L-1)``
(512 for the release); outputs unclamped (nominally ``[-1, 1]``).
"""
from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from bench.core.checkpoints import StateDictMismatchError, load_strict
from bench.core.checkpoints import check_state_dict as _check_state_dict
from reference_models.shared.vector_quantizer import codes_to_feature, nearest_code_index
from reference_models.shared.vqgan_blocks import AttnBlock, Downsample, Upsample, group_norm
from reference_models.shared.vqgan_blocks import ResnetBlock as _VQGANResnetBlock

__all__ = ["LICENCE", "PRODUCTION_CONFIG", "DCNv2Pack", "L2VectorQuantizer", "MainDecoder", "ResnetBlock",
           "StateDictMismatchError", "TextureWarpingModule", "VQFRv2", "VQGANDecoder", "VQGANEncoder",
           "check_state_dict", "deform_conv2d_torch", "load_vqfr_weights"]

REFERENCE_REPO = "TencentARC/VQFR"
REFERENCE_COMMIT = "239c77a78152473eca83270c40be083bb0ae0f4a"
LICENCE = "Apache-2.0 (TencentARC/VQFR; third-party components carry their own licences)"

#: constructor arguments of the released ``VQFR_v2.pth`` (``demo_util.py`` / ``test_vqfr_v2.yml``)
PRODUCTION_CONFIG: dict[str, Any] = {
    "base_channels": 64,
    "channel_multipliers": (1, 2, 2, 4, 4, 8),
    "num_enc_blocks": 2,
    "use_enc_attention": True,
    "num_dec_blocks": 2,
    "use_dec_attention": True,
    "code_dim": 256,
    "inpfeat_dim": 32,
    "code_selection_mode": "Predict",
    "align_opt": {"cond_channels": 32, "deformable_groups": 4},
    "quantizer_opt": {"type": "L2VectorQuantizer", "num_code": 1024, "code_dim": 256, "spatial_size": (16, 16)},
}

_log = logging.getLogger(__name__)


def _head(channels: int, out_channels: int) -> nn.Sequential:
    """GroupNorm -> SiLU -> conv3x3 (indices 0, 1, 2 as in the released keys)."""
    return nn.Sequential(group_norm(channels), nn.SiLU(), nn.Conv2d(channels, out_channels, 3, padding=1))


class ResnetBlock(_VQGANResnetBlock):
    """``x + f(x)`` with ``f`` = GN, SiLU, conv3x3, GN, SiLU, conv3x3; 1x1 ``residual_func`` when widths differ."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__(in_ch, out_ch, shortcut="residual_func", activation=F.silu)


class _NearestUp(nn.Module):
    """Parameter-free nearest x2 (index 0 of the ``pre_upsample_dict`` sequences)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2.0, mode="nearest")


def _mid_blocks(ch: int, attention: bool) -> nn.Sequential:
    if attention:
        return nn.Sequential(ResnetBlock(ch, ch), AttnBlock(ch), ResnetBlock(ch, ch))
    return nn.Sequential(ResnetBlock(ch, ch), ResnetBlock(ch, ch))


class VQGANEncoder(nn.Module):
    """The VQGAN v2 encoder: ``[B, 3, H, W]`` -> ``[B, code_dim, H / 2**(L-1), W / 2**(L-1)]``."""

    def __init__(self, base_channels: int, channel_multipliers: Sequence[int], num_blocks: int,
                 use_attention: bool, code_dim: int) -> None:
        super().__init__()
        widths = [base_channels * m for m in channel_multipliers]
        last = len(widths) - 1
        self.conv_in = nn.Conv2d(3, widths[0], 3, padding=1)
        self.blocks = nn.ModuleList()
        for i, ch in enumerate(widths):
            prev = widths[max(i - 1, 0)]
            attn = use_attention and i == last
            level: list[nn.Module] = [Downsample(prev)] if i > 0 else []
            for j in range(num_blocks):
                level.append(ResnetBlock(prev if j == 0 else ch, ch))
                if attn:
                    level.append(AttnBlock(ch))
            self.blocks.append(nn.Sequential(*level))
        self.mid_blocks = _mid_blocks(widths[-1], use_attention)
        self.conv_out = _head(widths[-1], code_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_in(x)
        for level in self.blocks:
            x = level(x)
        return self.conv_out(self.mid_blocks(x))


class VQGANDecoder(nn.Module):
    """The VQGAN v2 decoder; :meth:`forward` also returns the per-level features ``{'Level_{2^i}': ...}``."""

    def __init__(self, base_channels: int, channel_multipliers: Sequence[int], num_blocks: int,
                 use_attention: bool, code_dim: int) -> None:
        super().__init__()
        widths = [base_channels * m for m in channel_multipliers]
        last = len(widths) - 1
        self.conv_in = nn.Conv2d(code_dim, widths[-1], 3, padding=1)
        self.blocks = nn.ModuleList()
        self.level_names: list[str] = []
        for i in reversed(range(len(widths))):
            prev = widths[min(i + 1, last)]
            ch = widths[i]
            attn = use_attention and i == last
            level: list[nn.Module] = [Upsample(prev)] if i < last else []
            for j in range(num_blocks):
                level.append(ResnetBlock(prev if j == 0 else ch, ch))
                if attn:
                    level.append(AttnBlock(ch))
            self.blocks.append(nn.Sequential(*level))
            self.level_names.append(f"Level_{2 ** i}")
        self.mid_blocks = _mid_blocks(widths[-1], use_attention)
        self.conv_out = _head(widths[0], 3)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x = self.mid_blocks(self.conv_in(z))
        feats = {}
        for name, level in zip(self.level_names, self.blocks):
            x = level(x)
            feats[name] = x
        return self.conv_out(x), feats


def deform_conv2d_torch(x: torch.Tensor, offset: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                        mask: torch.Tensor, padding: int = 1) -> torch.Tensor:
    """Modulated deformable conv (DCNv2), stride 1, dilation 1, in plain torch.

    Same convention as ``torchvision.ops.deform_conv2d``: for deformable group ``g`` and kernel tap
    ``t = ky * kw + kx`` the sample position of output pixel ``(i, j)`` is
    ``(i - padding + ky + offset[:, 2(g*K+t)], j - padding + kx + offset[:, 2(g*K+t)+1])``, read by bilinear
    interpolation with zeros outside the image, multiplied by ``mask[:, g*K+t]``; the sampled taps are
    then contracted with ``weight`` (``[C_out, C_in, kh, kw]``).  Memory: ``C_in * kh * kw`` maps.
    """
    b, c, h, w = x.shape
    c_out, c_in, kh, kw = weight.shape
    taps = kh * kw
    groups = offset.shape[1] // (2 * taps)
    if c_in != c or c % groups or mask.shape[1] != groups * taps:
        raise ValueError("deform_conv2d_torch: inconsistent input, weight, offset or mask shapes")
    out_h, out_w = offset.shape[-2:]
    base_y = torch.arange(out_h, dtype=x.dtype, device=x.device).view(1, 1, out_h, 1) - padding
    base_x = torch.arange(out_w, dtype=x.dtype, device=x.device).view(1, 1, 1, out_w) - padding
    ky = torch.arange(kh, dtype=x.dtype, device=x.device).repeat_interleave(kw).view(1, taps, 1, 1)
    kx = torch.arange(kw, dtype=x.dtype, device=x.device).repeat(kh).view(1, taps, 1, 1)
    cg = c // groups
    cols = []
    for g in range(groups):
        off = offset[:, 2 * g * taps:2 * (g + 1) * taps].reshape(b, taps, 2, out_h, out_w)
        py = base_y + ky + off[:, :, 0]                          # [B, K, H, W] sample rows
        px = base_x + kx + off[:, :, 1]
        # grid_sample (align_corners=False) reads pixel coordinate p at (2p + 1) / size - 1; zeros outside
        gx = (2.0 * px + 1.0) / w - 1.0
        gy = (2.0 * py + 1.0) / h - 1.0
        grid = torch.stack((gx, gy), dim=-1).reshape(b, taps * out_h, out_w, 2)
        sampled = F.grid_sample(x[:, g * cg:(g + 1) * cg], grid, mode="bilinear", padding_mode="zeros",
                                align_corners=False).reshape(b, cg, taps, out_h, out_w)
        cols.append(sampled * mask[:, g * taps:(g + 1) * taps].unsqueeze(1))
    col = torch.cat(cols, dim=1).reshape(b, c * taps, out_h * out_w)   # channel-major, then tap
    out = torch.matmul(weight.reshape(c_out, c * taps), col).reshape(b, c_out, out_h, out_w)
    return out if bias is None else out + bias.view(1, -1, 1, 1)


class DCNv2Pack(nn.Module):
    """3x3 modulated deformable conv whose offsets and mask come from a *separate* feature map.

    ``conv_offset`` (3x3, ``27 * deformable_groups`` outputs) on ``feat`` gives ``o1, o2, m`` (three
    equal chunks); offsets = ``cat(o1, o2)`` used as-is in torchvision's layout, mask = ``sigmoid(m)``.
    """

    def __init__(self, channels: int, deformable_groups: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.padding = kernel_size // 2
        self.deformable_groups = deformable_groups
        self.weight = nn.Parameter(torch.empty(channels, channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.empty(channels))
        if not self.weight.is_meta:  # official: uniform(+-1/sqrt(fan_in)), zero bias (before conv_offset exists)
            bound = 1.0 / math.sqrt(channels * kernel_size * kernel_size)
            with torch.no_grad():
                self.weight.uniform_(-bound, bound)
                self.bias.zero_()
        self.conv_offset = nn.Conv2d(channels, 3 * deformable_groups * kernel_size * kernel_size, kernel_size,
                                     padding=self.padding)
        if not self.conv_offset.weight.is_meta:
            nn.init.zeros_(self.conv_offset.weight)
            nn.init.zeros_(self.conv_offset.bias)
        #: ``"torchvision"`` (official path) or ``"torch"`` (:func:`deform_conv2d_torch`)
        self.backend = "torchvision"

    def forward(self, x: torch.Tensor, feat: torch.Tensor) -> torch.Tensor:
        o1, o2, m = torch.chunk(self.conv_offset(feat), 3, dim=1)
        offset = torch.cat((o1, o2), dim=1)
        mask = torch.sigmoid(m)
        if not torch.jit.is_tracing() and float(offset.abs().mean()) > 50:
            _log.warning("VQFR deformable offsets: mean |offset| = %.1f > 50", float(offset.abs().mean()))
        if self.backend == "torch":
            return deform_conv2d_torch(x, offset, self.weight, self.bias, mask, self.padding)
        from torchvision.ops import deform_conv2d

        return deform_conv2d(x, offset, self.weight, self.bias, stride=1, padding=self.padding, dilation=1,
                             mask=mask)


class TextureWarpingModule(nn.Module):
    """Warps the texture decoder's level feature towards the LQ input with a DCNv2 (one main-branch level)."""

    def __init__(self, channels: int, cond_channels: int, downscale: int, deformable_groups: int,
                 previous_offset_channels: int = 0) -> None:
        super().__init__()
        self.downscale = downscale
        self.offset_conv1 = nn.Sequential(
            nn.Conv2d(cond_channels + channels, channels, 1), group_norm(channels), nn.SiLU(),
            nn.Conv2d(channels, channels, 7, padding=3, groups=channels), group_norm(channels), nn.SiLU(),
            nn.Conv2d(channels, channels, 1))
        self.offset_conv2 = nn.Sequential(
            nn.Conv2d(channels + previous_offset_channels, channels, 3, padding=1), group_norm(channels), nn.SiLU())
        self.dcn = DCNv2Pack(channels, deformable_groups)

    def forward(self, x: torch.Tensor, inpfeat: torch.Tensor,
                previous_offset: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        h, w = inpfeat.shape[-2:]
        cond = F.interpolate(inpfeat, size=(h // self.downscale, w // self.downscale), mode="bilinear",
                             align_corners=False)
        offset = self.offset_conv1(torch.cat([cond, x], dim=1))
        if previous_offset is not None:
            offset = torch.cat([offset, previous_offset], dim=1)
        offset = self.offset_conv2(offset)
        return self.dcn(x, offset), offset


class MainDecoder(nn.Module):
    """The parallel (fidelity) decoder over the texture decoder's level features."""

    def __init__(self, base_channels: int, channel_multipliers: Sequence[int], cond_channels: int,
                 deformable_groups: int) -> None:
        super().__init__()
        widths = [base_channels * m for m in channel_multipliers]
        self.num_levels = len(widths)
        last = self.num_levels - 1
        self.decoder_dict = nn.ModuleDict()
        self.pre_upsample_dict = nn.ModuleDict()
        self.align_func_dict = nn.ModuleDict()
        for i in reversed(range(self.num_levels)):
            name, ch = f"Level_{2 ** i}", widths[i]
            prev = widths[min(i + 1, last)]
            if i < last:
                self.pre_upsample_dict[name] = nn.Sequential(_NearestUp(), nn.Conv2d(prev, ch, 3, padding=1))
            self.align_func_dict[name] = TextureWarpingModule(ch, cond_channels, 2 ** i, deformable_groups,
                                                              prev if i < last else 0)
            if i < last:
                self.decoder_dict[name] = ResnetBlock(2 * ch, ch)

    def forward(self, feats: Mapping[str, torch.Tensor], inpfeat: torch.Tensor,
                fidelity_ratio: float = 1.0) -> torch.Tensor:
        top = f"Level_{2 ** (self.num_levels - 1)}"
        x, offset = self.align_func_dict[top](feats[top], inpfeat)
        for i in reversed(range(self.num_levels - 1)):
            name = f"Level_{2 ** i}"
            x = self.pre_upsample_dict[name](x)
            previous = F.interpolate(offset, scale_factor=2, mode="bilinear", align_corners=False) * 2
            warped, offset = self.align_func_dict[name](feats[name], inpfeat, previous)
            x = self.decoder_dict[name](torch.cat([x, warped], dim=1))
        return feats["Level_1"] + fidelity_ratio * x


class L2VectorQuantizer(nn.Module):
    """The code book (``embedding.weight`` ``[num_code, code_dim]``) and the lookup of code indices."""

    def __init__(self, num_code: int, code_dim: int, spatial_size: Sequence[int], type: str = "L2VectorQuantizer"
                 ) -> None:
        super().__init__()
        if type != "L2VectorQuantizer":
            raise ValueError(f"VQFR v2 uses quantizer type 'L2VectorQuantizer', got {type!r}")
        self.num_code, self.code_dim = int(num_code), int(code_dim)
        self.spatial_size = tuple(int(s) for s in spatial_size)
        self.embedding = nn.Embedding(self.num_code, self.code_dim)
        if not self.embedding.weight.is_meta:
            nn.init.uniform_(self.embedding.weight, -1.0 / self.num_code, 1.0 / self.num_code)
        # the official module keeps a non-persistent code-usage counter; it never affects outputs
        self.register_buffer("usage", torch.zeros(self.num_code, dtype=torch.int32), persistent=False)

    def get_feature(self, index: torch.Tensor) -> torch.Tensor:
        """``[B, h*w]`` code indices (row-major) -> ``[B, code_dim, h, w]`` code vectors."""
        return codes_to_feature(self.embedding.weight, index, self.spatial_size[0])

    def nearest_index(self, z: torch.Tensor) -> torch.Tensor:
        """``[B, code_dim, h, w]`` -> ``[B, h*w]`` indices of the nearest codes (squared L2)."""
        flat = z.permute(0, 2, 3, 1).reshape(-1, self.code_dim)
        return nearest_code_index(flat, self.embedding.weight).reshape(z.shape[0], -1)


class VQFRv2(nn.Module):
    """VQFR v2 (constructor arguments of the official class, all required; see the module docstring).

    ``forward(x_lq, fidelity_ratio=1.0)`` returns a dict with ``enc_feat`` ``[B, code_dim, h, w]``,
    ``quant_logit`` ``[B, h*w, num_code]`` (``'Predict'`` mode only), ``texture_dec`` and ``main_dec``
    ``[B, 3, H, W]`` (unclamped).  The official demo uses ``main_dec``.
    """

    def __init__(self, base_channels: int, channel_multipliers: Sequence[int], num_enc_blocks: int,
                 use_enc_attention: bool, num_dec_blocks: int, use_dec_attention: bool, code_dim: int,
                 inpfeat_dim: int, code_selection_mode: str, align_opt: Mapping[str, int],
                 quantizer_opt: Mapping[str, Any]) -> None:
        super().__init__()
        if code_selection_mode not in ("Predict", "Nearest"):
            raise ValueError(f"code_selection_mode must be 'Predict' or 'Nearest', got {code_selection_mode!r}")
        self.config = {
            "base_channels": base_channels, "channel_multipliers": tuple(channel_multipliers),
            "num_enc_blocks": num_enc_blocks, "use_enc_attention": use_enc_attention,
            "num_dec_blocks": num_dec_blocks, "use_dec_attention": use_dec_attention, "code_dim": code_dim,
            "inpfeat_dim": inpfeat_dim, "code_selection_mode": code_selection_mode, "align_opt": dict(align_opt),
            "quantizer_opt": dict(quantizer_opt),
        }
        self.code_selection_mode = code_selection_mode
        self.encoder = VQGANEncoder(base_channels, channel_multipliers, num_enc_blocks, use_enc_attention, code_dim)
        q_dim, n_code = int(quantizer_opt["code_dim"]), int(quantizer_opt["num_code"])
        self.feat2index = (nn.Sequential(nn.LayerNorm(q_dim), nn.Linear(q_dim, n_code))
                           if code_selection_mode == "Predict" else None)
        self.decoder = VQGANDecoder(base_channels, channel_multipliers, num_dec_blocks, use_dec_attention, code_dim)
        self.main_branch = MainDecoder(base_channels, channel_multipliers, int(align_opt["cond_channels"]),
                                       int(align_opt["deformable_groups"]))
        self.inpfeat_extraction = nn.Conv2d(3, inpfeat_dim, 3, padding=1)
        self.quantizer = L2VectorQuantizer(**dict(quantizer_opt))
        self.img_size = self.quantizer.spatial_size[0] * 2 ** (len(channel_multipliers) - 1)
        if not self.inpfeat_extraction.weight.is_meta:
            self.apply(self._official_init)

    @staticmethod
    @torch.no_grad()
    def _official_init(m: nn.Module) -> None:
        """Truncated normal (std 0.02, cut at +-2) for Conv2d/Linear weights, zero biases, unit/zero norms."""
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.GroupNorm, nn.LayerNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def set_deform_backend(self, backend: str) -> None:
        """``"torchvision"`` (default, the official path) or ``"torch"`` for every deformable conv."""
        if backend not in ("torchvision", "torch"):
            raise ValueError(f"deformable conv backend must be 'torchvision' or 'torch', got {backend!r}")
        for m in self.modules():
            if isinstance(m, DCNv2Pack):
                m.backend = backend

    def forward(self, x_lq: torch.Tensor, fidelity_ratio: float = 1.0) -> dict[str, torch.Tensor]:
        inpfeat = self.inpfeat_extraction(x_lq)
        enc_feat = self.encoder(x_lq)
        res = {"enc_feat": enc_feat}
        if self.feat2index is not None:
            tokens = enc_feat.flatten(2).transpose(1, 2)           # [B, h*w, C], row-major tokens
            logit = self.feat2index(tokens)
            res["quant_logit"] = logit
            index = logit.argmax(-1)
        else:
            index = self.quantizer.nearest_index(enc_feat)
        quant = self.quantizer.get_feature(index)
        with torch.no_grad():  # the official texture decoder runs without gradients
            texture_dec, feats = self.decoder(quant)
        res["texture_dec"] = texture_dec
        main = self.main_branch(feats, inpfeat, fidelity_ratio=fidelity_ratio)
        res["main_dec"] = self.decoder.conv_out(main)
        return res


def check_state_dict(net: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> None:
    """Raise :class:`StateDictMismatchError` unless ``state_dict`` has exactly ``net``'s keys and shapes."""
    _check_state_dict(net, state_dict, "VQFR")


def load_vqfr_weights(net: VQFRv2, state_dict: Mapping[str, torch.Tensor]) -> VQFRv2:
    """Strictly load ``state_dict`` (keys and shapes checked first, then ``strict=True``); returns ``net``."""
    return load_strict(net, state_dict, "VQFR")
