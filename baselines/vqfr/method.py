"""VQFR v2 as an frbench method (``vqfr``): the official ``demo.py --aligned`` inference path.

Pipeline (``demo.py`` + ``vqfr/demo_util.py`` at TencentARC/VQFR ``239c77a``, aligned faces):

1. the LQ face ``[B, 3, h, w]`` float RGB in ``[0, 1]`` is resized to 512 x 512 (the network size,
   ``spatial_size * 2**(levels-1)``) with bilinear interpolation, ``align_corners=False`` and **no
   antialias** - the semantics of the official ``cv2.resize(img, (512, 512))`` (``INTER_LINEAR``) on the
   8-bit image; the result is rounded to 8 bits (``round_input=True``, the default).  cv2's fixed-point
   arithmetic differs from this by one grey level (never more) on 9-12 % of the pixels (measured on real
   faces from 16-1024 px to 512: ``tests/baselines/test_resize_agreement.py``).
2. ``(x - 0.5) / 0.5`` -> RGB in ``[-1, 1]`` (the official code reads BGR, converts to RGB and
   normalises with mean 0.5 / std 0.5: the same tensor); ``net(x, fidelity_ratio=f)['main_dec']``.
3. output clamped to ``[-1, 1]`` and mapped to ``[0, 1]`` (``(x + 1) / 2``).  The official demo then
   converts to BGR and rounds to ``uint8``; here the float RGB image is returned and the harness
   quantises where it saves.
4. when ``out_size`` (the HQ size of the protocol) differs from 512 the result is resized to it with an
   antialiased bilinear resize (:func:`reference_models.shared.aligned_io.to_output_size`), as for the other baselines.

No attributes are used.  No face detection, alignment, parsing-mask paste-back or RealESRGAN background
(GPU only in the demo): the suite's datasets are aligned crops.  The official demo returns the crop
unchanged when the network raises a ``RuntimeError``; here errors propagate to the harness, which
records them per image.

Options: ``f`` fidelity ratio in ``[0, 1]`` (default 0.0 = the ``demo.py`` default, i.e. the texture
branch only; the README example uses 0.1; higher = more faithful to the input), ``weights`` (a local
``VQFR_v2.pth`` / ``.safetensors``; by default the ``vqfr_v2`` asset of :class:`bench.core.assets.AssetManager`,
which explains how to stage the file when offline; ``"random"`` builds a seeded random network with the
official initialisation, for smoke tests only), ``device``, ``config`` (architecture overrides, for
reduced test networks; ``img_size`` follows from them), ``seed`` (for ``weights="random"``),
``deform`` (``"torchvision"``, the official path, or ``"torch"``, the plain-torch deformable conv).
Only VQFR **v2** is provided: ``VQFR_v1-33a1fac5.pth`` (the paper model) has a different architecture.

Licence: Apache License 2.0 for the official code and weights (third-party components listed in the
repository's LICENSE carry their own licences).  Paper: Gu, Wang, Xie, Dong, Li, Shan, Cheng, *VQFR: Blind
Face Restoration with Vector-Quantized Dictionary and Parallel Decoder*, ECCV 2022.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from bench.core.types import Attributes

from reference_models.shared.aligned_io import to_network_input, to_output_size
from bench.core.checkpoints import load_network
from baselines.vqfr.arch import (
    LICENCE,
    PRODUCTION_CONFIG,
    REFERENCE_COMMIT,
    REFERENCE_REPO,
    VQFRv2,
    load_vqfr_weights,
)

#: the sub-dicts of a checkpoint that may hold the weights, in the demo's order of preference
CHECKPOINT_KEYS = ("params_ema", "params")
#: the asset of the released v2 model
ASSET = "vqfr_v2"


def _merged_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    cfg = copy.deepcopy(PRODUCTION_CONFIG)
    for key, value in dict(config or {}).items():
        if key in ("align_opt", "quantizer_opt") and isinstance(value, Mapping):
            cfg[key] = {**cfg[key], **dict(value)}
        else:
            cfg[key] = value
    unknown = sorted(set(cfg) - set(PRODUCTION_CONFIG))
    if unknown:
        raise ValueError(f"unknown VQFR config keys {unknown}; known: {sorted(PRODUCTION_CONFIG)}")
    return cfg


def load_vqfr(weights: str | Path | None = None, config: Mapping[str, Any] | None = None,
              device: str | torch.device = "cpu", seed: int = 0) -> tuple[VQFRv2, dict[str, Any]]:
    """Build the network and load its weights strictly; returns ``(net in eval mode, provenance dict)``.

    ``weights``: a checkpoint path (a dict with ``params_ema`` or ``params`` as released, or a flat state
    dict), ``None`` for the ``vqfr_v2`` asset, or ``"random"`` for a seeded random initialisation (tests).
    """
    cfg = _merged_config(config)
    return load_network(lambda: VQFRv2(**cfg), weights, ASSET, CHECKPOINT_KEYS, load_vqfr_weights,
                        device=device, seed=seed)


class VQFRMethod:
    """VQFR v2 restoration of aligned faces (official ``demo.py --aligned`` path); see the module docstring."""
    expects_alignment = "ffhq"  # official aligned mode: FFHQ-aligned 512 faces (bench.data.framing)
    description = "VQFR v2 (ECCV'22; aligned 512, fidelity -M f=0.0; weights -M weights=PATH; Apache-2.0)."
    citation = ("Gu, Wang, Xie, Dong, Li, Shan, Cheng, VQFR: Blind Face Restoration with Vector-Quantized "
                "Dictionary and Parallel Decoder, ECCV 2022; "
                f"{REFERENCE_REPO}@{REFERENCE_COMMIT}")
    licence = LICENCE

    uses_attributes = False

    def __init__(self, f: float = 0.0, weights: str | Path | None = None, device: str = "cpu",
                 config: Mapping[str, Any] | None = None, seed: int = 0, round_input: bool = True,
                 deform: str = "torchvision") -> None:
        f = float(f)
        if not 0.0 <= f <= 1.0:
            raise ValueError(f"VQFR fidelity ratio f must be in [0, 1], got {f}")
        self.f = f
        self.device = torch.device(device)
        self.round_input = bool(round_input)
        self.net, self._weights_info = load_vqfr(weights, config, self.device, seed)
        self.net.set_deform_backend(deform)
        self.deform = deform
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.img_size = self.net.img_size

    @property
    def name(self) -> str:
        return "vqfr-v2" if self.f == 0.0 else f"vqfr-v2-f{self.f:g}"

    @torch.no_grad()
    def restore(self, lq: torch.Tensor, attributes: Sequence[Attributes] | None = None,
                out_size: tuple[int, int] | None = None) -> torch.Tensor:
        x = to_network_input(lq, self.img_size, self.device, self.round_input)
        out = self.net((x - 0.5) / 0.5, fidelity_ratio=self.f)["main_dec"]
        out = (out.clamp(-1.0, 1.0) + 1.0) / 2.0
        return to_output_size(out, out_size)

    def describe(self) -> dict[str, Any]:
        def plain(v: Any) -> Any:
            if isinstance(v, tuple):
                return [plain(i) for i in v]
            if isinstance(v, dict):
                return {k: plain(i) for k, i in v.items()}
            return v

        return {
            "name": self.name,
            "version": "2",
            "fidelity_ratio": self.f,
            "config": plain(self.net.config),
            **self._weights_info,
            "deformable_conv": ("torchvision.ops.deform_conv2d" if self.deform == "torchvision"
                                else "plain torch (grid_sample)"),
            "preprocess": f"bilinear (align_corners=False, no antialias; cv2 INTER_LINEAR) to {self.img_size}, "
                          f"{'rounded to 8 bits, ' if self.round_input else ''}(x-0.5)/0.5, RGB",
            "postprocess": "main_dec clamp [-1,1] -> [0,1]; to out_size by bilinear align_corners=False antialias=True",
            "reference": f"{REFERENCE_REPO}@{REFERENCE_COMMIT} demo.py --aligned (VQFRv2)",
            "licence": LICENCE,
            "library": f"torch {torch.__version__}",
        }
