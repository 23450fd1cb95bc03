"""Interpolation baselines: upsample the LQ face to the HQ size.

These are the "Bilinear" row of the DebiasFR tables (``docs/protocols/evaluation.md`` §4) and the
classic bicubic reference of super-resolution papers.  Both use ``torch.nn.functional.interpolate``
with ``align_corners=False`` (pixel centres aligned, the convention of PIL, OpenCV and MATLAB);
bicubic uses torch's cubic convolution with a = -0.75 and is clamped to ``[0, 1]`` because cubic
interpolation overshoots.  No attributes are used.  Input and output: ``[B, 3, H, W]`` float in
``[0, 1]``.  Without an HQ size (captured-LQ datasets) the output is ``size x size`` (default 512).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from bench.core.types import Attributes


class _Interpolation:
    citation = "torch.nn.functional.interpolate (align_corners=False; bicubic: Keys cubic convolution a=-0.75)"
    licence = "MIT (frbench; torch BSD-3-Clause)"
    mode: str = "bilinear"
    uses_attributes = False

    def __init__(self, device: str = "cpu", size: int = 512) -> None:
        self.device = torch.device(device)
        #: output side length used when no HQ size is given (captured-LQ datasets): the 512x512 of
        #: the face-restoration protocols (docs/protocols/evaluation.md §5)
        self.size = int(size)

    @property
    def name(self) -> str:
        return self.mode

    @torch.no_grad()
    def restore(self, lq: torch.Tensor, attributes: Sequence[Attributes] | None = None,
                out_size: tuple[int, int] | None = None) -> torch.Tensor:
        if out_size is None:
            out_size = (self.size, self.size)
        lq = lq.to(self.device, torch.float32)
        if tuple(lq.shape[-2:]) == tuple(out_size):
            return lq.clone()
        out = F.interpolate(lq, size=tuple(out_size), mode=self.mode, align_corners=False)
        return out.clamp_(0.0, 1.0)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "mode": self.mode, "align_corners": False, "size_without_hq": self.size,
                "library": f"torch {torch.__version__}"}


class Bilinear(_Interpolation):
    """Bilinear upsampling of the LQ to the HQ size (torch, align_corners=False)."""
    description = "Bilinear upsampling of the LQ to the HQ size (torch, align_corners=False, no antialias)."

    mode = "bilinear"


class Bicubic(_Interpolation):
    """Bicubic upsampling of the LQ to the HQ size (torch cubic convolution a=-0.75, clamped to [0, 1])."""
    description = "Bicubic upsampling of the LQ to the HQ size (torch, a=-0.75, align_corners=False, clamped)."

    mode = "bicubic"
