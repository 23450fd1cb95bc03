"""GFPGAN (v1.3 / v1.4, ``GFPGANv1Clean``) as an frbench method (``gfpgan``): official aligned-face path.

Pipeline (``GFPGANer.enhance(has_aligned=True)`` in ``gfpgan/utils.py`` at TencentARC/GFPGAN ``7552a77``):

1. the LQ face ``[B, 3, h, w]`` float RGB in ``[0, 1]`` is resized to 512×512 with bilinear interpolation,
   ``align_corners=False``, **no antialias** (the semantics of ``cv2.resize(..., INTER_LINEAR)``); the
   official code resizes ``uint8`` images, so the result is rounded to 8 bits (``round_input=True``).
2. RGB, ``(x - 0.5) / 0.5`` -> ``[-1, 1]``; ``net(x, return_rgb=False, weight=0.5)`` (``weight`` has no
   effect for this class).
3. output clamped to ``[-1, 1]`` -> ``[0, 1]``; the official code then rounds to ``uint8`` (the harness
   quantises where it saves).  When the protocol's ``out_size`` differs from 512 the result is resized
   with ``bilinear, align_corners=False, antialias=True`` (as the CodeFormer baseline).

Noise: the official inference draws fresh StyleGAN2 noise on every call (``randomize_noise=True``),
which makes results irreproducible.  Here ``noise="seeded"`` (default) draws the same kind of
``N(0, 1)`` noise from a generator seeded per image by ``seed`` and a CRC32 of the image's 8-bit input,
so a face gets the same noise whatever its batch or position; ``noise="fixed"`` uses the stored
``noises.noise{i}`` buffers (``randomize_noise=False``).

Options: ``version`` (``"1.3"`` default, the spec's [SUITE] choice, asset ``gfpgan_v1_3``; ``"1.4"``
-> ``gfpgan_v1_4``; same architecture), ``weights`` (local official ``.pth`` with ``params_ema``/``params``,
or a flat ``.safetensors``; ``"random"``: seeded random network for tests only), ``device``, ``config``
(architecture overrides for reduced test networks), ``seed``, ``noise``, ``round_input``.

Licence Apache-2.0 (TencentARC/GFPGAN; third-party parts carry their own licences).  Paper: Wang, Li,
Zhang, Shan, *Towards Real-World Blind Face Restoration with Generative Facial Prior*, CVPR 2021.
"""
from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from bench.core.types import Attributes

from reference_models.shared.aligned_io import to_network_input, to_output_size
from bench.core.checkpoints import load_network
from baselines.gfpgan.arch import (
    LICENCE,
    REFERENCE_COMMIT,
    REFERENCE_REPO,
    RELEASED_CONFIG,
    GFPGANv1Clean,
    load_gfpgan_weights,
)

CHECKPOINT_KEYS = ("params_ema", "params")
ASSETS = {"1.3": "gfpgan_v1_3", "1.4": "gfpgan_v1_4"}
NOISE_MODES = ("seeded", "fixed")


def load_gfpgan(weights: str | Path | None = None, config: Mapping[str, Any] | None = None,
                device: str | torch.device = "cpu", seed: int = 0,
                version: str = "1.3") -> tuple[GFPGANv1Clean, dict[str, Any]]:
    """Build the network and load its weights strictly; returns ``(net in eval mode, provenance dict)``.

    ``weights``: checkpoint path, ``None`` for the asset of ``version``, or ``"random"`` (tests only).
    """
    cfg = dict(RELEASED_CONFIG)
    cfg.update(dict(config or {}))
    cfg["decoder_load_path"] = None  # the full checkpoint holds the decoder
    return load_network(lambda: GFPGANv1Clean(**cfg), weights, ASSETS[version], CHECKPOINT_KEYS,
                        load_gfpgan_weights, device=device, seed=seed)


