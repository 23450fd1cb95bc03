import numpy as np
import pytest

from metrics.fairness import (
    class_counts,
    composition_report,
    fairness_discrepancy,
    fairness_discrepancy_l1,
    fairness_kl,
    reference_fd,
    target_fd,
)


def test_never_predicted_classes_count():
    counts = class_counts([1, 1, 1, 1], 2)
    assert counts.tolist() == [0, 4]
    assert fairness_discrepancy(counts) == pytest.approx(np.sqrt(0.5))     # np.unique would give 0.5
    assert fairness_discrepancy_l1(counts) == pytest.approx(1.0)
    assert fairness_kl(counts) == pytest.approx(np.log(2))


def test_uniform_is_zero_and_binary_formula():
    assert fairness_discrepancy(np.array([5, 5])) == pytest.approx(0.0)
    assert fairness_discrepancy(np.full(10, 3)) == pytest.approx(0.0)
    # binary: FD = sqrt(2) * |p_male - 0.5|; 78/22 -> 0.396 (the poster's largest value)
    assert fairness_discrepancy(np.array([22, 78])) == pytest.approx(np.sqrt(2) * 0.28)
    # vectorised over replicates
    assert fairness_discrepancy(np.array([[5, 5], [0, 4]])).shape == (2,)


def test_reference_fd_and_label_checks():
    assert reference_fd(np.array([3, 7]), np.array([30, 70])) == pytest.approx(0.0)
    assert reference_fd(np.array([5, 5]), np.array([0, 10])) == pytest.approx(np.sqrt(0.5))
    with pytest.raises(ValueError):
        class_counts([0, 3], 2)
    assert class_counts([-1, 0], 2).tolist() == [1, 0]   # -1 = no prediction, ignored


def test_target_fd_with_a_no_face_share():
    # 10 images: target 3 f / 7 m; restored 2 f / 6 m / 2 without a face
    # shares (0.2, 0.6, 0.2) vs (0.3, 0.7, 0): sqrt(0.01 + 0.01 + 0.04)
    assert target_fd(np.array([2, 6]), np.array([3, 7]), 2) == pytest.approx(np.sqrt(0.06))
    assert target_fd(np.array([3, 7]), np.array([3, 7])) == pytest.approx(0.0)
    assert target_fd(np.array([3, 7]), np.array([3, 7])) == pytest.approx(reference_fd(np.array([3, 7]), np.array([30, 70])))
    # a restorer that turns a 30/70 set into 50/50 is perfect for the uniform FD, not for the target FD
    assert fairness_discrepancy(np.array([5, 5])) == pytest.approx(0.0)
    assert target_fd(np.array([5, 5]), np.array([3, 7])) == pytest.approx(np.sqrt(0.04 + 0.04))
    # age: 10 bins, vectorised over replicates
    t = np.array([[0, 0, 1, 1, 2, 2, 2, 1, 1, 0]] * 2)
    r = np.array([[0, 0, 1, 1, 2, 2, 2, 1, 1, 0], [0, 1, 1, 1, 2, 2, 2, 1, 0, 0]])
    np.testing.assert_allclose(target_fd(r, t, np.zeros(2)), [0.0, np.sqrt(2) / 10])
    assert np.isnan(target_fd(np.zeros(2), np.zeros(2)))
    with pytest.raises(ValueError):
        target_fd(np.array([2, 6]), np.array([3, 7]))    # 8 restored + 0 no face != 10 targets


def test_generated_set_mode_with_a_stub_classifier(tmp_path):
    from PIL import Image

    from reference_models.shared.attribute_classifiers.base import AttributeClassifier, AttributePrediction

    class Stub(AttributeClassifier):
        name = "stub"

        def _predict_list(self, images):
            out = AttributePrediction.empty(len(images), status=0)
            for i, im in enumerate(images):
                if im.mean() < 10:
                    out.status[i] = 1       # no face
                    continue
                out.gender[i] = int(im.mean() > 127)
                out.age_bin[i] = 5
            return out

    for i, value in enumerate([200, 200, 200, 50, 0]):
        Image.fromarray(np.full((16, 16, 3), value, np.uint8)).save(tmp_path / f"g{i}.png")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    report = composition_report(tmp_path, classifier=Stub())
    assert report["n_images"] == 5 and report["n_unreadable"] == 1
    assert report["no_face_share"] == pytest.approx(0.2)
    assert report["gender_counts"] == [1, 3]
    assert report["fd_gender"] == pytest.approx(np.sqrt(2) * 0.25)
    assert report["age_bin_counts"][5] == 4
    lo, hi = report["fd_gender_ci95"]
    assert lo <= report["fd_gender"] <= hi
