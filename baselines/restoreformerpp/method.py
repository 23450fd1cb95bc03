"""RestoreFormer++ as an frbench method (``restoreformerpp``): the official ``--aligned`` inference path.

Pipeline (``inference.py --aligned`` + ``RestoreFormer/RestoreFormer.py`` at wzhouxiff/RestoreFormerPlusPlus
``59d250f``; the official code works on OpenCV BGR ``uint8`` images and flips to RGB for the network, so the
network sees **RGB**):

1. the LQ face ``[B, 3, h, w]`` float RGB in ``[0, 1]`` is resized to ``resolution`` (512) with
   ``cv2.resize(img, (512, 512))`` semantics — bilinear, ``align_corners=False``, no antialias — on the
   8-bit image (result rounded to 8 bits, ``round_input=True``); a no-op for 512-px crops
   (:func:`reference_models.shared.aligned_io.to_network_input`).
2. ``/255``, ``normalize(0.5, 0.5)`` -> ``[-1, 1]``; ``dec = net(x)`` (deterministic nearest-code lookup).
3. ``basicsr.tensor2img(min_max=(-1, 1))``: clamp to ``[-1, 1]``, ``(x + 1) / 2``, ``*255``, **rounded** —
   here the float image in ``[0, 1]`` is returned and the harness rounds to 8 bits where it saves.  When the
   protocol's ``out_size`` differs from 512 the result is resized with ``bilinear, align_corners=False,
   antialias=True`` (as the other baselines).

Face detection (facexlib RetinaFace), alignment, paste-back and the Real-ESRGAN background are not part of
the aligned benchmark protocol and are not run.

Options: ``weights`` (local ``RestoreFormer++.ckpt`` — a PyTorch-Lightning checkpoint whose ``state_dict``
holds the generator under ``vqvae.``; other entries such as the loss/discriminator are ignored and
counted — or a flat state dict / ``.safetensors``; ``None``: asset ``restoreformerpp``; ``"random"``: a
seeded random network, tests only), ``version`` (``"++"`` default, ``"v1"`` for the older RestoreFormer,
``RestoreFormer.ckpt``, asset ``restoreformer``), ``config`` (architecture overrides for reduced test
networks), ``device``, ``seed`` (random weights only), ``round_input``.

Licence: **Apache-2.0**.  Paper: Wang, Zhang, Chen, Wang, Luo, *RestoreFormer++: Towards Real-World Blind
Face Restoration from Undegraded Key-Value Pairs*, TPAMI 2023.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from bench.core.types import Attributes

from reference_models.shared.aligned_io import to_network_input, to_output_size
from bench.core.checkpoints import load_network
from baselines.restoreformerpp.arch import (
    LICENCE,
    REFERENCE_COMMIT,
    REFERENCE_REPO,
    RELEASED_CONFIG,
    RESTOREFORMER_CONFIG,
    RestoreFormerPP,
    load_restoreformer_weights,
)

VERSIONS = {"++": (RELEASED_CONFIG, "restoreformerpp", "RestoreFormer++"),
            "v1": (RESTOREFORMER_CONFIG, "restoreformer", "RestoreFormer")}
#: the Lightning checkpoint keeps the weights under ``state_dict``
CHECKPOINT_KEYS = ("state_dict",)
PREFIX = "vqvae."


def generator_state(state: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The ``vqvae.*`` entries with the prefix removed, and the names of the other entries (ignored).

    A flat generator state dict (no ``vqvae.`` key at all) is returned unchanged.  The result still goes
    through the strict loader, so a missing or unexpected *generator* key is an error.
    """
    if not any(k.startswith(PREFIX) for k in state):
        return dict(state), []
    kept = {k[len(PREFIX):]: v for k, v in state.items() if k.startswith(PREFIX)}
    return kept, [k for k in state if not k.startswith(PREFIX)]


