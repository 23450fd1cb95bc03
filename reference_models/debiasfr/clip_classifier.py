"""DebiasFR's high-resolution attribute classifier (``Clip_classifier.pth``), ported to plain PyTorch.

Provenance: ``Seeyn/DebiasFR@70162552`` ``dbfr/models/classifier_arch.py`` class ``AttributeClassifier``
(spec ``docs/protocols/debiasfr.md`` §3.2, interface of the official code).
It is a frozen OpenAI CLIP ViT-B/32 (Radford et al., 2021, ``openai/CLIP`` ``clip/model.py``) followed by two
MLP heads; DebiasFR uses it only as the frozen training-time critic (attribute cross-entropy).  This file is
written from those descriptions; key names follow the official checkpoint exactly (334 keys).

Licences: OpenAI CLIP is MIT-licensed; the DebiasFR repository has no licence file (unspecified: treat its
checkpoint as research use only).  No weights ship with this suite (asset ``debiasfr_clip_classifier``).

Maths (x: RGB ``[B, 3, 224, 224]``, fed as is: **no** CLIP mean/std normalisation, DebiasFR passes the
generator output in [-1, 1] after :func:`clip_input`):

* vision tower (width ``W`` = 768, 12 heads, 12 layers, patch 32, grid 7):
  ``t = [c ; conv_32x32/32(x) flattened to 49 tokens] + P`` (``c`` class embedding, ``P`` 50 x W positions,
  conv without bias); ``t = LN_pre(t)``; 12 pre-LN residual blocks
  ``t += MHA(LN_1(t))``, ``t += W_2 · QuickGELU(W_1 · LN_2(t) + b_1) + b_2`` with
  ``QuickGELU(z) = z · σ(1.702 z)`` and ``MHA(z) = W_o · concat_h softmax(q_h k_hᵀ / √64) v_h + b_o``,
  ``[q, k, v] = W_in z + b_in``; ``f = LN_post(t_0) · proj`` (``proj`` W x 512).  Every LayerNorm
  (ε = 1e-5) is computed in float32 and cast back, as in CLIP.
* ``e = f / ‖f‖₂`` per row (the embedding), then ``age = MLP_10(e)``, ``gender = MLP_2(e)`` where ``MLP_C`` =
  Linear(512, 256), LReLU(0.2), 6 x [Linear(256, 256), LReLU(0.2)], Linear(256, C); raw logits.

The text tower (``transformer``, ``token_embedding``, ``positional_embedding``, ``ln_final``,
``text_projection``, ``logit_scale``) is unused by DebiasFR; its parameters exist here only so that the
official checkpoint loads strictly (no ``encode_text`` is provided).

Precision: on CUDA ``clip.load`` returns a float16 CLIP, so the released checkpoint may store the keys of
``manifest_full.json["gpu_dtypes_float16_keys"]`` in float16, and the official critic ran its vision tower in
float16.  :func:`load_clip_classifier_state_dict` accepts float16/bfloat16 tensors and casts them to
float32; this port always computes in float32 (differences to the GPU original are of fp16 rounding size).

Difference to the official signature: ``forward(x, out_represent=False)`` here returns only the two logits by
default; the official default is ``out_represent=True`` (three outputs).  Pass it explicitly when it matters.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from bench.core.checkpoints import StateDictMismatchError, load_strict

#: CLIP ViT-B/32 hyper-parameters (``clip.load("ViT-B/32")``)
CLIP_VIT_B32 = {"embed_dim": 512, "image_resolution": 224, "vision_layers": 12, "vision_width": 768,
                "vision_patch_size": 32, "context_length": 77, "vocab_size": 49408, "transformer_width": 512,
                "transformer_heads": 8, "transformer_layers": 12}
ASSET = "debiasfr_clip_classifier"
N_AGE_BINS = 10

__all__ = ["ASSET", "CLIP_VIT_B32", "ClipAttributeClassifier", "ClipCritic", "StateDictMismatchError",
           "clip_input", "load_clip_classifier", "load_clip_classifier_state_dict"]


# --------------------------------------------------------------------------------------------- CLIP


class LayerNorm32(nn.LayerNorm):
    """LayerNorm evaluated in float32 whatever the input dtype, result cast back to the input dtype."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.layer_norm(x.float(), self.normalized_shape, self.weight.float(), self.bias.float(), self.eps)
        return y.to(x.dtype)


