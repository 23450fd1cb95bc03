"""IFQA++: the MAE ViT-Huge/14 per-pixel quality model (independent re-implementation).

Architecture of the official code (official ``model_huge.py``
``MaskedAutoencoderViT`` of ``AIM-SKKU/IFQA`` with ``decoder_pred`` replaced by ``Linear(512, 14**2)``,
timm ``Block``/``PatchEmbed``): patch embedding (14x14 conv), fixed 2-D sin-cos position tables, a
pre-LayerNorm transformer encoder (32 blocks, width 1280, 16 heads), a linear projection to the decoder
width (512), 8 decoder blocks, LayerNorm, and a linear head giving 14x14 values per patch, passed through
a sigmoid and unpatchified to a ``[B, 1, 224, 224]`` map.  The state-dict keys equal those of the released
``weights/IFQA++_Metric.pth`` (under ``'D'``); no timm needed.

MAE's random masking with ratio 0 keeps every token but shuffles them and the decoder un-shuffles
them: the result does not depend on the order (up to float rounding, 1e-6), so :meth:`IFQAViT.forward`
uses the identity order; ``ids_shuffle`` reproduces a given shuffle (for the golden check).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench.core.checkpoints import load_strict
from reference_models.ifqa.discriminator import unwrap_checkpoint

__all__ = ["IFQAViT", "load_ifqa_vit_state_dict", "RELEASED_CONFIG", "sincos_table"]

#: constructor arguments of the released IFQA++ model (MAE ViT-H/14 defaults)
RELEASED_CONFIG = dict(img_size=224, patch_size=14, in_chans=3, embed_dim=1280, depth=32, num_heads=16,
                       decoder_embed_dim=512, decoder_depth=8, decoder_num_heads=16, mlp_ratio=4.0)


def sincos_table(dim: int, grid: int, cls_token: bool = True) -> np.ndarray:
    """MAE's 2-D sin-cos position table ``[(1 +) grid**2, dim]`` (float64 -> float32).

    Token ``n = i * grid + j`` (row i, column j); the first ``dim/2`` channels encode the column, the last
    ``dim/2`` the row; each half is ``sin(pos * w_k)`` then ``cos(pos * w_k)``, ``w_k = 10000**(-k / (dim/4))``.
    """
    if dim % 4:
        raise ValueError(f"sin-cos table needs a width divisible by 4, got {dim}")
    omega = 1.0 / 10000 ** (np.arange(dim // 4, dtype=np.float64) / (dim / 4.0))
    rows, cols = np.meshgrid(np.arange(grid, dtype=np.float64), np.arange(grid, dtype=np.float64), indexing="ij")

    def half(pos):
        out = np.outer(pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    table = np.concatenate([half(cols), half(rows)], axis=1)
    if cls_token:
        table = np.concatenate([np.zeros((1, dim)), table], axis=0)
    return table.astype(np.float32)


class _Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        attn = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class _Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class _Block(nn.Module):
    """Pre-LN transformer block: ``x + attn(norm1(x))``, then ``x + mlp(norm2(x))``."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = _Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = _Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class _PatchEmbed(nn.Module):
    def __init__(self, patch_size: int, in_chans: int, dim: int):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, dim, patch_size, patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class IFQAViT(nn.Module):
    """IFQA++ per-pixel quality model; ``forward(x [B,3,S,S] normalised) -> [B,1,S,S]`` map in (0, 1)."""

    def __init__(self, img_size: int = 224, patch_size: int = 14, in_chans: int = 3, embed_dim: int = 1280,
                 depth: int = 32, num_heads: int = 16, decoder_embed_dim: int = 512, decoder_depth: int = 8,
                 decoder_num_heads: int = 16, mlp_ratio: float = 4.0, out_chans: int = 1):
        super().__init__()
        if img_size % patch_size:
            raise ValueError("img_size must be a multiple of patch_size")
        self.img_size, self.patch_size, self.out_chans = img_size, patch_size, out_chans
        self.grid = img_size // patch_size
        n = self.grid ** 2
        # own parameters first (state-dict order of the release): cls_token, pos_embed, mask_token, decoder_pos_embed
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.from_numpy(sincos_table(embed_dim, self.grid))[None],
                                      requires_grad=False)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_embed_dim))
        self.decoder_pos_embed = nn.Parameter(torch.from_numpy(sincos_table(decoder_embed_dim, self.grid))[None],
                                              requires_grad=False)
        assert self.pos_embed.shape[1] == n + 1
        self.patch_embed = _PatchEmbed(patch_size, in_chans, embed_dim)
        self.blocks = nn.ModuleList(_Block(embed_dim, num_heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.decoder_embed = nn.Linear(embed_dim, decoder_embed_dim)
        self.decoder_blocks = nn.ModuleList(_Block(decoder_embed_dim, decoder_num_heads, mlp_ratio)
                                            for _ in range(decoder_depth))
        self.decoder_norm = nn.LayerNorm(decoder_embed_dim, eps=1e-6)
        self.decoder_pred = nn.Linear(decoder_embed_dim, patch_size ** 2 * out_chans)

    def forward_encoder(self, x: torch.Tensor, ids_shuffle: torch.Tensor | None = None) -> torch.Tensor:
        """Encoder tokens ``[B, 1 + L, D]`` (cls first); patch tokens in ``ids_shuffle`` order when given."""
        if x.shape[-2:] != (self.img_size, self.img_size):
            raise ValueError(f"IFQA++ expects {self.img_size}x{self.img_size} inputs, got {tuple(x.shape[-2:])}")
        t = self.patch_embed(x) + self.pos_embed[:, 1:]
        if ids_shuffle is not None:
            t = torch.gather(t, 1, ids_shuffle[..., None].expand(-1, -1, t.shape[-1]))
        cls = (self.cls_token + self.pos_embed[:, :1]).expand(t.shape[0], -1, -1)
        t = torch.cat([cls, t], dim=1)
        for blk in self.blocks:
            t = blk(t)
        return self.norm(t)

    def forward_decoder(self, latent: torch.Tensor, ids_restore: torch.Tensor | None = None) -> torch.Tensor:
        """Per-patch predictions ``[B, L, patch**2 * out_chans]`` after the sigmoid, in raster order."""
        t = self.decoder_embed(latent)
        if ids_restore is not None:
            patches = torch.gather(t[:, 1:], 1, ids_restore[..., None].expand(-1, -1, t.shape[-1]))
            t = torch.cat([t[:, :1], patches], dim=1)
        t = t + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            t = blk(t)
        return torch.sigmoid(self.decoder_pred(self.decoder_norm(t))[:, 1:])

    def unpatchify(self, pred: torch.Tensor) -> torch.Tensor:
        """``[B, L, p*p*c]`` -> ``[B, c, H, W]``; token (h, w) value (p, q, c) -> pixel (h*p + p', w*p + q)."""
        b, g, p, c = pred.shape[0], self.grid, self.patch_size, self.out_chans
        x = pred.reshape(b, g, g, p, p, c).permute(0, 5, 1, 3, 2, 4)
        return x.reshape(b, c, g * p, g * p)

    def forward(self, x: torch.Tensor, ids_shuffle: torch.Tensor | None = None) -> torch.Tensor:
        ids_restore = torch.argsort(ids_shuffle, dim=1) if ids_shuffle is not None else None
        return self.unpatchify(self.forward_decoder(self.forward_encoder(x, ids_shuffle), ids_restore))

    @torch.no_grad()
    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Per-image score ``[B]``: test.py's ``sum(max(map, 0)) / 224**2`` (the mean map value at 224)."""
        m = self(x).clamp_min(0)
        return m.sum(dim=(1, 2, 3)) / float(self.img_size * self.img_size)


def load_ifqa_vit_state_dict(model: IFQAViT, state: Mapping) -> IFQAViT:
    """Strictly load a state dict or the released ``{'D': ...}`` checkpoint; mismatches raise naming the keys."""
    load_strict(model, unwrap_checkpoint(state), what="IFQA++ ViT")
    return model
