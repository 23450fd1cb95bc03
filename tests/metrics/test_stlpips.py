"""ST-LPIPS (metrics.stlpips) against the official ``stlpips-pytorch`` 0.0.2 package, on real faces.

Both load the released shift-tolerant networks (assets from the stlpips-pytorch wheel on PyPI, sha256-checked;
the package reads the same bytes from its installed copy).  The package imports ``torchsummary`` and ``IPython``
at module level without using them for a distance; when they are not installed, empty stand-ins are put in
``sys.modules`` for the import only.
"""
from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import torch

from metrics.lpips import to_minus1_1
from metrics.stlpips import STLPIPS
from tests.conftest import asset_unavailable, require_module
from tests.metrics.conftest import persistent_asset_cache


def _u8(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous()


@pytest.fixture(scope="module")
def weights():
    """Paths of the released ST-LPIPS networks (fetched once from PyPI, sha256-verified)."""
    from bench.core.assets import AssetError, AssetManager

    manager = AssetManager(cache_dir=persistent_asset_cache(), progress=False)
    try:
        return {net: str(manager.path(f"stlpips_{net}_shift_tolerant")) for net in ("alex", "vgg")}
    except AssetError as exc:
        asset_unavailable(f"the ST-LPIPS networks could not be provisioned (needs PyPI once): {exc}")


def _package(monkeypatch):
    for name, attrs in (("torchsummary", {"summary": None}), ("IPython", {"embed": None})):
        try:
            __import__(name)
        except ImportError:
            monkeypatch.setitem(sys.modules, name, types.SimpleNamespace(**attrs))
    return require_module("stlpips_pytorch.stlpips", "the stlpips-pytorch package (test extra) is the reference")


@pytest.mark.parametrize("net,count", [("alex", 12), ("vgg", 3)])
def test_equals_the_stlpips_package(net, count, weights, utk_pairs, monkeypatch):
    hq, degraded = utk_pairs
    restored, reference = _u8(degraded[:count]), _u8(hq[:count])
    ours = STLPIPS(net=net, weights=weights[net])(restored, reference)
    stlpips = _package(monkeypatch)
    ref = stlpips.LPIPS(net=net, variant="shift_tolerant", model_path=weights[net], verbose=False).eval()
    with torch.no_grad():
        theirs = ref(to_minus1_1(restored), to_minus1_1(reference)).flatten().double()
    assert ours.dtype == torch.float64 and ours.shape == (count,)
    assert torch.all(theirs > 0.01)
    assert torch.allclose(ours, theirs, rtol=0, atol=1e-5), (ours - theirs).abs().max()


def test_default_loads_the_asset_and_is_shift_tolerant(weights, utk_pairs, monkeypatch):
    """Through the asset manager (the persistent cache); identity, symmetry, and the property the metric is
    for: a 1-pixel shift of a face costs far less than the bicubic x8 degradation."""
    monkeypatch.setenv("FRBENCH_CACHE", str(persistent_asset_cache()))
    hq, degraded = utk_pairs
    a, b = _u8(degraded[:3]), _u8(hq[:3])
    metric = STLPIPS()
    assert torch.all(metric(b, b) == 0)
    assert torch.allclose(metric(a, b), metric(b, a), atol=1e-6)
    shifted = torch.roll(b, shifts=1, dims=-1)[..., 2:-2, 2:-2]
    assert torch.all(metric(shifted, b[..., 2:-2, 2:-2]) < 0.25 * metric(a, b))
    assert metric.describe()["provenance"]["weights"].endswith("alex_shift_tolerant.pth")
    with pytest.raises(ValueError, match="at least 21x21"):
        metric(a[..., :20, :20], b[..., :20, :20])


def test_a_wrong_file_is_refused(weights, tmp_path):
    from bench.core.checkpoints import StateDictMismatchError

    state = torch.load(weights["alex"], weights_only=True, map_location="cpu")
    state["net.slice1.1.filt"] = state["net.slice1.1.filt"] * 1.01
    bad = tmp_path / "bad.pth"
    torch.save(state, bad)
    with pytest.raises(ValueError, match="binomial"):
        STLPIPS(weights=str(bad)).prepare()
    with pytest.raises(StateDictMismatchError):
        STLPIPS(net="vgg", weights=weights["alex"]).prepare()


def test_runner_end_to_end_and_lpips_asset_error(weights, tmp_path, monkeypatch):
    """``bench run --method bicubic --dataset synthetic --metrics psnr,stlpips`` stores one finite value per
    image; with ``lpips`` and no ImageNet AlexNet the run stops before writing, with the asset error."""
    from bench.api import run
    from bench.core.assets import AssetUnavailableError
    from bench.harness.store import ResultStore

    monkeypatch.setenv("FRBENCH_CACHE", str(persistent_asset_cache()))
    monkeypatch.setenv("FRBENCH_OFFLINE", "1")
    summary = run(method="bicubic", dataset="synthetic", dataset_options={"n": 4}, metrics="psnr,stlpips",
                  store=tmp_path / "r.sqlite", out=tmp_path / "out", progress=False)
    assert summary.n_ok == 4
    with ResultStore(tmp_path / "r.sqlite") as store:
        values = [v for _, _, m, v, e in store.scores(summary.run_id) if m == "stlpips" and e is None]
    assert len(values) == 4 and all(0 < v < 1.5 for v in values)
    monkeypatch.delenv("FRBENCH_ASSET_ALEXNET_IMAGENET", raising=False)
    from bench.core.assets import AssetError, AssetManager

    try:
        AssetManager(offline=True).path("alexnet_imagenet", fetch=False)
        pytest.skip("the ImageNet AlexNet is cached here: the asset error cannot be shown")
    except AssetError:
        pass
    with pytest.raises(AssetUnavailableError, match="asset 'alexnet_imagenet' is not available"):
        run(method="bicubic", dataset="synthetic", dataset_options={"n": 4}, metrics="psnr,lpips",
            store=tmp_path / "r2.sqlite", out=tmp_path / "out2", progress=False)