class QuickGELU(nn.Module):
    """``z · sigmoid(1.702 z)`` (CLIP's GELU approximation)."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z * torch.sigmoid(1.702 * z)


class SelfAttention(nn.Module):
    """Multi-head self-attention with ``nn.MultiheadAttention``'s parameter names (packed q/k/v projection)."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * width))
        self.out_proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        b, n, w = x.shape
        hd = w // self.heads
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).split(w, dim=-1)
        q, k, v = (t.reshape(b, n, self.heads, hd).transpose(1, 2) for t in (q, k, v))
        scores = (q * hd ** -0.5) @ k.transpose(-1, -2)
        if causal:
            scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool, device=x.device).triu(1), float("-inf"))
        out = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, n, w)
        return self.out_proj(out)


class ResidualBlock(nn.Module):
    """Pre-LN transformer block: ``x += attn(ln_1(x)); x += mlp(ln_2(x))`` (MLP width x4, QuickGELU)."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.attn = SelfAttention(width, heads)
        self.ln_1 = LayerNorm32(width)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(width, 4 * width))
        self.mlp.add_module("gelu", QuickGELU())
        self.mlp.add_module("c_proj", nn.Linear(4 * width, width))
        self.ln_2 = LayerNorm32(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int) -> None:
        super().__init__()
        self.resblocks = nn.Sequential(*[ResidualBlock(width, heads) for _ in range(layers)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.resblocks(x)


class VisionTransformer(nn.Module):
    """``(B, 3, R, R)`` -> ``(B, output_dim)``: patch embedding, class token, 12 blocks, ``ln_post`` · ``proj``."""

    def __init__(self, resolution: int, patch: int, width: int, layers: int, heads: int, output_dim: int) -> None:
        super().__init__()
        self.resolution = resolution
        self.class_embedding = nn.Parameter(torch.empty(width))
        self.positional_embedding = nn.Parameter(torch.empty((resolution // patch) ** 2 + 1, width))
        self.proj = nn.Parameter(torch.empty(width, output_dim))
        self.conv1 = nn.Conv2d(3, width, patch, stride=patch, bias=False)
        self.ln_pre = LayerNorm32(width)
        self.transformer = Transformer(width, layers, heads)
        self.ln_post = LayerNorm32(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.resolution, self.resolution):
            raise ValueError(f"CLIP ViT-B/32 needs {self.resolution}x{self.resolution} inputs, got "
                             f"{tuple(x.shape[-2:])} (use clip_input(images, size={self.resolution}))")
        dtype = self.conv1.weight.dtype
        t = self.conv1(x.to(dtype)).flatten(2).transpose(1, 2)                 # (B, grid², W)
        cls = self.class_embedding.to(dtype).expand(t.shape[0], 1, -1)
        t = torch.cat([cls, t], dim=1) + self.positional_embedding.to(dtype)
        t = self.transformer(self.ln_pre(t))
        return self.ln_post(t[:, 0]) @ self.proj


class CLIP(nn.Module):
    """CLIP with the parameter layout of ``openai/CLIP`` (ViT image tower; text tower parameters only)."""

    def __init__(self, embed_dim: int, image_resolution: int, vision_layers: int, vision_width: int,
                 vision_patch_size: int, context_length: int, vocab_size: int, transformer_width: int,
                 transformer_heads: int, transformer_layers: int) -> None:
        super().__init__()
        self.positional_embedding = nn.Parameter(torch.empty(context_length, transformer_width))
        self.text_projection = nn.Parameter(torch.empty(transformer_width, embed_dim))
        self.logit_scale = nn.Parameter(torch.empty(()))
        self.visual = VisionTransformer(image_resolution, vision_patch_size, vision_width, vision_layers,
                                        vision_width // 64, embed_dim)
        self.transformer = Transformer(transformer_width, transformer_layers, transformer_heads)
        self.token_embedding = nn.Embedding(vocab_size, transformer_width)
        self.ln_final = LayerNorm32(transformer_width)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Random initialisation at CLIP's scales (only meaningful for tests; real use loads a checkpoint)."""
        v, t = self.visual, self.transformer
        for emb, std in ((v.class_embedding, v.class_embedding.shape[0] ** -0.5),
                         (v.positional_embedding, v.class_embedding.shape[0] ** -0.5),
                         (v.proj, v.proj.shape[0] ** -0.5), (self.positional_embedding, 0.01),
                         (self.token_embedding.weight, 0.02), (self.text_projection, self.text_projection.shape[0] ** -0.5)):
            emb.normal_(0.0, std)
        self.logit_scale.fill_(math.log(1 / 0.07))
        for tower in (v.transformer, t):
            for blk in tower.resblocks:
                w = blk.ln_1.normalized_shape[0]
                depth = len(tower.resblocks)
                blk.attn.in_proj_weight.normal_(0.0, w ** -0.5)
                blk.attn.in_proj_bias.zero_()
                blk.attn.out_proj.weight.normal_(0.0, w ** -0.5 * (2 * depth) ** -0.5)
                blk.attn.out_proj.bias.zero_()
                blk.mlp.c_fc.weight.normal_(0.0, (2 * w) ** -0.5)
                blk.mlp.c_proj.weight.normal_(0.0, w ** -0.5 * (2 * depth) ** -0.5)

    def encode_image(self, x: torch.Tensor) -> torch.Tensor:
        return self.visual(x)


