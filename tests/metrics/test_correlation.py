"""SRCC, KRCC (tau-b) and PLCC against scipy.stats (ties included), per pack, and the seeded bootstrap."""
import warnings

import numpy as np
import pytest
from scipy import stats

from metrics.bootstrap import multinomial_replicates
from metrics.correlation import (
    correlate,
    count_inversions,
    krcc_tau_b,
    mean_over_packs,
    orient,
    per_pack,
    plcc,
    rankdata_average,
    srcc,
)

TOL = 1e-12


def _scipy(x, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input warnings: scipy returns nan, as we do
        return (stats.spearmanr(x, y)[0], stats.kendalltau(x, y, variant="b")[0], stats.pearsonr(x, y)[0])


def _cases():
    rng = np.random.default_rng(7)
    cases = []
    for n in (2, 3, 5, 6, 17, 60, 333):
        x = rng.normal(size=n)
        cases.append((f"continuous-{n}", x, x + rng.normal(size=n)))
        cases.append((f"ties-both-{n}", rng.integers(0, 3, n).astype(float), rng.integers(0, 4, n).astype(float)))
        cases.append((f"ties-x-{n}", np.round(x, 0), -x + 0.3 * rng.normal(size=n)))
    cases.append(("ranks-of-5", np.array([1.0, 2, 3, 4, 5]), np.array([2.0, 1, 3, 5, 4])))
    cases.append(("mean-ranks-tied", np.array([1.5, 1.5, 3, 4, 5]), np.array([31.2, 30.1, 28.0, 28.0, 22.5])))
    cases.append(("reversed", np.arange(9.0), -np.arange(9.0) * 3.5))
    cases.append(("large-offset", 1e6 + rng.normal(size=40), rng.normal(size=40)))
    return cases


@pytest.mark.parametrize("name,x,y", _cases(), ids=[c[0] for c in _cases()])
def test_equal_to_scipy_with_ties(name, x, y):
    expected = _scipy(x, y)
    ours = (srcc(x, y), krcc_tau_b(x, y), plcc(x, y))
    for e, o, label in zip(expected, ours, ("srcc", "krcc", "plcc")):
        if np.isnan(e):
            assert np.isnan(o), (label, o)
        else:
            assert abs(o - e) <= TOL, (label, o, e)


def test_many_random_tied_samples_equal_scipy():
    rng = np.random.default_rng(1)
    worst = 0.0
    for _ in range(200):
        n = int(rng.integers(2, 40))
        x = rng.integers(0, int(rng.integers(1, 6)), n).astype(float)
        y = rng.integers(0, int(rng.integers(1, 6)), n).astype(float)
        for e, o in zip(_scipy(x, y), (srcc(x, y), krcc_tau_b(x, y), plcc(x, y))):
            assert np.isnan(e) == np.isnan(o)
            if not np.isnan(e):
                worst = max(worst, abs(o - e))
    assert worst <= TOL


def test_large_sample_tau_b_equals_scipy():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 50, 5000).astype(float)
    y = x + rng.integers(-30, 30, 5000)
    assert abs(krcc_tau_b(x, y) - stats.kendalltau(x, y, variant="b")[0]) <= TOL
    assert abs(srcc(x, y) - stats.spearmanr(x, y)[0]) <= TOL


def test_constant_side_and_too_few_pairs_are_nan():
    assert np.isnan(srcc([1, 1, 1], [1, 2, 3])) and np.isnan(krcc_tau_b([1, 2, 3], [4, 4, 4]))
    assert np.isnan(plcc([1.0], [2.0])) and np.isnan(krcc_tau_b([], []))


def test_non_finite_pairs_are_dropped():
    x = np.array([1.0, 2.0, np.nan, 4.0, 5.0, np.inf])
    y = np.array([2.0, 1.0, 3.0, 5.0, 4.0, 0.0])
    keep = np.isfinite(x)
    for ours, theirs in zip((srcc(x, y), krcc_tau_b(x, y), plcc(x, y)), _scipy(x[keep], y[keep])):
        assert abs(ours - theirs) <= TOL


def test_rankdata_and_inversions():
    rng = np.random.default_rng(0)
    values = rng.integers(0, 7, 101).astype(float)
    np.testing.assert_array_equal(rankdata_average(values), stats.rankdata(values, method="average"))
    for n in (0, 1, 2, 9, 64, 257):
        a = rng.integers(0, 10, n)
        brute = sum(int(a[i] > a[j]) for i in range(n) for j in range(i + 1, n))
        assert count_inversions(a) == brute