class GFPGANMethod:
    """GFPGAN v1.3/v1.4 restoration of aligned faces (official ``has_aligned`` path); see the module doc."""
    expects_alignment = "ffhq"  # official aligned mode: FFHQ-aligned 512 faces (bench.data.framing)
    description = (
        "GFPGAN v1.3 (CVPR'21, clean arch; aligned 512; -M version=1.4; weights -M weights=PATH; "
        "Apache-2.0)."
    )
    citation = ("Wang, Li, Zhang, Shan, Towards Real-World Blind Face Restoration with Generative Facial Prior, "
                "CVPR 2021; "
                f"{REFERENCE_REPO}@{REFERENCE_COMMIT}")
    licence = LICENCE

    uses_attributes = False

    def __init__(self, version: str | float = "1.3", weights: str | Path | None = None, device: str = "cpu",
                 config: Mapping[str, Any] | None = None, seed: int = 0, noise: str = "seeded",
                 round_input: bool = True) -> None:
        version = str(version)
        if version not in ASSETS:
            raise ValueError(f"GFPGAN version must be one of {sorted(ASSETS)}, got {version!r}")
        if noise not in NOISE_MODES:
            raise ValueError(f"noise must be one of {NOISE_MODES}, got {noise!r}")
        self.version, self.seed, self.noise, self.round_input = version, int(seed), noise, bool(round_input)
        self.device = torch.device(device)
        self.net, self._weights_info = load_gfpgan(weights, config, self.device, self.seed, version)
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.img_size = self.net.out_size

    @property
    def name(self) -> str:
        return "gfpgan" if self.version == "1.3" else f"gfpgan-v{self.version}"

    def _seeded_noise(self, x01: torch.Tensor) -> list[torch.Tensor]:
        """Per-image noise maps for every decoder layer, from ``seed`` and a CRC32 of the 8-bit input."""
        dec = self.net.stylegan_decoder
        maps: list[list[torch.Tensor]] = [[] for _ in range(dec.num_layers)]
        u8 = torch.round(x01.clamp(0, 1) * 255).to(torch.uint8).cpu().numpy()
        for img in u8:
            g = torch.Generator().manual_seed((self.seed * 1_000_003 + zlib.crc32(img.tobytes())) & 0x7FFFFFFF)
            for i in range(dec.num_layers):
                r = 2 ** ((i + 5) // 2)
                maps[i].append(torch.randn(1, 1, r, r, generator=g))
        return [torch.cat(m).to(self.device) for m in maps]

    @torch.no_grad()
    def restore(self, lq: torch.Tensor, attributes: Sequence[Attributes] | None = None,
                out_size: tuple[int, int] | None = None) -> torch.Tensor:
        x = to_network_input(lq, self.img_size, self.device, self.round_input)
        noise = self._seeded_noise(x) if self.noise == "seeded" else None
        out = self.net((x - 0.5) / 0.5, return_rgb=False, randomize_noise=False, noise=noise, weight=0.5)[0]
        out = (out.clamp(-1.0, 1.0) + 1.0) / 2.0
        return to_output_size(out, out_size)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "config": dict(self.net.config),
            **self._weights_info,
            "noise": (f"N(0,1) seeded per image (seed {self.seed} + CRC32 of the 8-bit input)"
                      if self.noise == "seeded" else "stored noise buffers (randomize_noise=False)"),
            "preprocess": f"bilinear (align_corners=False, no antialias; cv2 INTER_LINEAR) to {self.img_size}, "
                          f"{'rounded to 8 bits, ' if self.round_input else ''}(x-0.5)/0.5",
            "postprocess": "clamp [-1,1] -> [0,1]; to out_size by bilinear align_corners=False antialias=True",
            "reference": f"{REFERENCE_REPO}@{REFERENCE_COMMIT} GFPGANer.enhance(has_aligned=True), arch clean",
            "licence": LICENCE,
            "library": f"torch {torch.__version__}",
        }
