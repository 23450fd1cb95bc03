"""Landmark distance: against a direct computation with dlib's own detector/predictor, synthetic shifts."""
import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import shared_path
from tests.metrics.test_identity import geometry  # noqa: F401 (module fixture: provisioned dlib models)


def _rgb(path):
    return np.ascontiguousarray(np.asarray(Image.open(path).convert("RGB")))


def _tensor(*images):
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()


@pytest.fixture
def metric(geometry, monkeypatch):  # noqa: F811
    import metrics.identity as identity_module  # the dlib models of identity and lmd (HQFaceMetric)
    import metrics.landmark_distance as lmd_module

    monkeypatch.setattr(identity_module, "shared_geometry", lambda *a, **k: geometry)
    return lmd_module.LandmarkDistance()


def _shift(image, k):
    """Translate right and down by k px (edge replicated)."""
    out = np.pad(image, ((k, 0), (k, 0), (0, 0)), mode="edge")
    return np.ascontiguousarray(out[: image.shape[0], : image.shape[1]])


def test_lmd_equals_a_direct_dlib_computation(metric, geometry):  # noqa: F811
    import dlib

    hq = _rgb(sorted(shared_path("data", "utkface", "images").glob("*.jpg"))[7])
    restored = np.asarray(Image.fromarray(hq).resize((25, 25), Image.BICUBIC).resize((200, 200), Image.BICUBIC))
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(geometry._paths["dlib_shape_predictor_68"]))
    dets = list(detector(hq, 0)) or list(detector(hq, 1))
    box = max(dets, key=lambda r: r.width() * r.height())
    p = np.array([(q.x, q.y) for q in predictor(hq, box).parts()], float)
    r = np.array([(q.x, q.y) for q in predictor(restored, box).parts()], float)
    direct = np.mean(np.sqrt(((p - r) ** 2).sum(1)))
    iod = np.hypot(*(p[36] - p[45]))
    out = metric.details(_tensor(hq, restored), _tensor(hq, hq))
    assert out["value"][0] == 0.0 and out["nme"][0] == 0.0
    assert out["value"][1] == pytest.approx(direct, abs=1e-12) and direct > 0.5
    assert out["nme"][1] == pytest.approx(direct / iod, abs=1e-12)


@pytest.mark.parametrize("k", [3, 6])
def test_shifting_the_image_by_k_pixels_moves_landmarks_by_about_k(metric, k):
    hq = _rgb(sorted(shared_path("data", "utkface", "images").glob("*.jpg"))[11])
    out = metric.details(_tensor(_shift(hq, k)), _tensor(hq))
    # a diagonal shift of k px moves every point by k*sqrt(2)
    assert out["value"][0] == pytest.approx(k * np.sqrt(2), rel=0.3), out


def test_missing_hq_face_and_size_mismatch_are_errors(metric):
    hq = _rgb(sorted(shared_path("data", "utkface", "images").glob("*.jpg"))[7])
    with pytest.raises(ValueError, match="no face found on the HQ"):
        metric.details(_tensor(hq), _tensor(np.zeros_like(hq)))
    with pytest.raises(ValueError, match="not the size of its HQ"):
        metric.details(_tensor(hq[:100, :100].copy()), _tensor(hq))


def test_runner_stores_values_and_names_the_hq_without_a_face(geometry, tmp_path, monkeypatch):  # noqa: F811
    """Through the runner: two real faces get values, a blank HQ gets a per-image error for both metrics."""
    from tests.metrics.conftest import persistent_asset_cache

    from bench.harness.runner import Runner
    from bench.harness.store import ResultStore

    monkeypatch.setenv("FRBENCH_CACHE", str(persistent_asset_cache()))
    (tmp_path / "hq").mkdir()
    for i, path in enumerate(sorted(shared_path("data", "utkface", "images").glob("*.jpg"))[:2]):
        Image.open(path).convert("RGB").save(tmp_path / "hq" / f"face{i}.png")
    Image.fromarray(np.full((200, 200, 3), 128, np.uint8)).save(tmp_path / "hq" / "blank.png")
    summary = Runner("bicubic", "folder", root=str(tmp_path), metrics="identity,lmd", degradation="x4",
                     store=str(tmp_path / "s.sqlite"), out=str(tmp_path / "out"), progress=False).run()
    with ResultStore(tmp_path / "s.sqlite", readonly=True) as store:
        rows = store.scores(summary.run_id)
    values = {(sid, m): (v, e) for _, sid, m, v, e in rows}
    for metric in ("identity", "lmd"):
        v, e = values[("blank", metric)]
        assert v is None and "no face found on the HQ" in e
        for face in ("face0", "face1"):
            v, e = values[(face, metric)]
            assert e is None and 0 < v < (0.6 if metric == "identity" else 5.0), (face, metric, v)
