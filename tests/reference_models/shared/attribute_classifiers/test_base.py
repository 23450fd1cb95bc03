import numpy as np
import torch

from reference_models.shared.attribute_classifiers.base import (
    AttributeClassifier,
    AttributePrediction,
    PredictionCache,
    age_bin_probs_from_age_probs,
    image_key,
    images_to_list,
)


class CountingClassifier(AttributeClassifier):
    name = "counting"

    def __init__(self):
        self.calls = 0

    def _predict_list(self, images):
        self.calls += len(images)
        out = AttributePrediction.empty(len(images), status=0)
        for i, im in enumerate(images):
            out.gender[i] = int(im.mean() > 127)
            out.age_years[i] = float(im[0, 0, 0])
            out.age_bin[i] = 3
        return out


def test_images_to_list_accepts_tensors_arrays_and_lists():
    t = torch.zeros(2, 3, 5, 6, dtype=torch.uint8)
    assert [a.shape for a in images_to_list(t)] == [(5, 6, 3), (5, 6, 3)]
    assert images_to_list(np.zeros((5, 6, 3), np.uint8))[0].shape == (5, 6, 3)
    assert len(images_to_list([np.zeros((4, 4, 3), np.uint8), np.zeros((8, 8, 3), np.uint8)])) == 2


def test_prediction_cache_classifies_each_image_once_across_instances(tmp_path):
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for _ in range(4)]
    clf = CountingClassifier()
    cache = PredictionCache(clf, tmp_path)
    first = cache.predict(images)
    assert clf.calls == 4
    again = cache.predict(images[::-1])
    assert clf.calls == 4 and cache.hits == 4
    np.testing.assert_array_equal(again.gender, first.gender[::-1])
    cache.close()
    # a new process (new cache object, same folder): still no re-classification
    clf2 = CountingClassifier()
    cache2 = PredictionCache(clf2, tmp_path)
    cache2.predict(images)
    assert clf2.calls == 0
    # different content -> different key
    assert image_key(images[0]) != image_key(images[0][:, ::-1])


def test_bin_probabilities_sum_to_one():
    probs = np.random.default_rng(0).dirichlet(np.ones(81), size=3)
    ages = [0.25] + list(range(1, 81))
    bins = age_bin_probs_from_age_probs(probs, ages)
    np.testing.assert_allclose(bins.sum(1), 1.0)
    assert bins.shape == (3, 10)
