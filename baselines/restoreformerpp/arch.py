"""RestoreFormer++ network (``VQVAEGANMultiHeadTransformer`` of wzhouxiff/RestoreFormerPlusPlus) in plain PyTorch.

Written for frbench from the official architecture and the paper
(reference ``wzhouxiff/RestoreFormerPlusPlus@59d250f``, ``RestoreFormer/modules/vqvae/vqvae_arch.py``; no
code copied).  Module and tensor names follow the generator part of the released Lightning checkpoint
``RestoreFormer++.ckpt`` (``state_dict`` entries prefixed ``vqvae.``; 441 tensors, no buffers), which
:func:`load_restoreformer_weights` loads strictly (the official wrapper uses ``strict=False``).

Maths (a VQGAN whose decoder cross-attends to the degraded encoder features):

* **Encoder** ``E``: ``conv_in`` 3×3, then per level ``i`` (width ``ch*ch_mult[i]``) ``num_res_blocks``
  ResNet blocks, each followed by a multi-head self-attention block when the level's resolution is in
  ``attn_resolutions``; the level output ``hs['block_i']`` is kept (all but the last level) before a
  stride-2 3×3 conv on the right/bottom zero-padded map.  Middle: ``block_1`` (output kept as
  ``hs['block_{L-1}_atten']``), self-attention, ``block_2`` (kept as ``hs['mid_atten']``); then
  GroupNorm, swish, conv3×3 -> ``z`` (``z_channels``).
* ResNet block: ``x' + conv2(swish(GN(conv1(swish(GN(x))))))``, ``x'`` = ``x`` or a 1×1 ``nin_shortcut`` when
  the widths differ; GN = GroupNorm(32 groups, eps 1e-6, affine); ``swish(x) = x*sigmoid(x)``.
* **Quantiser**: ``z_e = quant_conv(z)``; per position ``d_j = |z_e|^2 + |e_j|^2 - 2 z_e.e_j`` over the
  codebook ``quantize.embedding.weight`` (``n_embed x embed_dim``), ``k = argmin_j d_j`` (first minimum),
  ``z_q = z_e + (e_k - z_e)`` (the straight-through expression, kept for float fidelity).
* **Decoder** ``D``: ``post_quant_conv``, ``conv_in``, middle ``block_1`` -> ``MHA(h, hs['mid_atten'])`` ->
  ``block_2``; levels from the bottom up with ``num_res_blocks + 1`` ResNet blocks each, followed at the
  attention resolutions (16 and — RestoreFormer++, ``ex_multi_scale_num=1`` — 32 px) by
  ``MHA(h, y)`` with ``y = hs['block_i_atten']`` if present (bottom level) else ``hs['block_i']``;
  nearest ×2 + conv3×3 between levels; GroupNorm, swish, conv3×3 -> RGB (unclamped).
* **Multi-head attention** ``MHA(x, y)``: ``h = GN_1(x)``; queries ``q = W_q GN_2(y)`` (``W_q h`` when
  ``y`` is absent), keys ``k = W_k h``, values ``v = W_v h`` (1×1 convs); channels split into
  ``head_size`` heads of ``a = C/head_size`` consecutive channels; per head
  ``softmax_keys((q a^{-1/2})^T k) v``; heads re-concatenated, ``proj_out`` 1×1, residual ``x + out``.
  In the decoder the queries thus come from the degraded features, keys/values from the prior stream.

Licence: **Apache License 2.0** (wzhouxiff/RestoreFormerPlusPlus LICENSE; code and released weights).
Papers: Zhouxia Wang, Jiawei Zhang, Tianshui Chen, Wenping Wang, Ping Luo, *RestoreFormer++: Towards
Real-World Blind Face Restoration from Undegraded Key-Value Pairs*, TPAMI 2023; Wang et al.,
*RestoreFormer: High-Quality Blind Face Restoration from Undegraded Key-Value Pairs*, CVPR 2022.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from bench.core.checkpoints import StateDictMismatchError, load_strict

from reference_models.shared.vector_quantizer import nearest_code_index
from reference_models.shared.vqgan_blocks import Downsample, ResnetBlock, Upsample, swish
from reference_models.shared.vqgan_blocks import group_norm as _gn

REFERENCE_REPO = "wzhouxiff/RestoreFormerPlusPlus"
REFERENCE_COMMIT = "59d250f45d6b11a3e620d62e6e067ca1288f93a9"
LICENCE = "Apache-2.0 (wzhouxiff/RestoreFormerPlusPlus LICENSE; code and released weights)"

#: the official constructor defaults (= configs/RestoreFormerPlusPlus.yaml), used for RestoreFormer++.ckpt
RELEASED_CONFIG: dict[str, Any] = {
    "n_embed": 1024, "embed_dim": 256, "ch": 64, "out_ch": 3, "ch_mult": (1, 2, 2, 4, 4, 8), "num_res_blocks": 2,
    "attn_resolutions": (16,), "in_channels": 3, "resolution": 512, "z_channels": 256, "head_size": 4,
    "ex_multi_scale_num": 1,
}
#: the older RestoreFormer (CVPR 2022) built from the same class: RestoreFormer.ckpt
RESTOREFORMER_CONFIG: dict[str, Any] = dict(RELEASED_CONFIG, head_size=8, ex_multi_scale_num=0)

__all__ = ["LICENCE", "RELEASED_CONFIG", "RESTOREFORMER_CONFIG", "RestoreFormerPP", "StateDictMismatchError",
           "load_restoreformer_weights"]


class MultiHeadAttnBlock(nn.Module):
    """``x + proj_out(MHA(q = W_q GN_2(y) or W_q GN_1(x), k = W_k GN_1(x), v = W_v GN_1(x)))``."""

    def __init__(self, channels: int, head_size: int) -> None:
        super().__init__()
        if channels % head_size:
            raise ValueError(f"{channels} channels cannot be split into {head_size} heads")
        self.heads, self.att = head_size, channels // head_size
        self.norm1 = _gn(channels)
        self.norm2 = _gn(channels)
        self.q = nn.Conv2d(channels, channels, 1)
        self.k = nn.Conv2d(channels, channels, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.norm1(x)
        q = self.q(h if y is None else self.norm2(y))
        k, v = self.k(h), self.v(h)
        b, c, hh, ww = q.shape

        def heads(t: torch.Tensor) -> torch.Tensor:  # [B, C, H, W] -> [B, heads, HW, att]
            return t.reshape(b, self.heads, self.att, hh * ww).transpose(2, 3)

        q = heads(q) * (int(self.att) ** -0.5)
        scores = torch.matmul(q, heads(k).transpose(2, 3))  # [B, heads, HW_q, HW_k]
        out = torch.matmul(F.softmax(scores, dim=-1), heads(v))  # [B, heads, HW, att]
        out = out.permute(0, 1, 3, 2).reshape(b, c, hh, ww)  # channel = head*att + a
        return x + self.proj_out(out)


class _Level(nn.Module):
    """One resolution level: ``block`` (ResNet blocks), ``attn`` (one per block or none), resampler."""

    def __init__(self, widths: Sequence[tuple[int, int]], attention: bool, head_size: int,
                 resample: str | None) -> None:
        super().__init__()
        self.block = nn.ModuleList(ResnetBlock(a, b) for a, b in widths)
        self.attn = nn.ModuleList(MultiHeadAttnBlock(b, head_size) for _, b in widths) if attention else nn.ModuleList()
        if resample == "down":
            self.downsample = Downsample(widths[-1][1])
        elif resample == "up":
            self.upsample = Upsample(widths[-1][1])

    def run(self, h: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        for i, block in enumerate(self.block):
            h = block(h)
            if len(self.attn):
                h = self.attn[i](h, y)
        return h


class _Mid(nn.Module):
    def __init__(self, channels: int, head_size: int) -> None:
        super().__init__()
        self.block_1 = ResnetBlock(channels, channels)
        self.attn_1 = MultiHeadAttnBlock(channels, head_size)
        self.block_2 = ResnetBlock(channels, channels)


class Encoder(nn.Module):
    """``x`` -> ``hs`` dict: ``block_i`` level outputs, ``block_{L-1}_atten``, ``mid_atten``, ``out`` (= z)."""

    def __init__(self, ch: int, ch_mult: Sequence[int], num_res_blocks: int, attn_resolutions: Sequence[int],
                 in_channels: int, resolution: int, z_channels: int, head_size: int) -> None:
        super().__init__()
        self.conv_in = nn.Conv2d(in_channels, ch, 3, 1, 1)
        levels, res, cin = [], resolution, ch
        for i, mult in enumerate(ch_mult):
            cout = ch * mult
            widths = [(cin if j == 0 else cout, cout) for j in range(num_res_blocks)]
            last = i == len(ch_mult) - 1
            levels.append(_Level(widths, res in attn_resolutions, head_size, None if last else "down"))
            cin = cout
            if not last:
                res //= 2
        self.down = nn.ModuleList(levels)
        self.mid = _Mid(cin, head_size)
        self.norm_out = _gn(cin)
        self.conv_out = nn.Conv2d(cin, z_channels, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        hs: dict[str, torch.Tensor] = {}
        h = self.conv_in(x)
        hs["in"] = h
        last = len(self.down) - 1
        for i, level in enumerate(self.down):
            h = level.run(h)
            if i != last:
                hs[f"block_{i}"] = h
                h = level.downsample(h)
        h = self.mid.block_1(h)
        hs[f"block_{last}_atten"] = h
        h = self.mid.block_2(self.mid.attn_1(h))
        hs["mid_atten"] = h
        hs["out"] = self.conv_out(swish(self.norm_out(h)))
        return hs


class Decoder(nn.Module):
    """``z_q`` (after ``post_quant_conv``) and the encoder's ``hs`` -> image; cross-attention at its levels."""

    def __init__(self, ch: int, out_ch: int, ch_mult: Sequence[int], num_res_blocks: int,
                 attn_resolutions: Sequence[int], resolution: int, z_channels: int, head_size: int) -> None:
        super().__init__()
        n = len(ch_mult)
        cin = ch * ch_mult[-1]
        res = resolution // 2 ** (n - 1)
        self.conv_in = nn.Conv2d(z_channels, cin, 3, 1, 1)
        self.mid = _Mid(cin, head_size)
        levels: list[_Level | None] = [None] * n
        for i in reversed(range(n)):
            cout = ch * ch_mult[i]
            widths = [(cin if j == 0 else cout, cout) for j in range(num_res_blocks + 1)]
            levels[i] = _Level(widths, res in attn_resolutions, head_size, "up" if i != 0 else None)
            cin = cout
            if i != 0:
                res *= 2
        self.up = nn.ModuleList(levels)  # indexed by level (0 = full resolution), run top-down
        self.norm_out = _gn(cin)
        self.conv_out = nn.Conv2d(cin, out_ch, 3, 1, 1)

    def forward(self, z: torch.Tensor, hs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        h = self.mid.block_1(self.conv_in(z))
        h = self.mid.block_2(self.mid.attn_1(h, hs["mid_atten"]))
        for i in reversed(range(len(self.up))):
            level = self.up[i]
            y = hs.get(f"block_{i}_atten", hs.get(f"block_{i}"))
            h = level.run(h, y)
            if i != 0:
                h = level.upsample(h)
        return self.conv_out(swish(self.norm_out(h)))


class VectorQuantizer(nn.Module):
    """Nearest codebook entry in the expanded distance form; ``embedding.weight [n_embed, embed_dim]``."""

    def __init__(self, n_embed: int, embed_dim: int, beta: float = 0.25) -> None:
        super().__init__()
        self.beta = beta
        self.embedding = nn.Embedding(n_embed, embed_dim)
        with torch.no_grad():
            self.embedding.weight.uniform_(-1.0 / n_embed, 1.0 / n_embed)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``z [B, C, h, w]`` -> ``(z_q [B, C, h, w], indices [B*h*w], codebook loss)``."""
        zc = z.permute(0, 2, 3, 1).contiguous()
        flat = zc.view(-1, zc.shape[-1])
        table = self.embedding.weight
        idx = nearest_code_index(flat, table)
        zq = F.embedding(idx, table).view(zc.shape)
        mse = torch.mean((zq - zc) ** 2)
        loss = mse + self.beta * mse  # the training term (codebook + commitment), reported only
        zq = zc + (zq - zc)
        return zq.permute(0, 3, 1, 2).contiguous(), idx, loss


class RestoreFormerPP(nn.Module):
    """RestoreFormer++ (and RestoreFormer with :data:`RESTOREFORMER_CONFIG`); see the module docstring.

    ``forward(x)``: ``x [B, 3, R, R]`` RGB in [-1, 1] (``R = resolution``) -> restored image, same convention,
    unclamped.  :meth:`forward_details` also returns the code indices, ``z`` and the codebook loss.
    """

    def __init__(self, n_embed: int = 1024, embed_dim: int = 256, ch: int = 64, out_ch: int = 3,
                 ch_mult: Sequence[int] = (1, 2, 2, 4, 4, 8), num_res_blocks: int = 2,
                 attn_resolutions: Sequence[int] = (16,), in_channels: int = 3, resolution: int = 512,
                 z_channels: int = 256, head_size: int = 4, ex_multi_scale_num: int = 1) -> None:
        super().__init__()
        self.config = {"n_embed": n_embed, "embed_dim": embed_dim, "ch": ch, "out_ch": out_ch,
                       "ch_mult": tuple(ch_mult), "num_res_blocks": num_res_blocks,
                       "attn_resolutions": tuple(attn_resolutions), "in_channels": in_channels,
                       "resolution": resolution, "z_channels": z_channels, "head_size": head_size,
                       "ex_multi_scale_num": ex_multi_scale_num}
        self.resolution = resolution
        dec_attn = list(attn_resolutions)
        for _ in range(ex_multi_scale_num):  # each extra scale: [first, last*2]
            dec_attn = [dec_attn[0], dec_attn[-1] * 2]
        self.encoder = Encoder(ch, ch_mult, num_res_blocks, attn_resolutions, in_channels, resolution,
                               z_channels, head_size)
        self.decoder = Decoder(ch, out_ch, ch_mult, num_res_blocks, dec_attn, resolution, z_channels, head_size)
        self.quantize = VectorQuantizer(n_embed, embed_dim)
        self.quant_conv = nn.Conv2d(z_channels, embed_dim, 1)
        self.post_quant_conv = nn.Conv2d(embed_dim, z_channels, 1)

    def forward_details(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        hs = self.encoder(x)
        zq, idx, loss = self.quantize(self.quant_conv(hs["out"]))
        dec = self.decoder(self.post_quant_conv(zq), hs)
        return {"dec": dec, "indices": idx.view(x.shape[0], -1), "enc_out": hs["out"], "codebook_loss": loss}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_details(x)["dec"]


def load_restoreformer_weights(model: RestoreFormerPP, state: Mapping[str, torch.Tensor]) -> RestoreFormerPP:
    """Strict load; raises :class:`StateDictMismatchError` naming missing/unexpected/mismatched keys."""
    load_strict(model, state, what="RestoreFormer++")
    return model
