"""The CodeFormer network, written for frbench so that the official ``params_ema`` keys load exactly.

Provenance
----------
Shangchen Zhou, Kelvin C.K. Chan, Chongyi Li, Chen Change Loy, *Towards Robust Blind Face Restoration
with Codebook Lookup Transformer*, NeurIPS 2022.  Official code: ``github.com/sczhou/CodeFormer``, read
at commit ``b33cc7d639d6545bfcccc7e0bc6ae51f24e79c2b`` (``basicsr/archs/codeformer_arch.py`` on top of
``basicsr/archs/vqgan_arch.py``).  This module is an independent re-implementation from the description
in the official repository; no code was copied.  Released weights (``codeformer.pth``,
release v0.1.0) and the official code are under the **NTU S-Lab License 1.0: non-commercial use only**;
redistribution must keep the licence.  Using the weights through this module is bound by that licence.

Architecture (production defaults)
----------------------------------
* ``encoder.blocks`` (VQGAN encoder): conv3x3 3->nf; for each resolution level (widths ``nf*ch_mult``)
  ``res_blocks`` ResBlocks (each followed by an AttnBlock at the ``attn_resolutions``) and a Downsample
  between levels; then ResBlock, AttnBlock, ResBlock; GroupNorm; conv3x3 -> ``emb_dim``.  Skip features
  for the fusion are taken after the *last* ResBlock of each level.
* ``position_emb`` + ``feat_emb`` + ``ft_layers`` (pre-norm transformer, sequence-first
  ``nn.MultiheadAttention``, position added to queries and keys only, exact GELU MLP of width
  ``2*dim_embd``) + ``idx_pred_layer`` (LayerNorm + bias-free Linear) predict one codebook index per
  latent cell (argmax); the code vectors are rows of ``quantize.embedding.weight``.
* Optional AdaIN of the code features to the encoder features (unbiased variance + 1e-5).
* ``generator.blocks`` (VQGAN decoder): conv3x3 emb_dim->top width; ResBlock, AttnBlock, ResBlock; levels
  from the latent grid up with ``res_blocks`` ResBlocks (+AttnBlock at ``attn_resolutions``) and
  nearest-x2 + conv3x3 between levels; GroupNorm; conv3x3 -> 3.  After the *first* ResBlock of each
  level above the bottleneck (the *second* at the latent level) a ``fuse_convs_dict[str(res)]``
  SFT block (controllable feature transformation) adds ``w * (x*scale + shift)`` when ``w > 0``.

The official class hard-wires the backbone (512 px, nf 64, ``ch_mult (1,2,2,4,4,8)``, emb 256); here
those are constructor parameters (the defaults are the production values) so that reduced models can
be built; the skip/fuse index tables and fuse widths are derived from the backbone and reproduce the
official tables exactly for the defaults.

Tensor ranges: input ``[B, 3, img_size, img_size]`` RGB in ``[-1, 1]``; output image nominally in
``[-1, 1]`` (not clamped), logits ``[B, latent_size, codebook_size]``, ``lq_feat``
``[B, emb_dim, s, s]`` with ``s = img_size / 2**(levels-1)``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from bench.core.checkpoints import StateDictMismatchError, load_strict
from bench.core.checkpoints import check_state_dict as _check_state_dict
from reference_models.shared.vector_quantizer import codes_to_feature
from reference_models.shared.vqgan_blocks import AttnBlock, Downsample, Upsample
from reference_models.shared.vqgan_blocks import ResnetBlock as _VQGANResnetBlock
from reference_models.shared.vqgan_blocks import group_norm as _norm

__all__ = ["LICENCE", "PRODUCTION_CONFIG", "AttnBlock", "CodeFormer", "Downsample", "FuseSFTBlock", "ResBlock",
           "StateDictMismatchError", "TransformerLayer", "Upsample", "adaptive_instance_norm", "check_state_dict",
           "load_codeformer_weights"]
#: the reference this implementation follows
REFERENCE_REPO = "sczhou/CodeFormer"
REFERENCE_COMMIT = "b33cc7d639d6545bfcccc7e0bc6ae51f24e79c2b"
LICENCE = "NTU S-Lab License 1.0 (non-commercial use only)"

#: constructor arguments of the released restoration model (``inference_codeformer.py``)
PRODUCTION_CONFIG: dict = {
    "dim_embd": 512, "n_head": 8, "n_layers": 9, "codebook_size": 1024, "latent_size": 256,
    "connect_list": ("32", "64", "128", "256"),
    # hard-wired in the official class (its VQGAN backbone):
    "img_size": 512, "nf": 64, "ch_mult": (1, 2, 2, 4, 4, 8), "res_blocks": 2, "attn_resolutions": (16,),
    "emb_dim": 256,
}


class ResBlock(_VQGANResnetBlock):
    """GN-swish-conv3x3-GN-swish-conv3x3 plus identity (or a 1x1 ``conv_out`` when widths differ)."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__(in_ch, out_ch, shortcut="conv_out")


