"""LPIPS v0.1 (Zhang et al., CVPR 2018): learned perceptual distance, AlexNet (default) or VGG-16.

Definition (paper Sec. 3 and Eq. 1; conventions of the official ``richzhang/PerceptualSimilarity`` /
``lpips`` 0.1.4, BSD-2-Clause; independent implementation in :mod:`reference_models.shared.lpips_networks`)
------------------------------------------------------------------------------------------------------------
Both images are mapped to **[-1, 1]** as the official ``lpips.im2tensor``: ``v / 127.5 - 1`` of the 8-bit
values (computed in float64, then float32), then::

    s(x)      = (x - shift) / scale,  shift = (-0.030, -0.088, -0.188), scale = (0.458, 0.448, 0.450)
    n_l(x)    = f_l(s(x)) / (||f_l(s(x))||_2 over channels + 1e-10)        (5 backbone layers l)
    LPIPS     = sum_l  mean_{h,w}  w_l . (n_l(x0) - n_l(x1))^2                (w_l: 1x1 heads, >= 0)

``f_l``: torchvision AlexNet relu1..relu5 (``net=alex``, default, as the official recommendation) or VGG-16
relu1_2..relu5_3 (``-X lpips.net=vgg``), float32, at the image's own resolution (no resize).  Version 0.1
(the official default; v0.0 had no ScalingLayer).  Lower is better; 0 for identical images; in practice
in [0, ~1] (face restorations typically 0.1-0.5).  Symmetric in its two arguments.

Weights
-------
* linear heads: ``lpips/weights/v0.1/{alex,vgg}.pth`` of the lpips 0.1.4 wheel on PyPI (BSD-2), assets
  ``lpips_alex_v0_1`` / ``lpips_vgg_v0_1``, fetched by the asset manager and sha256-checked;
* backbones: torchvision's ImageNet files ``alexnet-owt-7be5be79.pth`` / ``vgg16-397923af.pth``
  (BSD-3 code; ImageNet-trained), assets ``alexnet_imagenet`` / ``vgg16_imagenet``.  They are not reachable
  offline: without a cached copy the metric stops with the asset manager's "not available" error (URL, where
  to put the file, ``FRBENCH_ASSET_ALEXNET_IMAGENET`` / ``FRBENCH_ASSET_VGG16_IMAGENET``); it never substitutes
  another network.  ``-X lpips.backbone=PATH`` / ``-X lpips.heads=PATH`` load local files instead (any
  torchvision-layout state dict; recorded in the run identity).  Loading is ``torch.load(weights_only=True)``
  or safetensors, with strict key and shape checks.

Verification: ``tests/metrics/test_lpips.py`` compares with the ``lpips`` package given the same backbone
weights (a seeded random torchvision backbone loaded into both) and the real heads, on real faces.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch

from bench.core.types import PerImageMetric

NETS = ("alex", "vgg")
#: smallest side each backbone is defined on (the deepest tap must keep at least one pixel)
MIN_SIDES = {"alex": 31, "vgg": 16}


def to_minus1_1(images: torch.Tensor) -> torch.Tensor:
    """``[B, 3, H, W]`` uint8 (or float in [0, 1]) -> float32 in [-1, 1], as ``lpips.im2tensor``."""
    if images.dtype == torch.uint8:
        return (images.to(torch.float64) / 127.5 - 1.0).to(torch.float32)
    return (images.to(torch.float64) * 2.0 - 1.0).to(torch.float32)


def _asset_or_path(path: str | None, asset: str, role: str) -> Path:
    """A local file (noted for the run identity) or the named asset (verified and noted by the manager)."""
    if path is None:
        from bench.core.assets import AssetManager

        return AssetManager().path(asset)
    from bench.core.provenance import note_file

    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"{role} file {p} does not exist")
    note_file(p, role)
    return p


class PerceptualDistance(PerImageMetric):
    """Shared per-image machinery of ``lpips`` and ``stlpips``: lazy network, batching, [-1, 1] inputs."""

    higher_is_better: ClassVar[bool] = False
    needs_reference: ClassVar[bool] = True
    unit: ClassVar[str] = ""
    value_range = (0.0, float("inf"))

    def __init__(self, net: str = "alex", batch_size: int = 16, device: str = "cpu") -> None:
        if net not in NETS:
            raise ValueError(f"{self.name} net must be one of {', '.join(NETS)}, got {net!r}")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.net = net
        self.batch_size = int(batch_size)
        self.device = str(device)
        self._network: torch.nn.Module | None = None
        self._provenance: dict[str, Any] = {}

    def _build(self) -> torch.nn.Module:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def network(self) -> torch.nn.Module:
        if self._network is None:
            net = self._build().to(self.device).eval()
            for p in net.parameters():
                p.requires_grad_(False)
            self._network = net
        return self._network

    def prepare(self) -> None:
        self.network  # noqa: B018 - loads the weights (and notes the files for the run identity)

    def min_side(self) -> int:
        return MIN_SIDES[self.net]

    @torch.no_grad()
    def __call__(self, restored: torch.Tensor, reference: torch.Tensor | None = None) -> torch.Tensor:
        if reference is None:
            raise ValueError(f"{self.name} is a full-reference metric: it needs the reference image")
        if restored.shape != reference.shape or restored.ndim != 4 or restored.shape[1] != 3:
            raise ValueError(f"{self.name}: restored and reference must both be [B, 3, H, W], got "
                             f"{tuple(restored.shape)} and {tuple(reference.shape)}")
        if min(restored.shape[-2:]) < self.min_side():
            raise ValueError(f"{self.name} (net={self.net}) needs images of at least {self.min_side()}x"
                             f"{self.min_side()}, got {restored.shape[-2]}x{restored.shape[-1]}")
        net = self.network
        out = []
        for start in range(0, restored.shape[0], self.batch_size):
            x0 = to_minus1_1(restored[start:start + self.batch_size]).to(self.device)
            x1 = to_minus1_1(reference[start:start + self.batch_size]).to(self.device)
            out.append(net(x0, x1).to(torch.float64).cpu())
        return torch.cat(out)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["options"] = {k: v for k, v in d["options"].items() if k not in ("batch_size", "device")}
        d["provenance"] = dict(self._provenance)
        return d


class LPIPS(PerceptualDistance):
    """LPIPS v0.1 distance per image, AlexNet (default) or VGG-16; see :mod:`metrics.lpips`.

    ``LPIPS(net="alex", backbone=None, heads=None)(restored, reference) -> [B]`` float64, lower is better.
    """

    description = ("LPIPS v0.1 perceptual distance (AlexNet default, -X lpips.net=vgg), official conventions; "
                   "needs torchvision's ImageNet backbone file. Lower is better.")
    citation = ("Zhang, Isola, Efros, Shechtman, Wang, 'The Unreasonable Effectiveness of Deep Features as a "
                "Perceptual Metric', CVPR 2018; richzhang/PerceptualSimilarity (lpips 0.1.4)")
    licence = ("MIT (frbench implementation); linear heads BSD-2-Clause (lpips 0.1.4 wheel); backbones "
               "torchvision BSD-3-Clause, ImageNet-trained weights")
    name: ClassVar[str] = "lpips"
    min_size: ClassVar[int] = MIN_SIDES["alex"]

    def __init__(self, net: str = "alex", backbone: str | None = None, heads: str | None = None,
                 batch_size: int = 16, device: str = "cpu") -> None:
        super().__init__(net, batch_size, device)
        self.backbone = None if backbone is None else str(backbone)
        self.heads = None if heads is None else str(heads)

    def _build(self) -> torch.nn.Module:
        from bench.core.checkpoints import load_state_dict, load_strict
        from reference_models.shared import lpips_networks as ln

        taps = ln.alexnet_taps() if self.net == "alex" else ln.vgg16_taps()
        channels = ln.ALEX_CHANNELS if self.net == "alex" else ln.VGG_CHANNELS
        net = ln.LPIPSNetwork(taps, channels)
        heads_path = _asset_or_path(self.heads, f"lpips_{self.net}_v0_1", f"lpips-heads:{self.net}")
        backbone_path = _asset_or_path(self.backbone, "alexnet_imagenet" if self.net == "alex" else "vgg16_imagenet",
                                       f"lpips-backbone:{self.net}")
        state = ln.heads_from_official(load_state_dict(heads_path))
        state.update(ln.backbone_from_torchvision(load_state_dict(backbone_path), taps))
        load_strict(net, state, what=f"LPIPS {self.net}")
        self._provenance = {"heads": str(heads_path), "backbone": str(backbone_path), "version": "0.1"}
        return net

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["definition"] = ("LPIPS v0.1: [-1,1] inputs, ScalingLayer, unit-normalised features of 5 layers, squared "
                           "difference, 1x1 heads, spatial mean, sum over layers; float32")
        return d

    def __repr__(self) -> str:
        return f"LPIPS(net={self.net!r}, backbone={self.backbone!r}, heads={self.heads!r})"


__all__ = ["LPIPS", "MIN_SIDES", "NETS", "PerceptualDistance", "to_minus1_1"]
