"""LPIPS networks (Zhang et al., CVPR 2018): backbone feature taps, linear heads and the distance, v0.1.

Independent implementation from the paper ("The Unreasonable Effectiveness of Deep Features as a
Perceptual Metric", Zhang, Isola, Efros, Shechtman, Wang, CVPR 2018, arXiv:1801.03924) and the
conventions of the official code (``richzhang/PerceptualSimilarity``, package ``lpips`` 0.1.4, BSD-2);
no code of the package is copied.  Also the base of ST-LPIPS (:mod:`reference_models.shared.stlpips_networks`).

The distance, for two images ``x0, x1`` ``[B, 3, H, W]`` in **[-1, 1]** (float32)::

    s(x)      = (x - shift) / scale,   shift = (-0.030, -0.088, -0.188), scale = (0.458, 0.448, 0.450)
                (the official "ScalingLayer": it maps [-1, 1] approximately to ImageNet-normalised values)
    f_l(x)    = backbone activations at layer l (5 layers), [B, C_l, H_l, W_l]
    n_l(x)    = f_l(x) / (sqrt(sum_c f_l(x)^2) + 1e-10)          (unit norm along channels, per pixel)
    d(x0, x1) = sum_l mean_{h,w}  w_l . (n_l(x0) - n_l(x1))^2     (w_l >= 0: 1x1 conv, no bias, 1 output)

Backbones (torchvision layouts, post-ReLU taps): AlexNet ``features`` indices 1, 4, 7, 9, 11 (relu1..relu5;
channels 64, 192, 384, 256, 256) and VGG-16 ``features`` indices 3, 8, 15, 22, 29 (relu1_2, relu2_2,
relu3_3, relu4_3, relu5_3; channels 64, 128, 256, 512, 512).  Weights: torchvision's ImageNet files
(assets ``alexnet_imagenet`` / ``vgg16_imagenet``), the heads from the lpips wheel (``lpips_*_v0_1``).
Official head keys ``lin{l}.model.1.weight`` map to ``heads.{l}.weight`` here (:func:`heads_from_official`).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

#: ScalingLayer constants of LPIPS v0.1 (float32 as in the official buffers)
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
EPS = 1e-10

ALEX_CHANNELS = (64, 192, 384, 256, 256)
VGG_CHANNELS = (64, 128, 256, 512, 512)
ALEX_TAPS = (1, 4, 7, 9, 11)
VGG16_TAPS = (3, 8, 15, 22, 29)


class ScalingLayer(nn.Module):
    """``(x - shift) / scale`` per RGB channel (the LPIPS v0.1 input normalisation)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("shift", torch.tensor(SHIFT, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(SCALE, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.shift) / self.scale


class FeatureTaps(nn.Module):
    """A sequential feature extractor returning the activations after the layers at ``taps``."""

    def __init__(self, features: nn.Sequential, taps: Sequence[int]) -> None:
        super().__init__()
        self.features = features[: max(taps) + 1]
        self.taps = tuple(int(t) for t in taps)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.taps:
                out.append(x)
        return out


def _no_inplace(features: nn.Sequential) -> nn.Sequential:
    for i, layer in enumerate(features):
        if isinstance(layer, nn.ReLU):
            features[i] = nn.ReLU(inplace=False)  # taps must not be overwritten by a later in-place op
    return features


def _features_only(factory) -> nn.Sequential:
    """``factory(weights=None).features`` with UNINITIALISED parameters (built on the meta device, so the
    classifier is never allocated): the caller must load every parameter (strictly) before use."""
    with torch.device("meta"):
        features = factory(weights=None).features
    return _no_inplace(features.to_empty(device="cpu"))


def alexnet_taps() -> FeatureTaps:
    """torchvision AlexNet ``features`` with the LPIPS taps relu1..relu5 (parameters to be loaded)."""
    from torchvision.models import alexnet

    return FeatureTaps(_features_only(alexnet), ALEX_TAPS)


def vgg16_taps() -> FeatureTaps:
    """torchvision VGG-16 ``features`` with the LPIPS taps relu1_2..relu5_3 (parameters to be loaded)."""
    from torchvision.models import vgg16

    return FeatureTaps(_features_only(vgg16), VGG16_TAPS)


class LinearHeads(nn.Module):
    """One 1x1 convolution without bias per layer, ``C_l -> 1``."""

    def __init__(self, channels: Sequence[int]) -> None:
        super().__init__()
        self.heads = nn.ModuleList(nn.Conv2d(c, 1, kernel_size=1, bias=False) for c in channels)


def channel_normalise(f: torch.Tensor) -> torch.Tensor:
    """``f / (||f||_2 over channels + 1e-10)``, per pixel."""
    return f / (f.square().sum(dim=1, keepdim=True).sqrt() + EPS)


class LPIPSNetwork(nn.Module):
    """Scaling layer + backbone taps + linear heads; ``forward(x0, x1) -> [B]`` (images in [-1, 1])."""

    def __init__(self, backbone: FeatureTaps, channels: Sequence[int]) -> None:
        super().__init__()
        self.scaling = ScalingLayer()
        self.backbone = backbone
        self.lin = LinearHeads(channels)

    def layer_distances(self, x0: torch.Tensor, x1: torch.Tensor) -> list[torch.Tensor]:
        """Per-layer terms ``mean_hw w_l . (n_l(x0) - n_l(x1))^2``, each ``[B]``."""
        b = x0.shape[0]
        feats = self.backbone(self.scaling(torch.cat([x0, x1], dim=0)))  # one pass for both images
        out = []
        for f, head in zip(feats, self.lin.heads):
            n = channel_normalise(f)
            out.append(head((n[:b] - n[b:]).square()).mean(dim=(1, 2, 3)))
        return out

    def forward(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        terms = self.layer_distances(x0, x1)
        total = terms[0]
        for t in terms[1:]:
            total = total + t
        return total


def heads_from_official(state: Mapping[str, torch.Tensor], prefix: str = "lin.") -> dict[str, torch.Tensor]:
    """Official ``lin{l}.model.1.weight`` keys -> ``{prefix}heads.{l}.weight`` (other keys dropped)."""
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if len(parts) == 4 and parts[0].startswith("lin") and parts[1:] == ["model", "1", "weight"]:
            out[f"{prefix}heads.{int(parts[0][3:])}.weight"] = value
    return out


def backbone_from_torchvision(state: Mapping[str, torch.Tensor], taps: FeatureTaps,
                              prefix: str = "backbone.") -> dict[str, torch.Tensor]:
    """torchvision ``features.{i}.*`` keys (a full classifier checkpoint) -> ``{prefix}features.{i}.*``,
    keeping only the layers up to the last tap (the classifier and later layers are dropped)."""
    keep = {f"features.{k}" for k in taps.features.state_dict()}
    return {prefix + k: v for k, v in state.items() if k in keep}


__all__ = [
    "ALEX_CHANNELS",
    "ALEX_TAPS",
    "EPS",
    "SCALE",
    "SHIFT",
    "VGG16_TAPS",
    "VGG_CHANNELS",
    "FeatureTaps",
    "LPIPSNetwork",
    "LinearHeads",
    "ScalingLayer",
    "alexnet_taps",
    "backbone_from_torchvision",
    "channel_normalise",
    "heads_from_official",
    "vgg16_taps",
]