# -------------------------------------------------------------------------------------------- heads


class MLPHead(nn.Module):
    """``model`` = Linear(512, 256), LReLU(0.2), 6 x [Linear(256, 256), LReLU(0.2)], Linear(256, C)."""

    def __init__(self, n_out: int, n_in: int = 512, hidden: int = 256, n_linear: int = 8) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(n_linear - 1):
            layers += [nn.Linear(n_in if i == 0 else hidden, hidden), nn.LeakyReLU(0.2)]
        layers.append(nn.Linear(hidden, n_out))
        self.model = nn.Sequential(*layers)

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        return self.model(e)


class ClipAttributeClassifier(nn.Module):
    """``age [B, 10], gender [B, 2] (, e [B, 512]) = model(x, out_represent)``; x ``[B, 3, 224, 224]``."""

    def __init__(self) -> None:
        super().__init__()
        self.clip_model = CLIP(**CLIP_VIT_B32)
        self.ageclassifier = MLPHead(N_AGE_BINS)
        self.genderclassifier = MLPHead(2)

    def encode_image_raw(self, x: torch.Tensor) -> torch.Tensor:
        """CLIP image embedding before normalisation, as float32."""
        return self.clip_model.encode_image(x).float()

    def forward(self, x: torch.Tensor, out_represent: bool = False):
        f = self.encode_image_raw(x)
        e = f / f.norm(dim=1, keepdim=True)
        age, gender = self.ageclassifier(e), self.genderclassifier(e)
        return (age, gender, e) if out_represent else (age, gender)


# --------------------------------------------------------------------------------------- input resize


def _box_matrix(n_in: int, up: int, pool: int, dtype: torch.dtype, device) -> torch.Tensor:
    """``A [floor(n_in·up/pool), n_in]`` with ``A @ v`` = AvgPool1d(pool)(nearest ×up of ``v``), exactly."""
    n_out = n_in * up // pool
    src = torch.arange(n_out * pool, device=device) // up                 # source index of each upsampled px
    rows = torch.arange(n_out, device=device).repeat_interleave(pool)
    a = torch.zeros(n_out, n_in, dtype=torch.float64, device=device)
    a.index_put_((rows, src), torch.ones_like(src, dtype=torch.float64), accumulate=True)
    return (a / pool).to(dtype)