def test_orientation_flips_the_sign():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=30), rng.normal(size=30)
    lower_better = orient(x, higher_is_better=False)
    assert srcc(lower_better, y) == pytest.approx(-srcc(x, y), abs=TOL)
    assert krcc_tau_b(lower_better, y) == pytest.approx(-krcc_tau_b(x, y), abs=TOL)
    assert plcc(lower_better, y) == pytest.approx(-plcc(x, y), abs=TOL)


def test_per_pack_equals_scipy_inside_each_pack_and_mean_skips_nan():
    rng = np.random.default_rng(11)
    packs = np.repeat(["p1", "p2", "p3"], 5)
    x = rng.normal(size=15)
    y = np.r_[rng.permutation(5), [3, 3, 3, 3, 3], rng.permutation(5)].astype(float)  # p2: humans all tied
    table = per_pack(x, y, packs)
    assert list(table["pack"]) == ["p1", "p2", "p3"] and list(table["n"]) == [5, 5, 5]
    for i, pack in enumerate(("p1", "p2", "p3")):
        sel = packs == pack
        for name, value in zip(("srcc", "krcc", "plcc"), _scipy(x[sel], y[sel])):
            assert (np.isnan(value) and np.isnan(table[name][i])) or abs(table[name][i] - value) <= TOL
    assert np.isnan(table["srcc"][1])
    assert mean_over_packs(table["srcc"]) == pytest.approx((table["srcc"][0] + table["srcc"][2]) / 2, abs=TOL)
    result = correlate(x, y, packs, replicates=50)
    assert result.per_pack_undefined["srcc"] == 1 and result.n_units == 3


def _study(seed=0, packs=40, size=5):
    rng = np.random.default_rng(seed)
    truth = np.tile(np.arange(size, 0, -1.0), packs)
    metric = truth + rng.normal(scale=1.5, size=truth.size)
    human = truth + rng.normal(scale=0.8, size=truth.size)
    return metric, human, np.repeat(np.arange(packs), size)


def test_bootstrap_interval_contains_the_estimate_and_is_seeded():
    x, y, packs = _study()
    a = correlate(x, y, packs, replicates=300, seed=123)
    b = correlate(x, y, packs, replicates=300, seed=123)
    c = correlate(x, y, packs, replicates=300, seed=124)
    for scope in ("per_pack", "global_"):
        for name in ("srcc", "krcc", "plcc"):
            interval = getattr(a, scope)[name]
            assert interval.lo <= interval.value <= interval.hi, (scope, name, interval)
            assert interval.hi - interval.lo > 0.01 and interval.n_replicates == 300
            assert getattr(b, scope)[name] == interval  # same seed, same interval (exactly)
            assert getattr(c, scope)[name] != interval
    assert a.global_["srcc"].value == pytest.approx(stats.spearmanr(x, y)[0], abs=TOL)


def test_bootstrap_resamples_whole_packs():
    """One replicate equals the coefficients of the explicitly resampled packs (duplicates = ties), by scipy."""
    x, y, packs = _study(seed=2, packs=8)
    seed = 99
    counts = next(multinomial_replicates(np.ones(8, np.int64), 1, seed))[0]
    index = np.concatenate([np.tile(np.flatnonzero(packs == p), counts[p]) for p in range(8) if counts[p]])
    expected = _scipy(x[index], y[index])
    result = correlate(x, y, packs, replicates=1, seed=seed, level=0.0)  # level 0: lo = hi = the one replicate
    for name, value in zip(("srcc", "krcc", "plcc"), expected):
        assert result.global_[name].lo == pytest.approx(value, abs=TOL)
    per = per_pack(x, y, packs)
    weights = counts[per["pack"].astype(int)]
    expected_pack = (per["srcc"] * weights).sum() / weights.sum()
    assert result.per_pack["srcc"].lo == pytest.approx(expected_pack, abs=TOL)


def test_mos_study_resamples_images_and_has_no_per_pack():
    rng = np.random.default_rng(4)
    x = rng.normal(size=50)
    y = x + rng.normal(size=50)
    result = correlate(x, y, None, replicates=200, seed=1)
    assert result.per_pack == {} and result.n_units == 50
    assert result.global_["krcc"].lo < result.global_["krcc"].value < result.global_["krcc"].hi
