import pytest

from reference_models.shared.attribute_classifiers import make_classifier
from reference_models.shared.attribute_classifiers.deepface_backend import (
    DeepFaceUnavailableError,
    check_deepface_available,
)


def test_clear_error_when_deepface_or_its_weights_are_absent(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path))       # an empty home: no weights
    with pytest.raises(DeepFaceUnavailableError) as err:
        check_deepface_available()
    text = str(err.value)
    assert "frbench[deepface]" in text or ("age_model_weights.h5" in text and str(tmp_path) in text)
    with pytest.raises(DeepFaceUnavailableError):
        make_classifier("deepface")


def test_deepface_on_a_real_face_when_available(utkface_dir):
    pytest.importorskip("deepface", reason="optional extra [deepface] not installed")
    try:
        check_deepface_available()
    except DeepFaceUnavailableError as exc:
        pytest.skip(str(exc))
    import numpy as np
    from PIL import Image

    clf = make_classifier("deepface")
    image = np.asarray(Image.open(sorted(utkface_dir.glob("*.jpg"))[2000]).convert("RGB"))
    pred = clf.predict([image])
    assert pred.gender[0] in (0, 1) and 0 <= pred.age_years[0] <= 100
