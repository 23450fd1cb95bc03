"""ArcFace option of the identity metric: alignment against scikit-image and cv2, insightface's input
convention against torch on a tiny stand-in network (the real w600k_r50.onnx cannot be downloaded here),
and the clear errors when the file or the threshold is missing."""
import warnings

import numpy as np
import pytest
import torch

from tests.conftest import require_module


def test_similarity_transform_equals_scikit_image_estimate():
    """insightface estimates the alignment with skimage's SimilarityTransform: the same least squares."""
    transform = require_module("skimage.transform")
    from reference_models.shared.arcface import ARCFACE_TEMPLATE, similarity_transform

    rng = np.random.default_rng(3)
    for _ in range(5):
        src = rng.uniform(20, 180, (5, 2))
        reference = transform.SimilarityTransform()
        with warnings.catch_warnings():  # estimate() is what insightface calls (from_estimate in skimage >= 0.26)
            warnings.simplefilter("ignore", FutureWarning)
            reference.estimate(src, ARCFACE_TEMPLATE)
        assert np.allclose(similarity_transform(src, ARCFACE_TEMPLATE), reference.params[:2], atol=1e-9)


def test_exactly_similar_points_land_on_the_template_and_the_warp_is_cv2s():
    cv2 = require_module("cv2")
    from reference_models.shared.arcface import ARCFACE_TEMPLATE, similarity_transform, warp

    angle, scale, shift = 0.3, 1.7, np.array([40.0, 25.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    src = (ARCFACE_TEMPLATE @ rot.T) * scale + shift
    matrix = similarity_transform(src, ARCFACE_TEMPLATE)
    mapped = src @ matrix[:, :2].T + matrix[:, 2]
    assert np.abs(mapped - ARCFACE_TEMPLATE).max() < 1e-9
    image = np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    crop = warp(image, matrix)
    assert crop.shape == (112, 112, 3) and crop.dtype == np.uint8
    assert np.array_equal(crop, cv2.warpAffine(image, matrix, (112, 112), borderValue=0.0))


def test_five_points_are_eye_centres_nose_tip_and_mouth_corners():
    from reference_models.shared.arcface import five_points

    landmarks = np.arange(136, dtype=np.float64).reshape(68, 2)
    points = five_points(landmarks)
    assert np.allclose(points[0], landmarks[36:42].mean(0)) and np.allclose(points[1], landmarks[42:48].mean(0))
    assert np.array_equal(points[2:], landmarks[[30, 48, 54]])


class _Tiny(torch.nn.Module):
    """A seeded stand-in with the recognition network's contract: [N, 3, 112, 112] -> [N, 512]."""

    def __init__(self, normalise: bool) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.normalise = normalise
        self.conv = torch.nn.Conv2d(3, 8, 5, stride=4)
        self.fc = torch.nn.Linear(8 * 27 * 27, 512)

    def forward(self, x):
        if self.normalise:  # a graph that starts with Sub then Mul, as some insightface exports do
            x = (x - 127.5) * (1 / 127.5)
        return self.fc(torch.relu(self.conv(x)).flatten(1))


def _export(module, path):
    require_module("onnx", reason="onnx (test extra) is needed to build the stand-in network")
    torch.onnx.export(module, torch.zeros(1, 3, 112, 112), str(path), dynamo=False, input_names=["data"],
                      output_names=["fc1"], dynamic_axes={"data": {0: "n"}, "fc1": {0: "n"}})
    return path


@pytest.mark.parametrize("normalise", [False, True])
def test_embedder_feeds_rgb_scaled_as_insightface_decides(tmp_path, normalise):
    require_module("onnxruntime")
    from reference_models.shared.arcface import ArcFaceEmbedder

    module = _Tiny(normalise).eval()
    embedder = ArcFaceEmbedder(str(_export(module, tmp_path / "tiny.onnx")))
    assert (embedder.mean, embedder.std) == ((0.0, 1.0) if normalise else (127.5, 127.5))
    crops = [np.random.default_rng(i).integers(0, 256, (112, 112, 3), dtype=np.uint8) for i in range(3)]
    x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float()
    with torch.no_grad():
        expected = module(x if normalise else (x - 127.5) / 127.5).numpy()
    assert np.allclose(embedder.embed(crops), expected, atol=1e-4)


def test_identity_with_arcface_on_real_faces(tmp_path):
    """The full metric with the stand-in network: 0 on the HQ itself, grows with degradation, a value
    independent of the dlib path (separate cache), and the clear errors."""
    require_module("dlib", reason="dlib (extra [dlib]) not installed")
    from PIL import Image

    from bench.core.assets import AssetUnavailableError
    from metrics.identity import IdentityDistance
    from reference_models.shared.arcface import cosine_distance
    from tests.conftest import shared_path

    with pytest.raises(ValueError, match="no verification threshold"):
        IdentityDistance(embedding="arcface")
    with pytest.raises(ValueError, match="embedding must be one of"):
        IdentityDistance(embedding="facenet")
    from reference_models.shared.arcface import ArcFaceEmbedder

    with pytest.raises(AssetUnavailableError) as missing:
        ArcFaceEmbedder(cache_dir=tmp_path / "empty-cache")
    assert "buffalo_l.zip" in missing.value.short and "w600k_r50.onnx" in missing.value.short

    weights = str(_export(_Tiny(False).eval(), tmp_path / "tiny.onnx"))
    hq = np.asarray(Image.open(sorted(shared_path("data", "utkface", "images").glob("*.jpg"))[5]).convert("RGB"))
    small = np.asarray(Image.fromarray(hq).resize((12, 12), Image.BICUBIC).resize((200, 200), Image.BICUBIC))
    tensor = lambda *a: torch.from_numpy(np.stack(a)).permute(0, 3, 1, 2).contiguous()  # noqa: E731
    try:
        metric = IdentityDistance(embedding="arcface", weights=weights, threshold=0.5)
        out = metric.details(tensor(hq, small), tensor(hq, hq))
    except AssetUnavailableError as exc:
        pytest.skip(f"dlib models absent: {exc.short}")
    assert out["value"][0] < 1e-6 < out["value"][1] and out["fail"].tolist() == [0.0, float(out["value"][1] > 0.5)]
    # independent recomputation: the HQ's transform from its 68 landmarks, then cv2 + onnxruntime directly
    import cv2
    import onnxruntime as ort

    from reference_models.shared.arcface import ARCFACE_TEMPLATE, five_points, similarity_transform
    from reference_models.shared.face_descriptor import shared_geometry

    geo = shared_geometry()
    matrix = similarity_transform(five_points(geo.landmarks(hq, geo.find(hq))), ARCFACE_TEMPLATE)
    session = ort.InferenceSession(weights, providers=["CPUExecutionProvider"])
    crops = [cv2.warpAffine(a, matrix, (112, 112), borderValue=0.0) for a in (hq, small)]
    feats = session.run(None, {"data": ((np.stack(crops).astype(np.float32) - 127.5) / 127.5).transpose(0, 3, 1, 2)})[0]
    assert out["value"][1] == pytest.approx(float(cosine_distance(feats[1:], feats[:1])[0]), abs=1e-5)
    dlib_value = IdentityDistance().details(tensor(small), tensor(hq))["value"][0]
    assert dlib_value != pytest.approx(out["value"][1])  # the dlib path is not served from the ArcFace cache
