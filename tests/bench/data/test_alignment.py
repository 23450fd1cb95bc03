"""FFHQ alignment maths (similarity fit, bilinear warp) against independent references, and real faces."""
import numpy as np
import pytest

from tests.attribute_support import aag_models  # noqa: F401 (fixture: the dlib shape predictor, fetched once)
from bench.data.alignment import (DLIB5_TEMPLATE_512, FACEXLIB_TEMPLATE_512, AlignmentError, eye_centres,
                                  similarity_transform, transform_points, warp_affine)


def _similarity(scale, degrees, tx, ty):
    a = np.radians(degrees)
    return np.array([[scale * np.cos(a), -scale * np.sin(a), tx], [scale * np.sin(a), scale * np.cos(a), ty]])


def test_an_exact_similarity_is_recovered():
    truth = _similarity(1.7, 12.0, -40.0, 25.5)
    source = np.array([[60.0, 80.0], [140.0, 78.0], [100.0, 120.0], [70.0, 150.0], [132.0, 149.0]])
    target = source @ truth[:, :2].T + truth[:, 2]
    np.testing.assert_allclose(similarity_transform(source, target), truth, atol=1e-9)


def test_least_squares_fit_matches_scikit_image_umeyama():
    transform = pytest.importorskip("skimage.transform")
    rng = np.random.default_rng(3)
    source = rng.uniform(0, 200, (5, 2))
    target = FACEXLIB_TEMPLATE_512 + rng.normal(0, 4, (5, 2))
    reference = transform.SimilarityTransform.from_estimate(source, target)
    np.testing.assert_allclose(similarity_transform(source, target), reference.params[:2], atol=1e-8)


def test_the_fit_never_reflects():
    source = FACEXLIB_TEMPLATE_512.copy()
    mirrored = source * [-1.0, 1.0]
    matrix = similarity_transform(source, mirrored)
    assert np.linalg.det(matrix[:, :2]) > 0


def test_warp_matches_opencv_warp_affine():
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (60, 70, 3), dtype=np.uint8)
    matrix = _similarity(2.3, -7.0, 12.0, -9.0)
    ours = warp_affine(image, matrix, 128)
    theirs = cv2.warpAffine(image[..., ::-1].copy(), matrix, (128, 128), borderMode=cv2.BORDER_CONSTANT,
                            borderValue=(135, 133, 132))[..., ::-1]
    difference = np.abs(ours.astype(int) - theirs.astype(int))
    assert difference.max() <= 1 and (difference > 0).mean() < 0.01


def test_integer_translation_moves_pixels_and_fills_the_border():
    image = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(4, 4, 3)
    out = warp_affine(image, np.array([[1.0, 0, 1], [0, 1.0, 2]]), 4)
    np.testing.assert_array_equal(out[2:, 1:], image[:2, :3])
    np.testing.assert_array_equal(out[0, 0], [132, 133, 135])


def test_template_eyes_agree_with_facexlib_in_x_and_spacing():
    """The measured dlib template and facexlib's eye centres: same inter-ocular distance within 2 px."""
    ours = eye_centres(DLIB5_TEMPLATE_512)
    facexlib = FACEXLIB_TEMPLATE_512[:2]
    assert np.abs(ours[:, 0] - facexlib[:, 0]).max() < 1.0
    assert abs(np.diff(ours[:, 0])[0] - np.diff(facexlib[:, 0])[0]) < 2.0


@pytest.fixture(scope="module")
def aligner(aag_models):  # noqa: F811
    pytest.importorskip("dlib", reason="alignment needs dlib (extra [dlib])")
    from bench.data.alignment import FFHQAligner

    return FFHQAligner(shape_predictor_path=aag_models["dlib_shape_predictor_5"])


def test_real_utkface_faces_land_on_the_template(aligner, utkface_dir):
    from bench.core.imageio import read_image

    files = sorted(utkface_dir.glob("*.jpg"))[:10]
    target = eye_centres(DLIB5_TEMPLATE_512)
    errors, spacing = [], []
    for path in files:
        aligned, info = aligner.align(read_image(path))
        assert aligned.shape == (512, 512, 3) and info["faces"] >= 1
        eyes = eye_centres(aligner.landmarks(aligned)[0])  # re-detected on the output
        errors.append(np.abs(eyes - target).max())
        spacing.append(eyes[1, 0] - eyes[0, 0])
    assert np.median(errors) <= 4.0 and max(errors) <= 10.0
    assert abs(np.mean(spacing) - (target[1, 0] - target[0, 0])) <= 4.0


def test_aligned_points_map_where_the_fit_says(aligner, utkface_dir):
    from bench.core.imageio import read_image

    image = read_image(sorted(utkface_dir.glob("*.jpg"))[0])
    points, _ = aligner.landmarks(image)
    mapped = transform_points(similarity_transform(points, DLIB5_TEMPLATE_512), points)
    assert np.abs(mapped - DLIB5_TEMPLATE_512)[:4].max() < 8.0  # eye corners: close to their targets


def test_no_face_is_an_error_naming_the_cause(aligner):
    with pytest.raises(AlignmentError, match="no face found by dlib"):
        aligner.align(np.full((200, 200, 3), 128, np.uint8))
