"""GPEN-BFR as an frbench method (``gpen``): the official aligned-face path.

Pipeline (``face_model/face_gan.py`` + ``face_enhancement.py --aligned`` at yangxy/GPEN ``2c73670``; the
official code works on OpenCV BGR ``uint8`` images and flips to RGB just before the network, so the
network itself sees **RGB**):

1. the LQ face ``[B, 3, h, w]`` float RGB in ``[0, 1]`` is resized to ``in_size`` (512 for GPEN-BFR-512)
   with bilinear interpolation, ``align_corners=False``, **no antialias** (``cv2.resize`` default
   ``INTER_LINEAR``; a no-op for crops that already have the model size); the official code resizes
   ``uint8`` images, so the result is rounded to 8 bits (``round_input=True``).
2. ``(x - 0.5) / 0.5`` -> ``[-1, 1]``; ``image, _ = net(x)`` (deterministic: the encoder features are the
   "noise", nothing random is drawn).
3. ``out * 0.5 + 0.5``, clipped to ``[0, 1]``; the official code then converts with ``*255`` and
   ``astype(uint8)``, i.e. **truncates** — reproduced with ``truncate_output=True`` (default), giving
   values ``k/255``.  When the protocol's ``out_size`` differs from the model size the result is
   resized with ``bilinear, align_corners=False, antialias=True`` (as the other baselines).

Official output encoding (``official_encoding="jpeg95"``, off by default; recorded in ``describe()`` and so
in the run identity when on): the demo writes its output with ``cv2.imwrite`` to ``--ext .jpg`` (JPEG
quality 95, 4:2:0), which published numbers carry; the 8-bit model-size output is JPEG-encoded and decoded
in memory (:mod:`baselines.output_encoding`) before the resize to ``out_size``.

Background SR (``--use_sr``), face detection/alignment and the parsing-mask paste-back are not part of
the aligned benchmark protocol and are not run.

Options: ``weights`` (local ``GPEN-BFR-512.pth`` — a bare state dict — or a flat ``.safetensors``; ``None``:
asset ``gpen_bfr_512``; ``"random"``: seeded random network for tests only), ``model`` (``"512"`` default,
``"256"`` -> GPEN-BFR-256, asset ``gpen_bfr_256``), ``device``, ``config`` (architecture overrides for
reduced test networks), ``seed`` (random weights only), ``round_input``, ``truncate_output``,
``official_encoding`` (``none`` default, or ``jpeg95``).

Licence: none stated (no licence file in yangxy/GPEN; formerly "academic and non-commercial use only").
Paper: Yang, Ren, Xie, Zhang, *GAN Prior Embedded Network for Blind Face Restoration in the Wild*, CVPR 2021.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from bench.core.types import Attributes

from reference_models.shared.aligned_io import to_network_input, to_output_size
from bench.core.checkpoints import load_network
from baselines.output_encoding import check_encoding, encode_decode
from baselines.gpen.arch import (
    CONFIG_256,
    LICENCE,
    REFERENCE_COMMIT,
    REFERENCE_REPO,
    RELEASED_CONFIG,
    FullGenerator,
    load_gpen_weights,
)

MODELS = {"512": (RELEASED_CONFIG, "gpen_bfr_512"), "256": (CONFIG_256, "gpen_bfr_256")}
#: the released checkpoints are bare state dicts; ``g_ema`` is what the training script saves
CHECKPOINT_KEYS = ("g_ema",)


def load_gpen(weights: str | Path | None = None, config: Mapping[str, Any] | None = None,
              device: str | torch.device = "cpu", seed: int = 0,
              model: str = "512") -> tuple[FullGenerator, dict[str, Any]]:
    """Build the network and load its weights strictly; returns ``(net in eval mode, provenance dict)``."""
    base, asset = MODELS[str(model)]
    cfg = dict(base)
    cfg.update(dict(config or {}))
    return load_network(lambda: FullGenerator(**cfg), weights, asset, CHECKPOINT_KEYS, load_gpen_weights,
                        device=device, seed=seed)


class GPENMethod:
    """GPEN-BFR restoration of aligned faces (official ``--aligned`` path); see the module doc."""
    expects_alignment = "ffhq"  # official aligned mode: FFHQ-aligned 512 faces (bench.data.framing)
    description = (
        "GPEN-BFR-512 (CVPR'21; aligned 512; -M model=256; weights -M weights=PATH; no licence, research "
        "only)."
    )
    citation = ("Yang, Ren, Xie, Zhang, GAN Prior Embedded Network for Blind Face Restoration in the Wild, CVPR "
                "2021; "
                f"{REFERENCE_REPO}@{REFERENCE_COMMIT}")
    licence = LICENCE

    uses_attributes = False

    def __init__(self, weights: str | Path | None = None, model: str | int = "512", device: str = "cpu",
                 config: Mapping[str, Any] | None = None, seed: int = 0, round_input: bool = True,
                 truncate_output: bool = True, official_encoding: str | None = None) -> None:
        model = str(model)
        self.official_encoding = check_encoding(official_encoding, ("jpeg95",))
        if model not in MODELS:
            raise ValueError(f"GPEN model must be one of {sorted(MODELS)}, got {model!r}")
        self.model, self.seed = model, int(seed)
        self.round_input, self.truncate_output = bool(round_input), bool(truncate_output)
        self.device = torch.device(device)
        self.net, self._weights_info = load_gpen(weights, config, self.device, self.seed, model)
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.img_size = self.net.size

    @property
    def name(self) -> str:
        return "gpen" if self.model == "512" else f"gpen-{self.model}"

    @torch.no_grad()
    def restore(self, lq: torch.Tensor, attributes: Sequence[Attributes] | None = None,
                out_size: tuple[int, int] | None = None) -> torch.Tensor:
        x = to_network_input(lq, self.img_size, self.device, self.round_input)
        out = self.net((x - 0.5) / 0.5)[0]
        out = (out * 0.5 + 0.5).clamp(0.0, 1.0)
        if self.truncate_output:
            out = torch.floor(out * 255.0) / 255.0
        if self.official_encoding:
            out = encode_decode(out, self.official_encoding)
        return to_output_size(out, out_size)

    def describe(self) -> dict[str, Any]:
        encoding = ({"official_encoding": f"{self.official_encoding}: demo.py cv2.imwrite .jpg (quality 95, 4:2:0), "
                                          "encoded and decoded in memory"} if self.official_encoding else {})
        return {
            **encoding,
            "name": self.name,
            "model": f"GPEN-BFR-{self.model}",
            "config": dict(self.net.config),
            **self._weights_info,
            "preprocess": f"bilinear (align_corners=False, no antialias; cv2 INTER_LINEAR) to {self.img_size}, "
                          f"{'rounded to 8 bits, ' if self.round_input else ''}RGB, (x-0.5)/0.5",
            "postprocess": ("x*0.5+0.5, clip [0,1]" + (", truncated to 8 bits (astype uint8)" if self.truncate_output
                                                        else "") +
                            "; to out_size by bilinear align_corners=False antialias=True"),
            "noise": "none (encoder features are injected; deterministic)",
            "reference": f"{REFERENCE_REPO}@{REFERENCE_COMMIT} face_gan.py / face_enhancement.py --aligned",
            "licence": LICENCE,
            "library": f"torch {torch.__version__}",
        }