def clip_input(images: torch.Tensor, size: int | None = None) -> torch.Tensor:
    """DebiasFR's resize of generator outputs for the CLIP critic (R: ``dbfr_model.py`` L65-66, L216, L259).

    ``size=None`` (the official operation): ``AvgPool2d(16)(Upsample(×7, nearest)(x))``, i.e. ``N -> ⌊7N/16⌋``
    (512 -> 224).  It is evaluated without building the ×7 image, as the separable linear map
    ``y = A x Aᵀ`` with ``A[i, j] = |{u ∈ [16i, 16i+16) : ⌊u/7⌋ = j}| / 16`` — an exact box (area) filter
    with fractional pixel overlaps; equal to the two-step form up to float rounding of the sums.

    ``size=S`` (any input size): the same box filter from ``N`` to ``S`` pixels, written as nearest ×``S/g``
    then AvgPool(``N/g``) with ``g = gcd(N, S)``; for ``N = 512, S = 224`` this is exactly the official
    ×7 / AvgPool(16).  Below ``S`` it reduces to nearest upsampling (e.g. 32 -> 224 is nearest ×7), which is what
    the CPU presets use to feed 32/64 px outputs to the 224 px CLIP.  Height and width are handled
    independently (non-square inputs are allowed). No mean/std normalisation is applied (as in DebiasFR).
    """
    h, w = images.shape[-2:]

    def factors(n: int) -> tuple[int, int]:
        if size is None:
            return 7, 16
        g = math.gcd(n, int(size))
        return int(size) // g, n // g

    ah = _box_matrix(h, *factors(h), images.dtype, images.device)
    aw = ah if w == h else _box_matrix(w, *factors(w), images.dtype, images.device)
    return torch.einsum("ih,...hw,jw->...ij", ah, images, aw)


# --------------------------------------------------------------------------------------------- loading


def load_clip_classifier_state_dict(model: ClipAttributeClassifier, state: Mapping[str, torch.Tensor]) -> None:
    """Strict load of the official state dict (``torch.load(path)['model_state_dict']``).

    Every missing / unexpected key and shape mismatch is named (:class:`StateDictMismatchError`).  Floating
    tensors stored in float16 / bfloat16 (a CLIP saved from a GPU) are accepted and cast to float32; non-floating
    tensors are refused.
    """
    bad = [f"{k}: {v.dtype}" for k, v in state.items() if not torch.is_floating_point(v)]
    if bad:
        raise StateDictMismatchError(f"DebiasFR CLIP classifier: non-floating tensors in the state dict: "
                                     f"{', '.join(bad[:8])}")
    load_strict(model, {k: v.float() for k, v in state.items()}, what="DebiasFR CLIP classifier")


def load_clip_classifier(weights: str | Path | None = None, manager=None,
                         device: str | torch.device = "cpu") -> ClipAttributeClassifier:
    """The frozen (eval, no grad) classifier from ``weights`` or the asset ``debiasfr_clip_classifier``.

    The file is read with ``torch.load(weights_only=True)`` (or safetensors), key ``model_state_dict``.  Without
    ``weights`` the asset manager supplies the file or raises ``AssetUnavailableError`` saying how to get it.
    """
    from bench.core.assets import AssetManager
    from bench.core.checkpoints import load_state_dict

    path = Path(weights) if weights is not None else (manager or AssetManager()).path(ASSET)
    state = load_state_dict(path, key="model_state_dict")
    with torch.device("meta"):                       # no wasted random init: every tensor comes from the file
        model = ClipAttributeClassifier()
    model = model.to_empty(device=device)
    load_clip_classifier_state_dict(model, {k: v.to(device) for k, v in state.items()})
    return model.eval().requires_grad_(False)


class ClipCritic(nn.Module):
    """Frozen training critic: ``(age logits, gender logits) = critic(images)`` for generator outputs in
    [-1, 1] of any size, resized by :func:`clip_input` to ``size`` (224, the CLIP resolution)."""

    def __init__(self, classifier: ClipAttributeClassifier, size: int = 224) -> None:
        super().__init__()
        self.classifier = classifier.eval().requires_grad_(False)
        self.size = int(size)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.classifier(clip_input(images, size=self.size), out_represent=False)
