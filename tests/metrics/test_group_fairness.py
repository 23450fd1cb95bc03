"""The group-fairness statistics against scipy or a direct formula written out here."""
import math

import numpy as np
import pytest
from scipy import stats

from metrics.group_fairness import (
    EXACT_BELOW,
    fisher_exact_2x2,
    homogeneity_test,
    kl_divergence,
    mcnemar_exact,
    rate_gap,
    rate_parity_test,
    representation,
    smoothed,
    stuart_maxwell,
    total_variation,
)


@pytest.mark.parametrize("shape", [(2, 2), (3, 2), (5, 2), (4, 3)])
def test_homogeneity_matches_scipy_chi2_contingency(shape):
    rng = np.random.default_rng(sum(shape))
    for _ in range(20):
        table = rng.integers(1, 60, size=shape)
        ours = homogeneity_test(table)
        chi2, p, dof, expected = stats.chi2_contingency(table, correction=False)
        assert ours["statistic"] == pytest.approx(chi2, rel=1e-10)
        assert ours["p"] == pytest.approx(p, rel=1e-9, abs=1e-300)
        assert ours["df"] == dof and ours["min_expected"] == pytest.approx(expected.min())


def test_homogeneity_drops_empty_rows_and_handles_degenerate_tables():
    table = np.array([[10, 5], [0, 0], [3, 12]])
    chi2, p, dof, _ = stats.chi2_contingency(table[[0, 2]], correction=False)
    r = homogeneity_test(table)
    assert r["statistic"] == pytest.approx(chi2) and r["p"] == pytest.approx(p) and r["df"] == dof
    same = homogeneity_test([[7, 0], [30, 0]])  # every group keeps everything: equal rates
    assert same["statistic"] == 0 and same["p"] == 1
    assert math.isnan(homogeneity_test([[7, 3], [0, 0]])["p"])  # a single group: nothing to compare
    with pytest.raises(ValueError):
        homogeneity_test([[1, -1], [2, 2]])


def test_fisher_exact_matches_scipy():
    rng = np.random.default_rng(1)
    tables = [rng.integers(0, 12, size=(2, 2)) for _ in range(200)]
    tables += [np.array([[0, 0], [3, 4]]), np.array([[5, 0], [0, 5]]), np.array([[0, 9], [9, 0]]),
               np.array([[1, 0], [0, 0]])]
    for table in tables:
        expected = stats.fisher_exact(table, alternative="two-sided").pvalue
        assert fisher_exact_2x2(table) == pytest.approx(expected, rel=1e-9, abs=1e-15), table


def test_rate_parity_uses_fisher_for_two_small_groups_and_chi2_otherwise():
    small = rate_parity_test([9, 3], [10, 10])  # expected not-kept count 4 < 5
    assert small["fisher"] == 1 and small["groups"] == 2
    assert small["p"] == pytest.approx(stats.fisher_exact([[9, 1], [3, 7]]).pvalue)
    large = rate_parity_test([80, 60], [100, 100])
    chi2, p, _, _ = stats.chi2_contingency([[80, 20], [60, 40]], correction=False)
    assert large["fisher"] == 0 and large["statistic"] == pytest.approx(chi2) and large["p"] == pytest.approx(p)
    three = rate_parity_test([9, 3, 0], [10, 10, 0])  # an empty group is ignored
    assert three["groups"] == 2 and three["fisher"] == 1
    five = rate_parity_test([40, 35, 30, 20, 44], [50, 50, 50, 50, 50])
    chi2, p, dof, _ = stats.chi2_contingency(np.array([[40, 10], [35, 15], [30, 20], [20, 30], [44, 6]]),
                                             correction=False)
    assert five["p"] == pytest.approx(p) and five["df"] == dof == 4
    assert rate_parity_test([50, 50], [50, 50])["p"] == 1.0
    with pytest.raises(ValueError):
        rate_parity_test([5], [4])


def test_rate_gap_is_max_minus_min_over_large_groups():
    kept, total = [9, 30, 1, 45], [10, 40, 2, 50]
    assert rate_gap(kept, total, min_group=10) == pytest.approx(0.9 - 0.75)
    assert rate_gap(kept, total, min_group=1) == pytest.approx(0.9 - 0.5)
    assert math.isnan(rate_gap(kept, total, min_group=45))


def test_stuart_maxwell_two_classes_is_mcnemar():
    b, c = 40, 18
    table = np.array([[100, b], [c, 70]])
    r = stuart_maxwell(table)
    assert r["statistic"] == pytest.approx((b - c) ** 2 / (b + c))
    assert r["df"] == 1 and r["exact"] == 0
    assert r["p"] == pytest.approx(stats.chi2.sf((b - c) ** 2 / (b + c), 1))


def test_exact_mcnemar_matches_the_binomial_test():
    for b, c in [(0, 5), (7, 2), (3, 3), (10, 1), (1, 0)]:
        expected = stats.binomtest(b, b + c, 0.5).pvalue
        assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-9)
        assert b + c < EXACT_BELOW
        r = stuart_maxwell(np.array([[50, b], [c, 60]]))
        assert r["exact"] == 1 and r["p"] == pytest.approx(expected, rel=1e-9)


