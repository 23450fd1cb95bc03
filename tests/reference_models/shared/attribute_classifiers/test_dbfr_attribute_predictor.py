"""DebiasFR attribute predictor port against ../shared/golden/dbfr_attribute_predictor (hashinit-v1 weights)."""
import json

import numpy as np
import pytest

from tests.golden_support import hashinit_state_dict
import torch

from reference_models.shared.attribute_classifiers.dbfr_attribute_predictor import (
    DBFRAttributeClassifier,
    ImageClassifier,
    StateDictMismatchError,
    load_dbfr_state_dict,
    preprocess,
)
from tests.conftest import shared_path


@pytest.fixture(scope="module")
def golden():
    folder = shared_path("golden", "dbfr_attribute_predictor")
    manifest = json.loads((folder / "manifest_full.json").read_text())
    config = json.loads((folder / "config_small.json").read_text())
    from safetensors.torch import load_file

    return manifest, config, load_file(str(folder / "golden_small.safetensors"))


def test_keys_and_shapes_are_exactly_the_official_ones(golden):
    manifest, _, _ = golden
    own = ImageClassifier().state_dict()
    assert list(own) == list(manifest["keys"])                 # same keys, same order
    for key, (shape, dtype, _) in manifest["keys"].items():
        assert list(own[key].shape) == shape, key
    assert sum(v.numel() for k, v in own.items()) == manifest["total_state_dict_elements"]


def test_hashinit_checksums(golden):
    manifest, config, _ = golden
    sd = hashinit_state_dict({k: (tuple(v[0]), v[1]) for k, v in manifest["keys"].items()})
    checks = config["hashinit_checks"]
    for key in list(checks)[:: max(1, len(checks) // 25)]:
        t = sd[key].double()
        assert float(t.sum()) == pytest.approx(checks[key]["sum_float64"], rel=1e-6, abs=1e-6), key
        np.testing.assert_allclose(sd[key].flatten()[:4].numpy(), checks[key]["first4"], rtol=1e-6)


def test_golden_forward(golden):
    manifest, _, g = golden
    model = ImageClassifier().eval()
    load_dbfr_state_dict(model, hashinit_state_dict({k: (tuple(v[0]), v[1]) for k, v in manifest["keys"].items()}))
    with torch.no_grad():
        feat = model.features(g["in.x"])
        age, gender = model(g["in.x"])
    for name, ours in (("dbg.encoder_feature", feat), ("out.age_logits", age), ("out.gender_logits", gender)):
        ref = g[name]
        assert ours.shape == ref.shape
        err = (ours - ref).abs().max() / ref.abs().max()
        assert err < 1e-5, f"{name}: relative error {err:.2e}"


def test_loader_names_missing_and_unexpected_keys():
    model = ImageClassifier()
    sd = dict(model.state_dict())
    sd.pop("ageclassifier.model.2.bias")
    sd["encoder.fc.weight"] = torch.zeros(1)
    sd["genderclassifier.model.2.weight"] = torch.zeros(3, 256)
    with pytest.raises(StateDictMismatchError) as err:
        load_dbfr_state_dict(model, sd)
    text = str(err.value)
    assert "ageclassifier.model.2.bias" in text and "encoder.fc.weight" in text and "(3, 256)" in text


def test_input_size_and_preprocessing():
    x = preprocess(torch.full((1, 3, 64, 64), 255, dtype=torch.uint8))
    assert x.shape == (1, 3, 256, 256) and float(x.max()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="256x256"):
        ImageClassifier()(torch.zeros(1, 3, 128, 128))


def test_backend_without_official_weights_fails_clearly(monkeypatch):
    monkeypatch.setenv("FRBENCH_OFFLINE", "1")
    from bench.core.assets import AssetUnavailableError

    with pytest.raises(AssetUnavailableError, match="debiasfr_attribute_predictor|Attribute_predictor"):
        DBFRAttributeClassifier()


def test_backend_predicts_from_a_checkpoint_file(tmp_path):
    model = ImageClassifier()
    path = tmp_path / "Attribute_predictor.pth"
    torch.save({"model_state_dict": model.state_dict()}, path)
    clf = DBFRAttributeClassifier(weights=path)
    pred = clf.predict(np.zeros((2, 64, 64, 3), np.uint8))
    assert pred.age_bin.shape == (2,) and set(pred.gender.tolist()) <= {0, 1}
    assert np.isnan(pred.age_years).all()          # bins only
    np.testing.assert_allclose(pred.age_bin_probs.sum(1), 1.0, atol=1e-6)
