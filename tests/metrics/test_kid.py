"""KID: the unbiased cubic-kernel MMD against torch-fidelity and clean-fid, and the bounded, seeded,
mergeable bottom-k feature sample it is computed on."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from metrics.feature_stats import merge_bottom_k, priorities
from metrics.kid import KID, kid_from_features, polynomial_mmd2_unbiased
from tests.conftest import require_module

from tests.metrics.test_fid import StubFeatures, _batch, _Sample


@pytest.fixture(scope="module")
def features():
    rng = np.random.default_rng(11)
    x = rng.gamma(0.6, 0.5, size=(60, 2048)).astype(np.float32)  # pool3-like: non-negative, skewed
    y = (rng.gamma(0.6, 0.5, size=(60, 2048)) * 1.1 + 0.02).astype(np.float32)
    return x, y


def test_kid_equals_torch_fidelity_when_subsets_are_the_whole_sets(features):
    kid_features_to_metric = require_module("torch_fidelity.metric_kid").kid_features_to_metric

    x, y = features
    ours = kid_from_features(x.astype(np.float64), y.astype(np.float64), subsets=4, subset_size=60, seed=2020)
    theirs = kid_features_to_metric(torch.from_numpy(x), torch.from_numpy(y), kid_subsets=4, kid_subset_size=60,
                                    kid_kernel="poly",
                                    kid_kernel_poly_degree=3, kid_kernel_poly_gamma=None,
                                    kid_kernel_poly_coef0=1, rng_seed=2020, verbose=False)
    # torch-fidelity evaluates the kernel on float32 features (float32 matmul); frbench in float64
    assert ours["kid"] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-4)
    assert ours["m"] == 60
    exact = kid_features_to_metric(torch.from_numpy(x).double(), torch.from_numpy(y).double(), kid_subsets=2,
                                   kid_subset_size=60, kid_kernel="poly", kid_kernel_poly_degree=3,
                                   kid_kernel_poly_gamma=None, kid_kernel_poly_coef0=1, rng_seed=5, verbose=False)
    assert ours["kid"] == pytest.approx(exact["kernel_inception_distance_mean"], rel=1e-10)


def test_kid_on_subsets_follows_torch_fidelity_draws(features):
    kid_features_to_metric = require_module("torch_fidelity.metric_kid").kid_features_to_metric

    x, y = (f.astype(np.float64) for f in features)
    ours = kid_from_features(x, y, subsets=7, subset_size=25, seed=123)
    theirs = kid_features_to_metric(torch.from_numpy(x), torch.from_numpy(y), kid_subsets=7, kid_subset_size=25,
                                    kid_kernel="poly", kid_kernel_poly_degree=3, kid_kernel_poly_gamma=None,
                                    kid_kernel_poly_coef0=1, rng_seed=123, verbose=False)
    assert ours["kid"] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-9)
    assert ours["kid_std"] == pytest.approx(theirs["kernel_inception_distance_std"], rel=1e-9)


def test_kid_equals_clean_fid_kernel_distance(features):
    kernel_distance = require_module("cleanfid.fid").kernel_distance

    x, y = (f.astype(np.float64) for f in features)
    np.random.seed(0)
    theirs = kernel_distance(x, y, num_subsets=3, max_subset_size=60)
    assert kid_from_features(y, x, subsets=3, subset_size=1000)["kid"] == pytest.approx(theirs, rel=1e-9)


def test_mmd_is_zero_in_expectation_and_rejects_tiny_sets(features):
    x, _ = features
    assert abs(polynomial_mmd2_unbiased(x[:30], x[30:])) < 0.05 * polynomial_mmd2_unbiased(x[:30], x[30:] * 2)
    with pytest.raises(ValueError, match="equal size"):
        polynomial_mmd2_unbiased(x[:3], x[:4])
    assert np.isnan(kid_from_features(x[:1], x[1:2])["kid"])


def test_bounded_seeded_sample_is_independent_of_batching():
    metric = KID(capacity=16, subsets=5, subset_size=10, seed=4)
    metric.features = StubFeatures()
    n = 45
    x, y = _batch(n, 20), _batch(n, 21)
    samples = [_Sample(f"face-{i}") for i in range(n)]
    a = metric.merge([metric.partial(x[i:i + 4], y[i:i + 4], samples[i:i + 4]) for i in range(0, n, 4)])
    order = np.random.default_rng(2).permutation(n)
    b = metric.merge([metric.partial(x[c], y[c], [samples[j] for j in c]) for c in np.array_split(order, 3)])
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert a["x#feat"].shape == (16, 32) and int(a["x.n"]) == 45 and int(a["y.n"]) == 45
    expected = np.sort(priorities(4, [s.id for s in samples]))[:16]
    np.testing.assert_array_equal(a["x#key"], expected)  # the 16 smallest priorities of all 45
    np.testing.assert_array_equal(a["x#key"], a["y#key"])  # restored and HQ of the same faces
    out = metric.compute(a)
    assert out["subset_size"] == 10 and out["n"] == 45 and out["ref=hq.n"] == 45 and np.isfinite(out["value"])
    with pytest.raises(ValueError, match="same sample"):
        merge_bottom_k([a, a], 16)
