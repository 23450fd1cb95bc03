"""CodeFormer as an frbench method (``codeformer``): the official ``--has_aligned`` inference path.

Pipeline (``inference_codeformer.py`` at sczhou/CodeFormer ``b33cc7d``, aligned faces):

1. the LQ face ``[B, 3, h, w]`` float RGB in ``[0, 1]`` is resized to ``img_size x img_size`` (512 for the
   released model) with bilinear interpolation, ``align_corners=False`` and **no antialias** - the
   semantics of ``cv2.resize(..., INTER_LINEAR)`` used by the official script.  The official script
   resizes ``uint8`` images, so the result is rounded to 8 bits (``round_input=True``, the default);
   cv2's fixed-point arithmetic differs from this by one grey level (never more) on 9-12 % of the pixels
   (measured on real faces from 16-1024 px to 512: ``tests/baselines/test_resize_agreement.py``).
2. ``(x - 0.5) / 0.5`` -> RGB in ``[-1, 1]``; ``net(x, w=w, adain=True)``.
3. output clamped to ``[-1, 1]`` and mapped to ``[0, 1]`` (``(x + 1) / 2``).  The official script then
   rounds to ``uint8``; here the float image is returned and the harness quantises where it saves.
   **Grey inputs** (``grey_input=True``, default, as official): an input whose channel differences have a
   mean variance <= 10 (``is_gray(img, threshold=10)`` on the 8-bit 512-px input) gets a grey restoration
   with the input's per-channel mean and standard deviation (``add_restored_face``: ``bgr2gray`` +
   ``adain_npy``; maths in :mod:`baselines.codeformer.grey`).  ``grey_input=False`` turns the step off.
4. when ``out_size`` (the HQ size of the protocol) differs from ``img_size``, the ``img_size`` result is
   resized to ``out_size`` with ``F.interpolate(mode="bilinear", align_corners=False, antialias=True)``:
   an antialiased (triangle-filter, PIL ``BILINEAR``-like) reduction when the HQ is smaller than 512, so
   the comparison at the HQ size is not aliased; plain bilinear when it is larger.  Without
   ``out_size`` (captured-LQ datasets) the ``img_size`` output is returned.

No attributes are used.  No face detection, alignment or paste-back: the suite's datasets are aligned
crops (the CodeFormer README asks comparisons on aligned faces to use ``--has_aligned``).

Options: ``w`` fidelity weight in ``[0, 1]`` (default 0.5; higher = more faithful to the input; the
[SUITE] protocol reports 0.5 and 1.0), ``weights`` (a local ``codeformer.pth`` / ``.safetensors``; by
default the ``codeformer`` asset of :class:`bench.core.assets.AssetManager`, which explains how to stage the
file when offline; ``"random"`` builds a seeded random network for smoke tests only), ``device``,
``config`` (architecture overrides, for reduced test networks), ``seed`` (for ``weights="random"``).

Licence: the released weights and the official code are under the NTU S-Lab License 1.0
(non-commercial use only).  Paper: Zhou, Chan, Li, Loy, *Towards Robust Blind Face Restoration with
Codebook Lookup Transformer*, NeurIPS 2022.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from bench.core.types import Attributes

from reference_models.shared.aligned_io import to_network_input, to_output_size
from bench.core.checkpoints import load_network
from baselines.codeformer.grey import apply_grey_step
from baselines.codeformer.arch import (
    LICENCE,
    PRODUCTION_CONFIG,
    REFERENCE_COMMIT,
    REFERENCE_REPO,
    CodeFormer,
    load_codeformer_weights,
)

#: the sub-dicts of a checkpoint that may hold the weights, in order of preference (official: params_ema)
CHECKPOINT_KEYS = ("params_ema",)


def load_codeformer(weights: str | Path | None = None, config: Mapping[str, Any] | None = None,
                    device: str | torch.device = "cpu", seed: int = 0) -> tuple[CodeFormer, dict[str, Any]]:
    """Build the network and load its weights strictly; returns ``(net in eval mode, provenance dict)``.

    ``weights``: a checkpoint path (a dict with ``params_ema`` as released, or a flat state dict), ``None``
    for the ``codeformer`` asset, or ``"random"`` for a seeded random initialisation (tests only).
    """
    cfg = dict(PRODUCTION_CONFIG)
    cfg.update(dict(config or {}))
    return load_network(lambda: CodeFormer(**cfg), weights, "codeformer", CHECKPOINT_KEYS, load_codeformer_weights,
                        device=device, seed=seed)


class CodeFormerMethod:
    """CodeFormer restoration of aligned faces (official ``--has_aligned`` path); see the module docstring."""
    expects_alignment = "ffhq"  # official aligned mode: FFHQ-aligned 512 faces (bench.data.framing)
    description = (
        "CodeFormer (NeurIPS'22; aligned 512, fidelity -M w=0.5; weights -M weights=PATH; NTU S-Lab 1.0 "
        "NC)."
    )
    citation = ("Zhou, Chan, Li, Loy, Towards Robust Blind Face Restoration with Codebook Lookup Transformer, "
                "NeurIPS 2022; "
                f"{REFERENCE_REPO}@{REFERENCE_COMMIT}")
    licence = LICENCE

    uses_attributes = False

    def __init__(self, w: float = 0.5, weights: str | Path | None = None, device: str = "cpu",
                 config: Mapping[str, Any] | None = None, seed: int = 0, round_input: bool = True,
                 adain: bool = True, grey_input: bool = True) -> None:
        w = float(w)
        if not 0.0 <= w <= 1.0:
            raise ValueError(f"CodeFormer fidelity weight w must be in [0, 1], got {w}")
        self.w = w
        self.device = torch.device(device)
        self.round_input = bool(round_input)
        self.adain = bool(adain)
        self.grey_input = bool(grey_input)
        #: inputs the grey step turned grey so far (official ``is_gray``)
        self.grey_inputs = 0
        self.net, self._weights_info = load_codeformer(weights, config, self.device, seed)
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.img_size = self.net.img_size

    @property
    def name(self) -> str:
        return "codeformer" if self.w == 0.5 else f"codeformer-w{self.w:g}"

    @torch.no_grad()
    def restore(self, lq: torch.Tensor, attributes: Sequence[Attributes] | None = None,
                out_size: tuple[int, int] | None = None) -> torch.Tensor:
        x01 = to_network_input(lq, self.img_size, self.device, self.round_input)
        out = self.net((x01 - 0.5) / 0.5, w=self.w, adain=self.adain)[0]
        out = (out.clamp(-1.0, 1.0) + 1.0) / 2.0
        if self.grey_input:
            out, grey = apply_grey_step(out, x01)
            self.grey_inputs += int(grey.sum())
        return to_output_size(out, out_size)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "w": self.w,
            "adain": self.adain,
            "config": {k: list(v) if isinstance(v, tuple) else v for k, v in self.net.config.items()},
            **self._weights_info,
            "preprocess": f"bilinear (align_corners=False, no antialias; cv2 INTER_LINEAR) to {self.img_size}, "
                          f"{'rounded to 8 bits, ' if self.round_input else ''}(x-0.5)/0.5",
            "postprocess": "clamp [-1,1] -> [0,1]; " + (
                "grey inputs (is_gray threshold 10) -> bgr2gray + adain_npy to the input (official); "
                if self.grey_input else "") + "to out_size by bilinear align_corners=False antialias=True",
            "grey_input": self.grey_input,
            "reference": f"{REFERENCE_REPO}@{REFERENCE_COMMIT} inference_codeformer.py --has_aligned",
            "licence": LICENCE,
            "library": f"torch {torch.__version__}",
        }
