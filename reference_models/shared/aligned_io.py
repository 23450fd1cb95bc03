"""Pre- and post-processing shared by the 512-px face restoration networks (aligned faces).

The official ``--has_aligned`` paths of CodeFormer, GFPGAN and GPEN all resize the aligned face to the
network size with ``cv2.resize(INTER_LINEAR)`` on the 8-bit image (bilinear, ``align_corners=False``,
no antialias, result 8-bit) and normalise to ``[-1, 1]``; the suite compares outputs at the HQ size,
reached by an antialiased bilinear resize (an area-like reduction when the HQ is smaller).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def to_network_input(lq: torch.Tensor, size: int, device: torch.device, round_input: bool = True) -> torch.Tensor:
    """``[B, 3, h, w]`` in ``[0, 1]`` -> ``[B, 3, size, size]`` in ``[0, 1]`` on ``device`` (8-bit rounded after a resize)."""
    if lq.ndim != 4 or lq.shape[1] != 3:
        raise ValueError(f"expected an RGB batch [B, 3, h, w], got {tuple(lq.shape)}")
    x = lq.to(device, torch.float32)
    if tuple(x.shape[-2:]) != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=False)
        if round_input:
            x = torch.round(x.clamp(0.0, 1.0) * 255.0) / 255.0
    return x


def to_output_size(out01: torch.Tensor, out_size: tuple[int, int] | None) -> torch.Tensor:
    """Network output in ``[0, 1]`` resized to ``out_size`` (antialiased bilinear) when given, clamped."""
    if out_size is not None and tuple(out_size) != tuple(out01.shape[-2:]):
        out01 = F.interpolate(out01, size=tuple(out_size), mode="bilinear", align_corners=False, antialias=True)
    return out01.clamp(0.0, 1.0)
