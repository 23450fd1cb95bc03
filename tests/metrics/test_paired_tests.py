"""Paired tests against independent references: scipy's ``binomtest`` and ``wilcoxon``, scipy's paired
percentile bootstrap, and a Holm correction computed by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from metrics.paired_tests import (
    binom_half_cdf,
    discordant,
    holm,
    mcnemar_exact,
    midranks,
    paired_bootstrap,
    wilcoxon_signed_rank,
)


@pytest.mark.parametrize("b,c", [(0, 0), (0, 1), (1, 0), (3, 3), (2, 9), (9, 2), (0, 12), (40, 25), (17, 18),
                                 (300, 240), (5000, 4870)])
def test_mcnemar_matches_scipy_binomtest(b, c):
    expected = 1.0 if b + c == 0 else stats.binomtest(b, b + c, 0.5).pvalue
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-9, abs=1e-300)
    assert mcnemar_exact(b, c) == mcnemar_exact(c, b)


def test_binomial_cdf_matches_scipy():
    for n in (1, 7, 30, 1001):
        for k in (0, n // 3, n // 2, n - 1):
            assert binom_half_cdf(k, n) == pytest.approx(stats.binom.cdf(k, n, 0.5), rel=1e-10)


def test_discordant_counts_and_undefined_pairs():
    a = np.array([1, 1, 0, 0, 1, np.nan, 1])
    b = np.array([0, 1, 1, 0, 0, 1, np.nan])
    assert discordant(a, b) == (2, 1, 5)
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)


def _cases():
    rng = np.random.default_rng(7)
    yield "exact, small", rng.normal(size=9), rng.normal(size=9)
    yield "exact, n=30 shifted", rng.normal(size=30) + 0.5, rng.normal(size=30)
    yield "exact, n=50", rng.normal(size=50), rng.normal(size=50) + 0.2
    a = np.round(rng.normal(size=40), 1)
    yield "ties + zeros, normal approximation", a, np.round(a + rng.normal(scale=0.3, size=40), 1)
    yield "ties, n=11 (permutation)", np.array([1, 2, 2, 3, 5, 5, 5, 1, 4, 4, 6.0]), np.array([0, 1, 0, 3.5, 2, 3, 4,
                                                                                                2, 1, 2, 2.0])
    yield "zeros, n=12 (permutation)", np.arange(12.0), np.arange(12.0) - np.array([0, 0, 1, -2, 3, 4, 5, 6, -7, 8, 9,
                                                                                    10.0]) * 0.1
    yield "n=80 no ties (normal)", rng.normal(size=80) + 0.3, rng.normal(size=80)
    yield "psnr-like", 30 + rng.normal(size=24), 29.7 + rng.normal(size=24)


@pytest.mark.parametrize("name,a,b", list(_cases()), ids=[c[0] for c in _cases()])
def test_wilcoxon_matches_scipy_defaults(name, a, b):
    ours = wilcoxon_signed_rank(a, b)
    ref = stats.wilcoxon(a, b)  # scipy defaults: zero_method='wilcox', correction=False, method='auto'
    assert ours.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert ours.pvalue == pytest.approx(ref.pvalue, rel=1e-9), ours.method


def test_wilcoxon_continuity_correction_matches_scipy():
    rng = np.random.default_rng(3)
    a, b = np.round(rng.normal(size=60), 1), np.round(rng.normal(size=60) + 0.2, 1)
    ours = wilcoxon_signed_rank(a, b, correction=True)
    assert ours.method == "normal"
    assert ours.pvalue == pytest.approx(stats.wilcoxon(a, b, correction=True).pvalue, rel=1e-9)
    assert ours.pvalue > wilcoxon_signed_rank(a, b).pvalue  # the correction is conservative here


def test_wilcoxon_detects_a_shift_and_not_noise():
    rng = np.random.default_rng(11)
    base = rng.normal(size=40)
    assert wilcoxon_signed_rank(base + 0.5 + 0.1 * rng.normal(size=40), base).pvalue < 1e-6
    assert math.isnan(wilcoxon_signed_rank(base, base).pvalue)  # no non-zero difference: untestable


def test_midranks_match_scipy_rankdata():
    x = np.array([3.0, 1.0, 3.0, 2.0, 3.0, 0.5, 2.0])
    ranks, sizes = midranks(x)
    np.testing.assert_allclose(ranks, stats.rankdata(x))
    assert sorted(sizes.tolist()) == [1, 1, 2, 3]


def test_paired_bootstrap_agrees_with_scipy_percentile_bootstrap():
    rng = np.random.default_rng(5)
    n = 60
    base = rng.normal(size=n)
    a, b = base + 0.3 + 0.5 * rng.normal(size=n), base
    index = {f"s{i}": i for i in range(n)}
    ids = list(index)

    def mean_of(values):
        return lambda chosen: float(np.mean([values[index[s]] for s in chosen]))

    ours = paired_bootstrap(mean_of(a), mean_of(b), ids, replicates=2000, seed=1)
    ref = stats.bootstrap((a, b), lambda x, y, axis=-1: np.mean(x, axis=axis) - np.mean(y, axis=axis), paired=True,
                          n_resamples=4000, method="percentile", random_state=2, vectorized=True)
    assert ours.difference == pytest.approx(np.mean(a - b), rel=1e-12)
    se = np.std(a - b, ddof=1) / math.sqrt(n)
    assert ours.lo == pytest.approx(ref.confidence_interval.low, abs=0.15 * se)
    assert ours.hi == pytest.approx(ref.confidence_interval.high, abs=0.15 * se)
    assert ours.pvalue < 0.01 and ours.replicates == 2000
    # no difference at all: every replicate difference is 0, the p-value is 1 and the interval is [0, 0]
    same = paired_bootstrap(mean_of(b), mean_of(b), ids, replicates=50, seed=1)
    assert same.pvalue == 1.0 and same.lo == same.hi == 0.0


def test_paired_bootstrap_uses_the_same_ids_for_both_methods_and_dict_statistics():
    seen = []

    def stat_a(chosen):
        seen.append(("a", tuple(chosen)))
        return {"x": len(set(chosen)), "y": 1.0}

    def stat_b(chosen):
        seen.append(("b", tuple(chosen)))
        return {"x": 0.0, "y": 1.0}

    out = paired_bootstrap(stat_a, stat_b, ["p", "q", "r"], replicates=5, seed=0)
    assert set(out) == {"x", "y"} and out["y"].pvalue == 1.0
    draws_a = [ids for side, ids in seen if side == "a"]
    draws_b = [ids for side, ids in seen if side == "b"]
    assert draws_a == draws_b and len(draws_a) == 6 and all(len(d) == 3 for d in draws_a)
    assert len({d for d in draws_a[1:]}) > 1  # replicates differ (seeded, resampled with replacement)


def test_holm_against_a_hand_computation():
    p = [0.01, 0.04, 0.03, 0.005, float("nan")]
    # sorted: 0.005 (x4), 0.01 (x3), 0.03 (x2), 0.04 (x1) -> 0.02, 0.03, 0.06, 0.04 -> monotone: 0.02 0.03 0.06 0.06
    np.testing.assert_allclose(holm(p), [0.03, 0.06, 0.06, 0.02, np.nan])
    np.testing.assert_allclose(holm([0.5, 0.9]), [1.0, 1.0])
    np.testing.assert_allclose(holm([0.2]), [0.2])
    assert holm([]).size == 0
