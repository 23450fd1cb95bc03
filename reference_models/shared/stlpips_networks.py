"""ST-LPIPS networks: the shift-tolerant AlexNet and VGG-16 of Ghildyal and Liu (ECCV 2022).

Independent implementation from the paper ("Shift-tolerant Perceptual Similarity Metric", Abhijay Ghildyal
and Feng Liu, ECCV 2022, arXiv:2207.13686) and the conventions of the official code
(``abhijay9/ShiftTolerant-LPIPS``, package ``stlpips-pytorch`` 0.0.2, variant ``shift_tolerant``, BSD-2);
no code of the package is copied.  The distance is the LPIPS v0.1 one
(:class:`reference_models.shared.lpips_networks.LPIPSNetwork`: ScalingLayer, channel-normalised features,
squared difference, 1x1 heads, spatial mean, sum over 5 layers); only the backbone changes, and it is
trained together with the heads (the released files hold the complete network).

Shift-tolerant changes to the backbone (paper Sec. 4; anti-aliasing after Zhang, ICML 2019):

* every down-sampling is a **blur-pool**: reflection padding of 2 pixels on each side, then a depthwise
  3x3 binomial filter ``[1, 2, 1]^T [1, 2, 1] / 16`` with stride 2 (output side ``floor((n + 1) / 2) + 1``);
* strided max-pools become max-pools of stride 1 followed by a blur-pool;
* AlexNet's first convolution has stride 1 (not 4) and its blur-pool comes *before* the ReLU.

Layouts (flat ``features`` indices; ``*`` = tapped, post-ReLU):

* AlexNet: 0 conv 11x11 3->64 pad 2, 1 blur, 2 ReLU*, 3 maxpool 3/1, 4 blur, 5 conv 5x5 64->192 pad 2,
  6 ReLU*, 7 maxpool 3/1, 8 blur, 9 conv 3x3 192->384, 10 ReLU*, 11 conv 384->256, 12 ReLU*,
  13 conv 256->256, 14 ReLU* (channels 64, 192, 384, 256, 256).
* VGG-16 (config D): 3x3 convolutions pad 1 + ReLU, each "M" = maxpool 2/1 then blur; taps at the last
  ReLU of blocks 1..5 (indices 3, 9, 17, 25, 33; channels 64, 128, 256, 512, 512).

The official state dict names its layers ``net.slice{k}.{i}.*`` with the flat index ``i``; they map to
``backbone.features.{i}.*`` here (:func:`from_official`), blur filters (``filt``) included, which are checked
against the binomial filter; heads ``lin{l}.model.1.weight`` -> ``lin.heads.{l}.weight``; the file's
``scaling_layer`` buffers are checked against the LPIPS constants.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from reference_models.shared.lpips_networks import (
    ALEX_CHANNELS,
    SCALE,
    SHIFT,
    VGG_CHANNELS,
    FeatureTaps,
    LPIPSNetwork,
    heads_from_official,
)

ST_ALEX_TAPS = (2, 6, 10, 12, 14)
ST_VGG16_TAPS = (3, 9, 17, 25, 33)
_VGG16_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)


def binomial_filter(channels: int) -> torch.Tensor:
    """The depthwise 3x3 binomial low-pass ``[1,2,1]^T [1,2,1] / 16``, ``[channels, 1, 3, 3]`` float32."""
    a = torch.tensor([1.0, 2.0, 1.0], dtype=torch.float32)
    k = torch.outer(a, a)
    return (k / k.sum()).expand(channels, 1, 3, 3).clone()


class BlurPool(nn.Module):
    """Reflection pad 2 on each side, depthwise binomial 3x3 filter, stride 2."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.register_buffer("filt", binomial_filter(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), self.filt, stride=2, groups=x.shape[1])


def st_alexnet_taps() -> FeatureTaps:
    """The shift-tolerant AlexNet (random init) with its 5 taps."""
    layers = [nn.Conv2d(3, 64, 11, stride=1, padding=2), BlurPool(64), nn.ReLU(),
              nn.MaxPool2d(3, stride=1), BlurPool(64), nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(),
              nn.MaxPool2d(3, stride=1), BlurPool(192), nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
              nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
              nn.Conv2d(256, 256, 3, padding=1), nn.ReLU()]
    return FeatureTaps(nn.Sequential(*layers), ST_ALEX_TAPS)


def st_vgg16_taps() -> FeatureTaps:
    """The shift-tolerant VGG-16 (random init) with its 5 taps."""
    layers: list[nn.Module] = []
    c = 3
    for v in _VGG16_CFG:
        if v == "M":
            layers += [nn.MaxPool2d(2, stride=1), BlurPool(c)]
        else:
            layers += [nn.Conv2d(c, int(v), 3, padding=1), nn.ReLU()]
            c = int(v)
    return FeatureTaps(nn.Sequential(*layers), ST_VGG16_TAPS)


def build(net: str) -> LPIPSNetwork:
    """An ST-LPIPS network for ``net`` ("alex" or "vgg"), random init."""
    if net == "alex":
        return LPIPSNetwork(st_alexnet_taps(), ALEX_CHANNELS)
    if net == "vgg":
        return LPIPSNetwork(st_vgg16_taps(), VGG_CHANNELS)
    raise ValueError(f"stlpips net must be 'alex' or 'vgg', got {net!r}")


def from_official(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The released ``{alex,vgg}_shift_tolerant.pth`` state -> this module's keys (see the module docstring).

    Raises ``ValueError`` when the scaling constants or a blur filter differ from the convention."""
    out = heads_from_official(state)
    for key, value in state.items():
        parts = key.split(".")
        if key.startswith("scaling_layer."):
            expected = torch.tensor(SHIFT if parts[1] == "shift" else SCALE, dtype=torch.float32).view(1, 3, 1, 1)
            if parts[1] not in ("shift", "scale") or not torch.equal(value, expected):
                raise ValueError(f"ST-LPIPS checkpoint: {key} differs from the LPIPS v0.1 ScalingLayer")
        elif parts[0] == "net" and parts[1].startswith("slice"):
            if parts[-1] == "filt" and not torch.allclose(value, binomial_filter(value.shape[0]), atol=0, rtol=0):
                raise ValueError(f"ST-LPIPS checkpoint: {key} is not the binomial 3x3 blur filter")
            out["backbone.features." + ".".join(parts[2:])] = value
        elif not key.startswith("lin"):
            out[key] = value  # unknown: left for the strict loader to name
    return out


__all__ = [
    "ST_ALEX_TAPS",
    "ST_VGG16_TAPS",
    "BlurPool",
    "binomial_filter",
    "build",
    "from_official",
    "st_alexnet_taps",
    "st_vgg16_taps",
]