def load_restoreformer(weights: str | Path | None = None, config: Mapping[str, Any] | None = None,
                       device: str | torch.device = "cpu", seed: int = 0,
                       version: str = "++") -> tuple[RestoreFormerPP, dict[str, Any]]:
    """Build the network and load its weights strictly; returns ``(net in eval mode, provenance dict)``."""
    base, asset, _ = VERSIONS[version]
    cfg = dict(base)
    cfg.update(dict(config or {}))
    return load_network(lambda: RestoreFormerPP(**cfg), weights, asset, CHECKPOINT_KEYS, load_restoreformer_weights,
                        device=device, seed=seed, random_init=_spread_random_codes, adapt_state=_generator_only)


@torch.no_grad()
def _spread_random_codes(net: RestoreFormerPP) -> None:
    """Random code vectors at the scale of the encoder output (the official init is ±1/n_embed)."""
    net.quantize.embedding.weight.normal_()


def _generator_only(state: dict[str, torch.Tensor], info: dict[str, Any]) -> dict[str, torch.Tensor]:
    """:func:`generator_state`, counting the ignored entries in ``info``."""
    state, ignored = generator_state(state)
    info["ignored_entries"] = len(ignored)
    if ignored:
        info["ignored_examples"] = ignored[:5]
    return state


class RestoreFormerPPMethod:
    """RestoreFormer++ restoration of aligned faces (official ``--aligned`` path); see the module doc."""
    expects_alignment = "ffhq"  # official aligned mode: FFHQ-aligned 512 faces (bench.data.framing)
    description = (
        "RestoreFormer++ (TPAMI'23; aligned 512; -M version=v1 for RestoreFormer; weights -M "
        "weights=PATH; Apache-2.0)."
    )
    citation = ("Wang, Zhang, Dai, Ge, Li, Luo, RestoreFormer++: Towards Real-World Blind Face Restoration from "
                "Undegraded Key-Value Pairs, TPAMI 2023; "
                f"{REFERENCE_REPO}@{REFERENCE_COMMIT}")
    licence = LICENCE

    uses_attributes = False

    def __init__(self, weights: str | Path | None = None, version: str = "++", device: str = "cpu",
                 config: Mapping[str, Any] | None = None, seed: int = 0, round_input: bool = True) -> None:
        version = {"restoreformer++": "++", "restoreformer": "v1", "1": "v1"}.get(str(version).lower(), str(version))
        if version not in VERSIONS:
            raise ValueError(f"RestoreFormer version must be one of {sorted(VERSIONS)}, got {version!r}")
        self.version = version
        self.device = torch.device(device)
        self.round_input = bool(round_input)
        self.net, self._weights_info = load_restoreformer(weights, config, self.device, seed, version)
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.img_size = self.net.resolution

    @property
    def name(self) -> str:
        return "restoreformerpp" if self.version == "++" else "restoreformer"

    @torch.no_grad()
    def restore(self, lq: torch.Tensor, attributes: Sequence[Attributes] | None = None,
                out_size: tuple[int, int] | None = None) -> torch.Tensor:
        x = to_network_input(lq, self.img_size, self.device, self.round_input)
        out = self.net((x - 0.5) / 0.5)
        out = (out.clamp(-1.0, 1.0) + 1.0) / 2.0
        return to_output_size(out, out_size)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": VERSIONS[self.version][2],
            "config": {k: list(v) if isinstance(v, tuple) else v for k, v in self.net.config.items()},
            **self._weights_info,
            "preprocess": f"bilinear (align_corners=False, no antialias; cv2.resize) to {self.img_size}, "
                          f"{'rounded to 8 bits, ' if self.round_input else ''}RGB, (x-0.5)/0.5",
            "postprocess": "clamp [-1,1] -> [0,1] (tensor2img rounds at save); to out_size by bilinear "
                           "align_corners=False antialias=True",
            "reference": f"{REFERENCE_REPO}@{REFERENCE_COMMIT} inference.py --aligned",
            "licence": LICENCE,
            "library": f"torch {torch.__version__}",
        }