class _Codebook(nn.Module):
    """Holds ``embedding.weight [codebook_size, emb_dim]`` (the VQ codebook; only looked up here)."""

    def __init__(self, codebook_size: int, emb_dim: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(codebook_size, emb_dim)


class _Blocks(nn.Module):
    """A ``blocks`` ModuleList (keeps the official ``encoder.blocks.N`` / ``generator.blocks.N`` names)."""

    def __init__(self, blocks: Sequence[nn.Module]) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)


class TransformerLayer(nn.Module):
    """Pre-norm self-attention layer: position added to queries and keys, not to values."""

    def __init__(self, dim: int, n_head: int, dim_mlp: int) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, n_head, dropout=0.0)
        self.linear1 = nn.Linear(dim, dim_mlp)
        self.linear2 = nn.Linear(dim_mlp, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, t: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        h = self.norm1(t)
        qk = h + pos
        t = t + self.self_attn(qk, qk, value=h, need_weights=False)[0]
        h = self.norm2(t)
        return t + self.linear2(F.gelu(self.linear1(h)))


class FuseSFTBlock(nn.Module):
    """Controllable feature transformation: ``x + w * (x * scale + shift)`` from encoder and decoder features."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.encode_enc = ResBlock(2 * ch, ch)
        self.scale = nn.Sequential(nn.Conv2d(ch, ch, 3, 1, 1), nn.LeakyReLU(0.2), nn.Conv2d(ch, ch, 3, 1, 1))
        self.shift = nn.Sequential(nn.Conv2d(ch, ch, 3, 1, 1), nn.LeakyReLU(0.2), nn.Conv2d(ch, ch, 3, 1, 1))

    def forward(self, enc: torch.Tensor, dec: torch.Tensor, w: float) -> torch.Tensor:
        e = self.encode_enc(torch.cat([enc, dec], dim=1))
        return dec + w * (dec * self.scale(e) + self.shift(e))


def adaptive_instance_norm(feat: torch.Tensor, ref: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Re-normalise ``feat`` to the per-channel spatial mean/std of ``ref`` (unbiased variance + eps)."""
    def stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        flat = x.reshape(x.shape[0], x.shape[1], -1)
        std = (flat.var(dim=2, unbiased=True) + eps).sqrt()[..., None, None]
        return flat.mean(dim=2)[..., None, None], std

    mean_f, std_f = stats(feat)
    mean_r, std_r = stats(ref)
    return (feat - mean_f) / std_f * std_r + mean_r


class CodeFormer(nn.Module):
    """CodeFormer restoration network (see the module docstring); defaults = the released model.

    ``forward(x, w=0.0, adain=False, code_only=False)`` -> ``(image, logits, lq_feat)`` or, with
    ``code_only``, ``(logits, lq_feat)``.  ``x``: ``[B, 3, img_size, img_size]`` RGB in ``[-1, 1]``.
    """

    def __init__(self, dim_embd: int = 512, n_head: int = 8, n_layers: int = 9, codebook_size: int = 1024,
                 latent_size: int = 256, connect_list: Sequence[str] = ("32", "64", "128", "256"), *,
                 img_size: int = 512, nf: int = 64, ch_mult: Sequence[int] = (1, 2, 2, 4, 4, 8),
                 res_blocks: int = 2, attn_resolutions: Sequence[int] = (16,), emb_dim: int = 256) -> None:
        super().__init__()
        levels = len(ch_mult)
        self.img_size, self.emb_dim = int(img_size), int(emb_dim)
        self.latent_side = self.img_size // 2 ** (levels - 1)
        if self.latent_side * 2 ** (levels - 1) != self.img_size:
            raise ValueError(f"img_size {img_size} is not divisible by 2**{levels - 1}")
        if self.latent_side ** 2 != latent_size:
            raise ValueError(f"latent_size {latent_size} != ({self.img_size} / 2**{levels - 1})**2")
        self.connect_list = [str(s) for s in connect_list]
        self.config = {"dim_embd": dim_embd, "n_head": n_head, "n_layers": n_layers, "codebook_size": codebook_size,
                       "latent_size": latent_size, "connect_list": tuple(self.connect_list), "img_size": img_size,
                       "nf": nf, "ch_mult": tuple(ch_mult), "res_blocks": res_blocks,
                       "attn_resolutions": tuple(attn_resolutions), "emb_dim": emb_dim}
        #: channel width of the features at each resolution (encoder and generator agree)
        width = {self.img_size // 2 ** i: nf * m for i, m in enumerate(ch_mult)}
        self.position_emb = nn.Parameter(torch.zeros(latent_size, dim_embd))

        # encoder ---------------------------------------------------------------------------------
        enc: list[nn.Module] = [nn.Conv2d(3, nf, 3, 1, 1)]
        self.fuse_encoder_block: dict[str, int] = {}
        ch, res = nf, self.img_size
        for i, mult in enumerate(ch_mult):
            for _ in range(res_blocks):
                enc.append(ResBlock(ch, nf * mult))
                ch = nf * mult
                last_res_block = len(enc) - 1
                if res in attn_resolutions:
                    enc.append(AttnBlock(ch))
            self.fuse_encoder_block[str(res)] = last_res_block
            if i != levels - 1:
                enc.append(Downsample(ch))
                res //= 2
        enc += [ResBlock(ch, ch), AttnBlock(ch), ResBlock(ch, ch), _norm(ch), nn.Conv2d(ch, emb_dim, 3, 1, 1)]
        self.encoder = _Blocks(enc)

        self.quantize = _Codebook(codebook_size, emb_dim)

        # generator -------------------------------------------------------------------------------
        ch = nf * ch_mult[-1]
        gen: list[nn.Module] = [nn.Conv2d(emb_dim, ch, 3, 1, 1), ResBlock(ch, ch), AttnBlock(ch), ResBlock(ch, ch)]
        self.fuse_generator_block: dict[str, int] = {}
        res = self.latent_side
        for i in reversed(range(levels)):
            res_block_indices = []
            for _ in range(res_blocks):
                gen.append(ResBlock(ch, nf * ch_mult[i]))
                ch = nf * ch_mult[i]
                res_block_indices.append(len(gen) - 1)
                if res in attn_resolutions:
                    gen.append(AttnBlock(ch))
            at_latent = i == levels - 1
            self.fuse_generator_block[str(res)] = res_block_indices[1 if at_latent and res_blocks > 1 else 0]
            if i != 0:
                gen.append(Upsample(ch))
                res *= 2
        gen += [_norm(ch), nn.Conv2d(ch, 3, 3, 1, 1)]
        self.generator = _Blocks(gen)

        # transformer -----------------------------------------------------------------------------
        self.feat_emb = nn.Linear(emb_dim, dim_embd)
        self.ft_layers = nn.ModuleList(TransformerLayer(dim_embd, n_head, 2 * dim_embd) for _ in range(n_layers))
        self.idx_pred_layer = nn.Sequential(nn.LayerNorm(dim_embd), nn.Linear(dim_embd, codebook_size, bias=False))

        for s in self.connect_list:
            if int(s) not in width:
                raise ValueError(f"connect_list entry {s!r} is not a resolution of the backbone {sorted(width)}")
        self.fuse_convs_dict = nn.ModuleDict({s: FuseSFTBlock(width[int(s)]) for s in self.connect_list})

    def forward(self, x: torch.Tensor, w: float = 0.0, detach_16: bool = True, code_only: bool = False,
                adain: bool = False):
        if tuple(x.shape[-2:]) != (self.img_size, self.img_size):
            raise ValueError(f"CodeFormer expects {self.img_size}x{self.img_size} inputs, got {tuple(x.shape[-2:])}")
        # encoder with skip features
        take = {self.fuse_encoder_block[s]: s for s in self.connect_list}
        skips: dict[str, torch.Tensor] = {}
        for i, block in enumerate(self.encoder.blocks):
            x = block(x)
            if i in take:
                skips[str(x.shape[-1])] = x
        lq_feat = x
        b = lq_feat.shape[0]

        # transformer -> code indices
        pos = self.position_emb.unsqueeze(1).expand(-1, b, -1)
        t = self.feat_emb(lq_feat.flatten(2).permute(2, 0, 1))
        for layer in self.ft_layers:
            t = layer(t, pos)
        logits = self.idx_pred_layer(t).permute(1, 0, 2)          # [B, latent_size, codebook_size]
        if code_only:
            return logits, lq_feat

        idx = logits.argmax(dim=2)
        s = self.latent_side
        quant = codes_to_feature(self.quantize.embedding.weight, idx, s).contiguous()
        if detach_16:
            quant = quant.detach()
        if adain:
            quant = adaptive_instance_norm(quant, lq_feat)

        # generator with controllable fusion
        fuse_at = {self.fuse_generator_block[s_]: s_ for s_ in self.connect_list}
        x = quant
        for i, block in enumerate(self.generator.blocks):
            x = block(x)
            if i in fuse_at and w > 0:
                key = str(x.shape[-1])
                x = self.fuse_convs_dict[key](skips[key].detach(), x, w)
        return x, logits, lq_feat


def check_state_dict(net: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> None:
    """Raise :class:`StateDictMismatchError` unless ``state_dict`` has exactly ``net``'s keys and shapes."""
    _check_state_dict(net, state_dict, "CodeFormer")


def load_codeformer_weights(net: CodeFormer, state_dict: Mapping[str, torch.Tensor]) -> CodeFormer:
    """Strictly load ``state_dict`` (keys and shapes checked first, then ``strict=True``); returns ``net``."""
    return load_strict(net, state_dict, "CodeFormer")