def _fleiss_everitt(n):
    """Closed form of the Stuart-Maxwell statistic of a 3 x 3 table (Fleiss & Everitt 1971)."""
    d = n.sum(axis=1) - n.sum(axis=0)
    m = lambda i, j: (n[i, j] + n[j, i]) / 2.0  # noqa: E731
    num = m(1, 2) * d[0] ** 2 + m(0, 2) * d[1] ** 2 + m(0, 1) * d[2] ** 2
    return num / (2.0 * (m(0, 1) * m(1, 2) + m(0, 1) * m(0, 2) + m(0, 2) * m(1, 2)))


def _drop_last(n):
    """The textbook form: first K - 1 differences and covariance, solved (connected tables)."""
    k = n.shape[0]
    d = (n.sum(axis=1) - n.sum(axis=0))[: k - 1]
    s = np.empty((k - 1, k - 1))
    for i in range(k - 1):
        for j in range(k - 1):
            s[i, j] = n[i].sum() + n[:, i].sum() - 2 * n[i, i] if i == j else -(n[i, j] + n[j, i])
    return float(d @ np.linalg.solve(s, d))


def test_stuart_maxwell_matches_closed_forms():
    rng = np.random.default_rng(3)
    for _ in range(30):
        n3 = rng.integers(1, 40, size=(3, 3)).astype(float)
        r = stuart_maxwell(n3)
        assert r["statistic"] == pytest.approx(_fleiss_everitt(n3), rel=1e-9)
        assert r["df"] == 2 and r["p"] == pytest.approx(stats.chi2.sf(_fleiss_everitt(n3), 2))
        n5 = rng.integers(1, 40, size=(5, 5)).astype(float)
        assert stuart_maxwell(n5)["statistic"] == pytest.approx(_drop_last(n5), rel=1e-9)


def test_stuart_maxwell_classes_that_never_change_drop_out():
    n = np.array([[30, 12, 0, 4], [5, 40, 0, 7], [0, 0, 9, 0], [2, 9, 0, 20]], float)
    keep = [0, 1, 3]
    r = stuart_maxwell(n)
    assert r["df"] == 2 and r["statistic"] == pytest.approx(_fleiss_everitt(n[np.ix_(keep, keep)]))
    assert stuart_maxwell(np.diag([5.0, 7.0, 0.0])) == {"statistic": 0.0, "df": 0.0, "p": 1.0, "exact": 0.0,
                                                        "discordant": 0.0}


def test_divergences_match_scipy_and_the_formula():
    p_counts, q_counts = np.array([30, 0, 10]), np.array([20, 5, 15])
    p, q = smoothed(p_counts), smoothed(q_counts)
    assert p == pytest.approx((p_counts + 0.5) / (40 + 1.5))
    assert kl_divergence(p, q) == pytest.approx(stats.entropy(p, q))
    assert total_variation(p_counts / 40, q_counts / 40) == pytest.approx(0.5 * (10 + 5 + 5) / 40)
    assert kl_divergence([0.5, 0.5], [1.0, 0.0]) == np.inf


def test_representation_of_a_paired_table():
    n = np.array([[50, 10], [30, 60]])  # rows HQ class, columns restored class
    r = representation(n)
    hq, restored = np.array([60, 90]) / 150, np.array([80, 70]) / 150
    assert r["tv"] == pytest.approx(abs(hq - restored).sum() / 2)
    assert r["kl"] == pytest.approx(stats.entropy((np.array([80, 70]) + 0.5) / 151, (np.array([60, 90]) + 0.5) / 151))
    assert r["statistic"] == pytest.approx((10 - 30) ** 2 / 40) and r["n"] == 150
    assert math.isnan(representation(np.zeros((2, 2)))["p"])


def test_kruskal_wallis_equals_scipy_with_and_without_ties():
    from scipy import stats

    from metrics.group_fairness import kruskal_wallis

    rng = np.random.default_rng(5)
    cases = [
        [rng.normal(size=40), rng.normal(0.5, size=35), rng.normal(size=50)],
        [np.round(rng.normal(size=30), 1), np.round(rng.normal(0.3, size=31), 1)],  # many ties
        [np.array([1.0, 2, 2, 3]), np.array([2.0, 3, 4, 4, 5]), np.array([0.5, 1, 1])],
    ]
    for groups in cases:
        expected = stats.kruskal(*groups)
        got = kruskal_wallis(groups)
        assert got["statistic"] == pytest.approx(expected.statistic, rel=1e-12)
        assert got["p"] == pytest.approx(expected.pvalue, rel=1e-9)
        assert got["df"] == len(groups) - 1 and got["n"] == sum(len(g) for g in groups)
    # non-finite values are dropped, a lone group is no comparison, identical values no test
    with_nan = [np.array([1.0, np.nan, 2.0, 3.0]), np.array([4.0, 5.0, np.inf])]
    assert kruskal_wallis(with_nan)["p"] == pytest.approx(stats.kruskal([1.0, 2, 3], [4.0, 5]).pvalue)
    assert np.isnan(kruskal_wallis([np.arange(5.0)])["p"])
    assert np.isnan(kruskal_wallis([np.ones(4), np.ones(3)])["p"])
