"""ST-LPIPS: shift-tolerant LPIPS (Ghildyal and Liu, ECCV 2022), AlexNet (default) or VGG-16.

Definition (paper Sec. 4-5; conventions of the official ``abhijay9/ShiftTolerant-LPIPS`` / ``stlpips-pytorch``
0.0.2, variant ``shift_tolerant``, BSD-2-Clause; independent implementation in
:mod:`reference_models.shared.stlpips_networks`)
--------------------------------------------------------------------------------------------------------------
The LPIPS v0.1 distance (:mod:`metrics.lpips`: images in [-1, 1] as ``v / 127.5 - 1``, ScalingLayer
``(x - shift) / scale`` with shift = (-0.030, -0.088, -0.188), scale = (0.458, 0.448, 0.450), features
unit-normalised along channels (+1e-10), squared difference, 1x1 heads, spatial mean, sum over 5 layers) on
a **shift-tolerant backbone**: every down-sampling is an anti-aliasing blur-pool (reflection padding 2,
binomial 3x3 filter, stride 2), strided max-pools are stride-1 max-pools followed by a blur-pool, and
AlexNet's first convolution has stride 1 with the blur before the ReLU.  Backbone and heads were trained
together on BAPPS by the authors, so a small sub-pixel shift of one image barely changes the distance
(unlike LPIPS), which matters for restorations that are slightly misaligned with their HQ.

Lower is better; 0 for identical images; in practice in [0, ~1].  Float32, at the image's own resolution.

Weights: the complete released networks ``weights/vST0.0/{alex,vgg}_shift_tolerant.pth`` of the
stlpips-pytorch 0.0.2 wheel (BSD-2), assets ``stlpips_alex_shift_tolerant`` / ``stlpips_vgg_shift_tolerant``,
fetched from PyPI by the asset manager (sha256-checked), loaded with ``torch.load(weights_only=True)`` and
strict key/shape checks; their blur filters and scaling constants are checked against the convention.
``-X stlpips.weights=PATH`` loads a local file of the same layout instead.

Verification: ``tests/metrics/test_stlpips.py`` compares with the ``stlpips-pytorch`` package on real faces.
"""
from __future__ import annotations

from typing import Any, ClassVar

import torch

from metrics.lpips import PerceptualDistance, _asset_or_path

#: smallest side each shift-tolerant backbone is defined on (the deepest tap keeps one pixel and every
#: reflection padding of 2 has at least 3 pixels to reflect)
ST_MIN_SIDES = {"alex": 21, "vgg": 18}


class STLPIPS(PerceptualDistance):
    """ST-LPIPS distance per image, AlexNet (default) or VGG-16; see :mod:`metrics.stlpips`.

    ``STLPIPS(net="alex", weights=None)(restored, reference) -> [B]`` float64, lower is better.
    """

    description = ("ST-LPIPS shift-tolerant perceptual distance (AlexNet default, -X stlpips.net=vgg), released "
                   "weights from PyPI. Lower is better.")
    citation = ("Ghildyal and Liu, 'Shift-tolerant Perceptual Similarity Metric', ECCV 2022; "
                "abhijay9/ShiftTolerant-LPIPS (stlpips-pytorch 0.0.2, variant shift_tolerant)")
    licence = "MIT (frbench implementation); weights BSD-2-Clause (stlpips-pytorch 0.0.2 wheel)"
    name: ClassVar[str] = "stlpips"
    min_size: ClassVar[int] = ST_MIN_SIDES["alex"]

    def __init__(self, net: str = "alex", weights: str | None = None, batch_size: int = 16,
                 device: str = "cpu") -> None:
        super().__init__(net, batch_size, device)
        self.weights = None if weights is None else str(weights)

    def min_side(self) -> int:
        return ST_MIN_SIDES[self.net]

    def _build(self) -> torch.nn.Module:
        from bench.core.checkpoints import load_state_dict, load_strict
        from reference_models.shared import stlpips_networks as sn

        net = sn.build(self.net)
        path = _asset_or_path(self.weights, f"stlpips_{self.net}_shift_tolerant", f"stlpips:{self.net}")
        load_strict(net, sn.from_official(load_state_dict(path)), what=f"ST-LPIPS {self.net}")
        self._provenance = {"weights": str(path), "variant": "shift_tolerant", "version": "ST0.0"}
        return net

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["definition"] = ("ST-LPIPS (shift_tolerant): LPIPS v0.1 distance on the anti-aliased backbone "
                           "(reflect-pad 2, binomial 3x3 blur-pool stride 2); float32")
        return d

    def __repr__(self) -> str:
        return f"STLPIPS(net={self.net!r}, weights={self.weights!r})"

__all__ = ["STLPIPS", "ST_MIN_SIDES"]
