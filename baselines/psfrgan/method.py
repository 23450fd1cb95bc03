"""PSFR-GAN as an frbench method (``psfrgan``): the official aligned-face path, parsing network included.

Pipeline (``test_enhance_dir_align.py`` + ``data/single_dataset.py`` at chaofengc/PSFRGAN ``ab853cd``; the
official code reads RGB with PIL, so both networks see **RGB**):

1. the LQ face ``[B, 3, h, w]`` float RGB in ``[0, 1]`` is resized to ``img_size x img_size`` (512 for the
   release) like ``PIL.Image.resize((512, 512), Image.BICUBIC)`` on the 8-bit image: a separable bicubic
   with PIL's kernel (A = -0.5, antialiased support when reducing), width first, each pass rounded and
   clipped to 8 bits — :func:`pil_bicubic_resize` (differs from PIL, whose weights are fixed-point, by up
   to 2 grey levels: on at most 0.14 % of the pixels from 16-200 px LQ faces, 1.1 % from 256 px, 0.7 % from
   1024 px; measured on real faces, ``tests/baselines/test_resize_agreement.py``).  A no-op for crops that
   already have the network size.
   ``round_input=False`` skips the 8-bit rounding (a plain antialiased bicubic).
2. ``x = (x - 0.5) / 0.5`` -> ``[-1, 1]`` (``ToTensor`` + ``Normalize(0.5, 0.5)``).
3. ``parse_logits, _ = netP(x)``; ``P = (parse_logits == max_c parse_logits).float()`` — the official
   one-hot rule (an exact tie would give a multi-hot pixel, as in the official code);
   ``out = netG(x, P)``.  Deterministic: nothing random is drawn.
4. ``(out + 1) / 2``, clipped to ``[0, 1]``; the official ``tensor_to_numpy`` / ``astype(uint8)`` then
   **truncates** — reproduced with ``truncate_output=True`` (default), giving values ``k/255``.  When the
   protocol's ``out_size`` differs from the network size the result is resized with ``bilinear,
   align_corners=False, antialias=True`` (as the other baselines).

Official output encoding (``official_encoding``, off by default; recorded in ``describe()`` and so in the
run identity when on): the official script saves each output with ``Image.fromarray(..).save(path)`` under
the input's file name, i.e. in the input's format with Pillow's defaults.  The wrapper does not see the
input file, so the format is named: ``jpeg75`` for JPEG inputs (Pillow's JPEG default: quality 75, 4:2:0;
e.g. UTKFace) or ``png`` (lossless).  The 8-bit network-size output is encoded and decoded in memory
(:mod:`baselines.output_encoding`) before the resize to ``out_size``.

Face detection, dlib 5-point alignment to ``FFHQ_template.npy`` and the paste-back are not part of the
aligned benchmark protocol and are not run.

Options: ``weights`` (local ``psfrgan_epoch15_net_G.pth`` — a bare state dict — or a flat ``.safetensors``;
``None``: asset ``psfrgan_generator``; ``"random"``: seeded random networks, tests only), ``parse_weights``
(``parse_multi_iter_90000.pth``; ``None``: asset ``psfrgan_parsenet``, or random when ``weights="random"``),
``config`` / ``parse_config`` (architecture overrides of netG / netP, for reduced test networks),
``device``, ``seed`` (random weights only), ``round_input``, ``truncate_output``, ``official_encoding``
(``none`` default, ``jpeg75`` or ``png``).

Licence: **CC BY-NC-SA 4.0** (code and released weights; non-commercial, share-alike).  Paper: Chen, Li,
Yang, Lin, Zhang, Wong, *Progressive Semantic-Aware Style Transformation for Blind Face Restoration*,
CVPR 2021.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from bench.core.types import Attributes

from reference_models.shared.aligned_io import to_output_size
from bench.core.checkpoints import load_network
from baselines.output_encoding import check_encoding, encode_decode
from baselines.psfrgan.arch import (
    LICENCE,
    REFERENCE_COMMIT,
    REFERENCE_REPO,
    RELEASED_CONFIG,
    PSFRGenerator,
    load_psfrgan_weights,
)
from baselines.psfrgan.parsenet import RELEASED_PARSENET_CONFIG, ParseNet, load_parsenet_weights, parse_onehot

GENERATOR_ASSET = "psfrgan_generator"
PARSENET_ASSET = "psfrgan_parsenet"
#: the released files are bare state dicts; these wrappers are accepted too (first present wins)
CHECKPOINT_KEYS = ("state_dict", "params")
#: power iterations run on the spectral-norm vectors of a *random* generator (a released one stores them)
RANDOM_POWER_ITERATIONS = 10


def pil_bicubic_resize(x: torch.Tensor, size: int, round_8bit: bool = True) -> torch.Tensor:
    """``[B, C, h, w]`` in ``[0, 1]`` -> ``[B, C, size, size]`` like PIL ``resize(BICUBIC)`` on 8-bit images."""
    def quant(t: torch.Tensor) -> torch.Tensor:
        return torch.round(t.clamp(0.0, 1.0) * 255.0) / 255.0 if round_8bit else t

    h, w = x.shape[-2:]
    if w != size:  # PIL: horizontal pass first, 8-bit intermediate
        x = quant(F.interpolate(x, size=(h, size), mode="bicubic", align_corners=False, antialias=True))
    if h != size:
        x = quant(F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False, antialias=True))
    return x


def _power_iterate(net_g: PSFRGenerator) -> None:
    """Settle the spectral-norm vectors of a random generator (a released one stores them)."""
    for conv in net_g.spectral_modules():
        conv.power_iterate(RANDOM_POWER_ITERATIONS)


def _strip_module_prefix(state: dict[str, torch.Tensor], info: Mapping[str, Any] | None = None
                         ) -> dict[str, torch.Tensor]:
    """A ``DataParallel`` dump (every key ``module.*``) -> plain keys; anything else unchanged."""
    if state and all(k.startswith("module.") for k in state):
        return {k[len("module."):]: v for k, v in state.items()}
    return state


def load_psfrgan(weights: str | Path | None = None, parse_weights: str | Path | None = None,
                 config: Mapping[str, Any] | None = None, parse_config: Mapping[str, Any] | None = None,
                 device: str | torch.device = "cpu", seed: int = 0) -> tuple[PSFRGenerator, ParseNet, dict[str, Any]]:
    """Build netG and netP and load their weights strictly; returns ``(netG, netP, provenance)`` in eval mode.

    ``weights="random"`` gives a seeded random generator (and, unless ``parse_weights`` is a path, a seeded
    random ParseNet): smoke tests only.  ``None`` takes the named assets.
    """
    gcfg = dict(RELEASED_CONFIG)
    gcfg.update(dict(config or {}))
    pcfg = dict(RELEASED_PARSENET_CONFIG)
    pcfg.update(dict(parse_config or {}))
    info: dict[str, Any] = {}
    net_g, info["generator"] = load_network(
        lambda: PSFRGenerator(**gcfg), weights, GENERATOR_ASSET, CHECKPOINT_KEYS, load_psfrgan_weights,
        device=device, seed=int(seed), random_init=_power_iterate, adapt_state=_strip_module_prefix)
    if parse_weights is None and weights == "random":
        parse_weights = "random"
    net_p, info["parsenet"] = load_network(
        lambda: ParseNet(**pcfg), parse_weights, PARSENET_ASSET, CHECKPOINT_KEYS, load_parsenet_weights,
        device=device, seed=int(seed) + 1, adapt_state=_strip_module_prefix)
    return net_g, net_p, info


class PSFRGANMethod:
    """PSFR-GAN restoration of aligned faces (official ``test_enhance_dir_align.py`` path); see the module doc."""
    expects_alignment = "ffhq"  # official aligned mode: FFHQ-aligned 512 faces (bench.data.framing)
    description = (
        "PSFR-GAN (CVPR'21; aligned 512, parsing map predicted by its ParseNet; -M weights=PATH -M "
        "parse_weights=PATH; CC BY-NC-SA 4.0)."
    )
    citation = ("Chen, Tai, Liu, Wong, Progressive Semantic-Aware Style Transformation for Blind Face "
                "Restoration, CVPR 2021; "
                f"{REFERENCE_REPO}@{REFERENCE_COMMIT}")
    licence = LICENCE

    name = "psfrgan"
    uses_attributes = False

    def __init__(self, weights: str | Path | None = None, parse_weights: str | Path | None = None,
                 device: str = "cpu", config: Mapping[str, Any] | None = None,
                 parse_config: Mapping[str, Any] | None = None, seed: int = 0, round_input: bool = True,
                 truncate_output: bool = True, official_encoding: str | None = None) -> None:
        self.official_encoding = check_encoding(official_encoding, ("jpeg75", "png"))
        self.device = torch.device(device)
        self.seed = int(seed)
        self.round_input, self.truncate_output = bool(round_input), bool(truncate_output)
        self.net_g, self.net_p, self._weights_info = load_psfrgan(
            weights, parse_weights, config, parse_config, self.device, self.seed)
        for p in list(self.net_g.parameters()) + list(self.net_p.parameters()):
            p.requires_grad_(False)
        self.img_size = self.net_g.out_size

    @torch.no_grad()
    def parse(self, x: torch.Tensor) -> torch.Tensor:
        """The official one-hot parsing map of a network input ``x`` in ``[-1, 1]``."""
        return parse_onehot(self.net_p(x)[0])

    @torch.no_grad()
    def restore(self, lq: torch.Tensor, attributes: Sequence[Attributes] | None = None,
                out_size: tuple[int, int] | None = None) -> torch.Tensor:
        if lq.ndim != 4 or lq.shape[1] != 3:
            raise ValueError(f"expected an RGB batch [B, 3, h, w], got {tuple(lq.shape)}")
        x = pil_bicubic_resize(lq.to(self.device, torch.float32), self.img_size, self.round_input)
        x = (x - 0.5) / 0.5
        out = self.net_g(x, self.parse(x))
        out = ((out + 1.0) / 2.0).clamp(0.0, 1.0)
        if self.truncate_output:
            out = torch.floor(out * 255.0) / 255.0
        if self.official_encoding:
            out = encode_decode(out, self.official_encoding)
        return to_output_size(out, out_size)

    def describe(self) -> dict[str, Any]:
        def plain(cfg: Mapping[str, Any]) -> dict[str, Any]:
            return {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()}

        encoding = ({"official_encoding": f"{self.official_encoding}: Image.fromarray(..).save in the input's "
                                          "format (Pillow defaults), encoded and decoded in memory"}
                    if self.official_encoding else {})
        return {
            **encoding,
            "name": self.name,
            "config": plain(self.net_g.config),
            "parse_config": plain(self.net_p.config),
            **self._weights_info["generator"],
            "parse_weights": self._weights_info["parsenet"],
            "preprocess": f"PIL-style bicubic (A=-0.5, width then height{', 8-bit per pass' if self.round_input else ''}) "
                          f"to {self.img_size}, RGB, (x-0.5)/0.5",
            "parsing": "netP(x) logits -> one-hot of the per-pixel maximum (official rule), 19 CelebAMask-HQ classes",
            "postprocess": ("(x+1)/2, clip [0,1]" + (", truncated to 8 bits (astype uint8)" if self.truncate_output
                                                      else "") +
                            "; to out_size by bilinear align_corners=False antialias=True"),
            "reference": f"{REFERENCE_REPO}@{REFERENCE_COMMIT} test_enhance_dir_align.py",
            "licence": LICENCE,
            "library": f"torch {torch.__version__}",
        }
