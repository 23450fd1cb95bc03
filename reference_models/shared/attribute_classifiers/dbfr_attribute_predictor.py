"""DebiasFR's low-resolution attribute predictor (``Attribute_predictor.pth``, "LRpredictor"), ported.

Architecture (``docs/protocols/debiasfr.md`` §3.1;
written from that description, key names follow the official checkpoint's state dict exactly):

* ``encoder``: ResNet-34 layout written from scratch: ``conv1`` = Conv2d(3, 64, 7, s2, p3, *bias*) + BN +
  ReLU, then MaxPool(3, s2, p1); ``layer0..layer3`` = 3, 4, 6, 3 residual blocks of width 64, 128, 256,
  512; first block of layer1-3 has stride 2 and ``downsample`` = Conv1x1(s2, bias) + BN.  Each block:
  ``conv1`` = Conv3x3(bias)+BN+ReLU, ``conv2`` = Conv3x3(bias)+BN, ``relu(conv2(conv1(x)) + shortcut)``.
  ``avgpool`` = AvgPool2d(7, stride 1) on the 8x8 map -> 2x2 x 512 = 2048 features, flattened
  channel-major: the input must be 256x256.
* heads: ``ageclassifier.model`` = Linear(2048, 256), LeakyReLU(0.2), Linear(256, 10);
  ``genderclassifier.model`` the same with 2 outputs; logits (no softmax).

Input: RGB in [-1, 1], 256x256.  DebiasFR inference resizes the LQ image with bilinear
(``align_corners=False``, no antialias), the training code with nearest: :func:`preprocess` does either.

Weights: the official checkpoint (``torch.load(path)['model_state_dict']``, strict) is the asset
``debiasfr_attribute_predictor`` (GitHub release, not reachable offline: a clear error says how to
provide it).  :func:`load_dbfr_state_dict` reports missing / unexpected keys and shape mismatches
against the manifest of the official keys.  The golden test checks the port with hashinit-v1 weights.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from bench.core.checkpoints import StateDictMismatchError, load_strict  # noqa: F401 (re-exported)
from reference_models.shared.attribute_classifiers.base import AttributeClassifier, AttributePrediction, N_AGE_BINS


def _conv_bn(cin: int, cout: int, k: int, stride: int, pad: int, relu: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, pad, bias=True), nn.BatchNorm2d(cout)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class ResidualBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1, downsample: bool = False) -> None:
        super().__init__()
        self.conv1 = _conv_bn(cin, cout, 3, stride, 1, relu=True)
        self.conv2 = _conv_bn(cout, cout, 3, 1, 1, relu=False)
        self.downsample = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=True), nn.BatchNorm2d(cout))
                           if downsample else None)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(self.conv2(self.conv1(x)) + shortcut)


class ResNet34Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = _conv_bn(3, 64, 7, 2, 3, relu=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        widths, depths = (64, 128, 256, 512), (3, 4, 6, 3)
        cin = 64
        for i, (w, d) in enumerate(zip(widths, depths)):
            stride = 1 if i == 0 else 2
            blocks = [ResidualBlock(cin, w, stride, downsample=i > 0)]
            blocks += [ResidualBlock(w, w) for _ in range(d - 1)]
            setattr(self, f"layer{i}", nn.Sequential(*blocks))
            cin = w
        self.avgpool = nn.AvgPool2d(7, stride=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (256, 256):
            raise ValueError(f"the DebiasFR attribute predictor needs 256x256 inputs, got {tuple(x.shape[-2:])}")
        x = self.maxpool(self.conv1(x))
        for i in range(4):
            x = getattr(self, f"layer{i}")(x)
        return torch.flatten(self.avgpool(x), 1)


class _MLP(nn.Module):
    def __init__(self, n_out: int) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Linear(2048, 256), nn.LeakyReLU(0.2), nn.Linear(256, n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class ImageClassifier(nn.Module):
    """``age_logits [B, 10], gender_logits [B, 2] = model(x)``, x RGB [-1, 1] 256x256."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = ResNet34Encoder()
        self.ageclassifier = _MLP(N_AGE_BINS)
        self.genderclassifier = _MLP(2)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.encoder(x)
        return self.ageclassifier(f), self.genderclassifier(f)


def load_dbfr_state_dict(model: nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    """Strict load that names every missing / unexpected key and every shape mismatch."""
    load_strict(model, state, "DebiasFR attribute predictor")


def preprocess(images_u8: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """``uint8 [B, 3, H, W]`` RGB -> float ``[B, 3, 256, 256]`` in [-1, 1] (DebiasFR inference: bilinear)."""
    x = images_u8.float() / 255.0
    if x.shape[-2:] != (256, 256):
        if mode == "bilinear":
            x = F.interpolate(x, size=(256, 256), mode="bilinear", align_corners=False)
        elif mode == "nearest":
            x = F.interpolate(x, size=(256, 256), mode="nearest")
        else:
            raise ValueError("mode must be 'bilinear' (DebiasFR inference) or 'nearest' (its training code)")
    return 2.0 * (x - 0.5)


class DBFRAttributeClassifier(AttributeClassifier):
    """Backend ``dbfr``: age bin (argmax of 10 logits) and gender from the DebiasFR LR predictor."""

    name = "dbfr"
    predicts_age_years = False
    evaluator = "DebiasFR LR attribute predictor (ResNet-34, official Attribute_predictor.pth)"

    def __init__(self, weights=None, resize: str = "bilinear", device: str = "cpu", batch: int = 16,
                 manager=None) -> None:
        from bench.core.assets import AssetManager
        from bench.core.checkpoints import load_state_dict
        from bench.core.provenance import file_sha256

        path = weights or (manager or AssetManager()).path("debiasfr_attribute_predictor")
        self.model = ImageClassifier().eval().to(device)
        load_dbfr_state_dict(self.model, load_state_dict(path, key="model_state_dict"))
        self._sha = file_sha256(path)
        self.resize, self.device, self.batch = resize, device, int(batch)

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "weights_sha256": self._sha, "resize": self.resize, "version": 1}

    @torch.no_grad()
    def _predict_list(self, images):
        out = AttributePrediction.empty(len(images), status=0)
        for start in range(0, len(images), self.batch):
            chunk = images[start:start + self.batch]
            x = torch.cat([preprocess(torch.from_numpy(im).permute(2, 0, 1)[None], self.resize) for im in chunk])
            age, gender = self.model(x.to(self.device))
            pa, pg = age.softmax(1).double().cpu().numpy(), gender.softmax(1).double().cpu().numpy()
            sl = slice(start, start + len(chunk))
            out.age_bin_probs[sl] = pa
            out.age_bin[sl] = pa.argmax(1)
            out.gender[sl] = pg.argmax(1)
            out.p_male[sl] = pg[:, 1]
            out.n_faces[sl] = 1
        return out
