"""PSFR-GAN generator (``PSFRGenerator`` of chaofengc/PSFRGAN, "netG") in plain PyTorch.

Written for frbench from the official architecture and the paper (reference
``chaofengc/PSFRGAN@ab853cd``, ``models/psfrnet.py``; no code copied).  Module and tensor names follow the
released ``psfrgan_epoch15_net_G.pth`` (a bare state dict of 221 entries, spectral-norm layout), so it
loads strictly through :func:`load_psfrgan_weights` — the official code uses ``strict=False``, which would
silently ignore a mismatch; here any missing, unexpected or mis-shaped key is an error naming the keys.

Maths.  A learned constant ``c in R^{1 x C0 x m x m}`` (``m = min_feat_size``) is progressively upsampled to
the output size and modulated at every scale by the *semantic-aware style transform* (SPADE) of the
conditioning ``r = [x, P]`` (LQ image ``x`` in [-1, 1], 3 channels, and the one-hot 19-class parsing map
``P``; 22 channels, hard-wired):

* widths: ``ch(s) = clip(1024*16 // s, ch_range)``; with the unclipped width ``h`` halved at every step,
  step ``i`` maps ``clip(h) -> clip(h // 2)`` (production: 1024@16, 512@32, 256@64, 128@128, 64@256, 32@512);
* ``head = conv3x3(C0 -> C0), SPADEResBlock(C0)``; ``body[i] = nearest x2, conv3x3, SPADEResBlock``;
  ``img_out = conv3x3 -> 3`` with no output activation (nominal range [-1, 1], unclamped);
* ``SPADEResBlock(f)(h) = h + conv_1(act(N_1(conv_0(act(N_0(h, r))), r)))`` with ``act = LeakyReLU(0.2)``;
* ``SPADENorm(h, r) = IN(h) * gamma(a) + beta(a)``, ``a = LeakyReLU_0.2(conv1.0(r'))`` (64 channels), where
  ``IN`` is the affine-free instance norm (eps 1e-5, no running statistics) and ``r'`` is ``r`` resized to
  the size of ``h`` by **bicubic** interpolation (A = -0.75, ``align_corners=False``, no antialias) when the
  widths differ.  Note: ``gamma`` multiplies directly (no ``1 + gamma``).
* Every ``Conv2d`` carries spectral normalisation (``torch.nn.utils.spectral_norm`` in the official code):
  tensors ``weight_orig``, ``bias`` and the buffers ``weight_u``, ``weight_v``; at inference the kernel is
  ``W = weight_orig / sigma`` with ``sigma = u . (mat(weight_orig) v)`` from the *stored* vectors (eval mode
  runs no power iteration).  :class:`SNConv2d` does exactly that and never updates ``u``/``v``.

Licence: the official code and weights are under **CC BY-NC-SA 4.0** (non-commercial, share-alike).
Paper: Chaofeng Chen, Xiaoming Li, Lingbo Yang, Xianhui Lin, Lei Zhang, Kwan-Yee K. Wong, *Progressive
Semantic-Aware Style Transformation for Blind Face Restoration*, CVPR 2021.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from bench.core.checkpoints import StateDictMismatchError, load_strict

REFERENCE_REPO = "chaofengc/PSFRGAN"
REFERENCE_COMMIT = "ab853cdc4957abe254f2b8831cb7b01aed2f68d8"
LICENCE = "CC BY-NC-SA 4.0 (chaofengc/PSFRGAN LICENSE and README; code and released weights, non-commercial)"
PAPER = ("Chen, Li, Yang, Lin, Zhang, Wong, Progressive Semantic-Aware Style Transformation for Blind Face "
         "Restoration, CVPR 2021")

#: number of parsing classes (CelebAMask-HQ) and conditioning width (image + parsing map), hard-wired
PARSE_CH = 19
REF_CH = 3 + PARSE_CH

#: ``define_G`` of the official test options: 512 -> 512, LeakyReLU, SPADE, spectral norm
RELEASED_CONFIG = {"out_size": 512, "min_feat_size": 16, "output_nc": 3, "relu_type": "LeakyReLU",
                   "ch_range": (32, 1024)}

__all__ = ["LICENCE", "RELEASED_CONFIG", "PSFRGenerator", "SNConv2d", "SPADENorm", "SPADEResBlock",
           "StateDictMismatchError", "load_psfrgan_weights"]


def _activation(relu_type: str) -> nn.Module:
    kind = relu_type.lower()
    if kind == "leakyrelu":
        return nn.LeakyReLU(0.2)
    if kind == "relu":
        return nn.ReLU()
    raise ValueError(f"relu_type must be 'LeakyReLU' or 'relu' for the PSFRGAN generator, got {relu_type!r}")


class SNConv2d(nn.Module):
    """3×3 conv (padding 1) with inference-time spectral normalisation from stored ``weight_u``/``weight_v``.

    Tensor names and order are those of ``torch.nn.utils.spectral_norm`` on an ``nn.Conv2d``: ``bias``,
    ``weight_orig`` (parameters), ``weight_u`` ``[out]``, ``weight_v`` ``[in*k*k]`` (buffers).
    """

    def __init__(self, cin: int, cout: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.cin, self.cout, self.kernel_size = cin, cout, kernel_size
        self.padding = kernel_size // 2
        bound = 1.0 / math.sqrt(cin * kernel_size * kernel_size)
        self.bias = nn.Parameter(torch.empty(cout).uniform_(-bound, bound))
        self.weight_orig = nn.Parameter(torch.empty(cout, cin, kernel_size, kernel_size).uniform_(-bound, bound))
        self.register_buffer("weight_u", F.normalize(torch.randn(cout), dim=0, eps=1e-12))
        self.register_buffer("weight_v", F.normalize(torch.randn(cin * kernel_size * kernel_size), dim=0, eps=1e-12))

    @torch.no_grad()
    def power_iterate(self, n: int) -> None:
        """``n`` power iterations on the stored vectors (only for freshly initialised random networks)."""
        mat = self.weight_orig.reshape(self.cout, -1)
        u, v = self.weight_u, self.weight_v
        for _ in range(n):
            v = F.normalize(torch.mv(mat.t(), u), dim=0, eps=1e-12)
            u = F.normalize(torch.mv(mat, v), dim=0, eps=1e-12)
        self.weight_u.copy_(u)
        self.weight_v.copy_(v)

    def weight(self) -> torch.Tensor:
        sigma = torch.dot(self.weight_u, torch.mv(self.weight_orig.reshape(self.cout, -1), self.weight_v))
        return self.weight_orig / sigma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight(), self.bias, padding=self.padding)


class _RefBranch(nn.Module):
    """``conv1`` of :class:`SPADENorm`: index 0 is the conv (state-dict name ``conv1.0``), then LeakyReLU 0.2."""

    def __init__(self, ref_ch: int, mid: int) -> None:
        super().__init__()
        self.add_module("0", SNConv2d(ref_ch, mid))

    def forward(self, ref: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self._modules["0"](ref), 0.2)


class SPADENorm(nn.Module):
    """``IN(x) * gamma_conv(a) + beta_conv(a)``, ``a = LeakyReLU0.2(conv1.0(ref resized bicubic to x))``."""

    def __init__(self, channels: int, ref_ch: int = REF_CH, mid: int = 64) -> None:
        super().__init__()
        self.conv1 = _RefBranch(ref_ch, mid)
        self.gamma_conv = SNConv2d(mid, channels)
        self.beta_conv = SNConv2d(mid, channels)

    def forward(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        normalised = F.instance_norm(x, eps=1e-5)
        if x.shape[-1] != ref.shape[-1]:
            ref = F.interpolate(ref, size=tuple(x.shape[2:]), mode="bicubic", align_corners=False)
        a = self.conv1(ref)
        return normalised * self.gamma_conv(a) + self.beta_conv(a)


class SPADEResBlock(nn.Module):
    """``x + conv_1(act(norm_1(conv_0(act(norm_0(x, ref))), ref)))`` (equal input/output width)."""

    def __init__(self, channels: int, relu_type: str = "LeakyReLU", ref_ch: int = REF_CH) -> None:
        super().__init__()
        self.conv_0 = SNConv2d(channels, channels)
        self.conv_1 = SNConv2d(channels, channels)
        self.norm_0 = SPADENorm(channels, ref_ch)
        self.norm_1 = SPADENorm(channels, ref_ch)
        self.act = _activation(relu_type)

    def forward(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        res = self.conv_0(self.act(self.norm_0(x, ref)))
        res = self.conv_1(self.act(self.norm_1(res, ref)))
        return x + res


class _UpStage(nn.Module):
    """``body[i]``: index 0 nearest ×2 (no tensors), 1 the conv, 2 the SPADE residual block."""

    def __init__(self, cin: int, cout: int, relu_type: str) -> None:
        super().__init__()
        self.add_module("0", nn.Upsample(scale_factor=2, mode="nearest"))
        self.add_module("1", SNConv2d(cin, cout))
        self.add_module("2", SPADEResBlock(cout, relu_type))

    def forward(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        x = self._modules["1"](self._modules["0"](x))
        return self._modules["2"](x, ref)


class _Head(nn.Module):
    """``head``: index 0 conv3×3, 1 SPADE residual block."""

    def __init__(self, ch: int, relu_type: str) -> None:
        super().__init__()
        self.add_module("0", SNConv2d(ch, ch))
        self.add_module("1", SPADEResBlock(ch, relu_type))

    def forward(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        return self._modules["1"](self._modules["0"](x), ref)


class PSFRGenerator(nn.Module):
    """PSFR-GAN generator; ``forward(x, parse)`` -> restored image (see the module docstring).

    ``x``: ``[B, 3, H, W]`` RGB in [-1, 1]; ``parse``: ``[B, 19, H, W]`` one-hot parsing map of the same size.
    Output ``[B, output_nc, out_size, out_size]``.  The official constructor's ``input_nc``, ``in_size``,
    ``ngf``, ``n_blocks`` and ``parse_ch`` do not change the graph and are not arguments here.
    """

    def __init__(self, out_size: int = 512, min_feat_size: int = 16, output_nc: int = 3,
                 relu_type: str = "LeakyReLU", ch_range: Sequence[int] = (32, 1024)) -> None:
        super().__init__()
        if out_size % min_feat_size or (out_size // min_feat_size) & (out_size // min_feat_size - 1):
            raise ValueError(f"out_size / min_feat_size must be a power of two, got {out_size}/{min_feat_size}")
        lo, hi = int(ch_range[0]), int(ch_range[1])
        self.config = {"out_size": out_size, "min_feat_size": min_feat_size, "output_nc": output_nc,
                       "relu_type": relu_type, "ch_range": (lo, hi)}
        self.out_size = out_size

        def clip(c: int) -> int:
            return max(lo, min(c, hi))

        width = clip(1024 * 16 // min_feat_size)  # unclipped afterwards, as the official bookkeeping
        self.const_input = nn.Parameter(torch.randn(1, width, min_feat_size, min_feat_size))
        steps = round(math.log2(out_size // min_feat_size))
        stages, h = [], width
        for _ in range(steps):
            stages.append(_UpStage(clip(h), clip(h // 2), relu_type))
            h //= 2
        # registration order = state-dict order of the release: const_input, img_out, head, body
        self.img_out = SNConv2d(clip(h), output_nc)
        self.head = _Head(width, relu_type)
        self.body = nn.ModuleList(stages)

    def spectral_modules(self) -> list[SNConv2d]:
        return [m for m in self.modules() if isinstance(m, SNConv2d)]

    def forward(self, x: torch.Tensor, parse: torch.Tensor) -> torch.Tensor:
        ref = torch.cat((x, parse), dim=1)
        feat = self.head(self.const_input.repeat(x.shape[0], 1, 1, 1), ref)
        for stage in self.body:
            feat = stage(feat, ref)
        return self.img_out(feat)


def load_psfrgan_weights(model: PSFRGenerator, state: Mapping[str, torch.Tensor]) -> PSFRGenerator:
    """Strict load; raises :class:`StateDictMismatchError` naming missing/unexpected/mismatched keys."""
    load_strict(model, state, what="PSFRGAN generator (netG)")
    return model
