"""LPIPS v0.1 (metrics.lpips) against the official ``lpips`` 0.1.4 package, on real faces.

The ImageNet backbones (torchvision URLs) cannot be downloaded here, so the equality test gives both
implementations the SAME backbone weights (a seeded random torchvision AlexNet / VGG-16, saved to a file and
passed as ``backbone=``; the package is built with ``pnet_rand=True`` and the same weights copied in) and the
REAL v0.1 linear heads (asset from the lpips wheel, sha256-checked).  The official TID2013 values of
``../shared/data/iqa-calibration`` are compared only where the real AlexNet file is in the asset cache.
"""
from __future__ import annotations

import copy
import os

import numpy as np
import pytest
import torch

from metrics.lpips import LPIPS, to_minus1_1
from tests.conftest import asset_unavailable, require_module
from tests.metrics.conftest import persistent_asset_cache, round_sig

#: set to 1 where the torchvision ImageNet files are provisioned: the official-value test then must run
EXPECT_BACKBONES_ENV = "FRBENCH_EXPECT_IMAGENET_BACKBONES"


def _u8(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous()


@pytest.fixture(scope="module")
def heads():
    """Paths of the real v0.1 heads (fetched once from the lpips wheel on PyPI, sha256-verified)."""
    from bench.core.assets import AssetError, AssetManager

    manager = AssetManager(cache_dir=persistent_asset_cache(), progress=False)
    try:
        return {net: str(manager.path(f"lpips_{net}_v0_1")) for net in ("alex", "vgg")}
    except AssetError as exc:
        asset_unavailable(f"the LPIPS v0.1 heads could not be provisioned (needs PyPI once): {exc}")


def _random_backbone(net: str, folder) -> tuple[str, torch.nn.Sequential]:
    """A seeded random torchvision backbone (``features`` only, torchvision init), saved as a
    torchvision-layout state dict (``features.{i}.*``)."""
    from torchvision.models import alexnet
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(1234)
    features = alexnet(weights=None).features if net == "alex" else make_layers(cfgs["D"])
    path = folder / f"{net}-random.pth"
    torch.save({f"features.{k}": v for k, v in features.state_dict().items()}, path)
    return str(path), features


class _Shell:
    """What the package's ``tv.alexnet(pretrained=False)`` / ``tv.vgg16(...)`` is used for: ``.features``."""

    def __init__(self, features: torch.nn.Sequential) -> None:
        self.features = copy.deepcopy(features)


def _package_lpips(net: str, features: torch.nn.Sequential, heads_path: str, monkeypatch):
    """The official package with the given backbone (its torchvision constructor returns a copy of
    ``features``: no other random network is built) and the real heads."""
    lpips = require_module("lpips", "the lpips package (test extra) is the reference of this test")
    monkeypatch.setattr(lpips.pretrained_networks.tv, "alexnet" if net == "alex" else "vgg16",
                        lambda pretrained=False, **_: _Shell(features))
    ref = lpips.LPIPS(net=net, pretrained=True, pnet_rand=True, model_path=heads_path, verbose=False)
    copied = [p for piece in ref.net.children() for p in piece.parameters()]
    assert len(copied) == len(list(features.parameters()))  # every backbone parameter is the given one
    return ref.eval()


@pytest.mark.parametrize("net,count", [("alex", 12), ("vgg", 4)])
def test_equals_the_lpips_package_with_the_same_backbone(net, count, heads, utk_pairs, tmp_path, monkeypatch):
    hq, degraded = utk_pairs
    restored, reference = _u8(degraded[:count]), _u8(hq[:count])
    path, features = _random_backbone(net, tmp_path)
    ours = LPIPS(net=net, backbone=path, heads=heads[net])(restored, reference)
    with torch.no_grad():
        theirs = _package_lpips(net, features, heads[net], monkeypatch)(to_minus1_1(restored), to_minus1_1(reference)).flatten()
    assert ours.dtype == torch.float64 and ours.shape == (count,)
    assert torch.all(theirs > 1e-4)  # a real distance, not a degenerate zero
    assert torch.allclose(ours, theirs.double(), rtol=0, atol=1e-5), (ours - theirs.double()).abs().max()
    # the [-1, 1] mapping is the official im2tensor: v / 127.5 - 1
    assert torch.equal(to_minus1_1(torch.tensor([[[[0, 255]]]], dtype=torch.uint8)), torch.tensor([[[[-1.0, 1.0]]]]))


def test_properties_identity_symmetry_and_heads(heads, utk_pairs, tmp_path):
    hq, degraded = utk_pairs
    a, b = _u8(degraded[:3]), _u8(hq[:3])
    path, _ = _random_backbone("alex", tmp_path)
    metric = LPIPS(backbone=path, heads=heads["alex"])
    assert torch.all(metric(b, b) == 0)
    assert torch.allclose(metric(a, b), metric(b, a), atol=1e-7)
    # batching does not change values
    metric_1 = LPIPS(backbone=path, heads=heads["alex"], batch_size=1)
    assert torch.allclose(metric(a, b), metric_1(a, b), atol=1e-6)
    # the VGG heads file does not fit AlexNet: refused with the keys named
    from bench.core.checkpoints import StateDictMismatchError

    with pytest.raises(StateDictMismatchError, match="shape"):
        LPIPS(backbone=path, heads=heads["vgg"]).prepare()
    with pytest.raises(ValueError, match="at least 31x31"):
        metric(a[..., :30, :30], b[..., :30, :30])
    with pytest.raises(ValueError, match="net must be one of"):
        LPIPS(net="squeeze")
    described = metric.describe()
    assert described["provenance"]["heads"] == heads["alex"] and "batch_size" not in described["options"]


def test_missing_backbone_gives_the_asset_managers_error(heads, monkeypatch):
    """Offline, with no cached ImageNet AlexNet: one clear error naming the URL and where to put the file."""
    from bench.core.assets import AssetUnavailableError

    monkeypatch.setenv("FRBENCH_OFFLINE", "1")
    monkeypatch.delenv("FRBENCH_ASSET_ALEXNET_IMAGENET", raising=False)
    with pytest.raises(AssetUnavailableError) as info:
        LPIPS(heads=heads["alex"]).prepare()
    message = str(info.value)
    assert message.splitlines()[0].startswith("asset 'alexnet_imagenet' is not available")
    assert "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth" in message
    assert "alexnet_imagenet/alexnet-owt-7be5be79.pth" in message and "FRBENCH_ASSET_ALEXNET_IMAGENET" in message


def test_official_tid2013_values_with_the_real_backbone(calibration, monkeypatch):
    """The five TID2013 pairs against the official LPIPS (alex, v0.1) values, 4 significant digits."""
    from bench.core.assets import AssetError, AssetManager

    manager = AssetManager(cache_dir=persistent_asset_cache(), progress=False, offline=True)
    try:
        manager.path("alexnet_imagenet", fetch=False)
    except AssetError as exc:
        reason = (f"the ImageNet AlexNet (torchvision alexnet-owt-7be5be79.pth) is not in the asset cache "
                  f"{persistent_asset_cache()}; it cannot be downloaded here: {str(exc).splitlines()[0]}")
        if os.environ.get(EXPECT_BACKBONES_ENV):
            asset_unavailable(reason)
        pytest.skip(reason)
    monkeypatch.setenv("FRBENCH_CACHE", str(persistent_asset_cache()))
    names, dist, ref, official = calibration
    values = LPIPS()(_u8(dist), _u8(ref))
    for name, value in zip(names, values.tolist()):
        assert round_sig(value) == pytest.approx(official["lpips"][name], abs=1.5e-4 * max(1.0, value)), name
