import numpy as np
import pytest

from metrics.bootstrap import bootstrap_counts, bootstrap_linear


def test_multinomial_bootstrap_matches_the_image_bootstrap():
    """Resampling images == resampling cell counts: the intervals agree (up to Monte-Carlo noise)."""
    rng = np.random.default_rng(1)
    outcomes = (rng.random(400) < 0.3).astype(int)          # per-image errors
    counts = np.bincount(outcomes, minlength=2)
    ci = bootstrap_counts(counts, lambda c: c[:, 1] / c.sum(1), replicates=2000)
    per_image = [outcomes[rng.integers(0, 400, 400)].mean() for _ in range(2000)]
    lo, hi = np.quantile(per_image, [0.025, 0.975])
    assert ci.value == pytest.approx(outcomes.mean())
    assert ci.lo == pytest.approx(lo, abs=0.01) and ci.hi == pytest.approx(hi, abs=0.01)
    # binomial normal approximation as a second check
    p, n = outcomes.mean(), 400
    assert ci.hi - ci.lo == pytest.approx(2 * 1.96 * np.sqrt(p * (1 - p) / n), rel=0.15)


def test_bootstrap_linear_is_seeded_and_drops_undefined_replicates():
    counts = np.array([5, 3, 1])
    w = np.array([[1, 1], [0, 1], [0, 0]], float)      # numerator: cell 0; denominator: cells 0+1
    f = lambda s: {"r": np.where(s[:, 1] > 0, s[:, 0] / np.maximum(s[:, 1], 1), np.nan)}
    a = bootstrap_linear(counts, w, f)["r"]
    b = bootstrap_linear(counts, w, f)["r"]
    assert a == b and a.value == pytest.approx(5 / 8) and a.lo <= a.value <= a.hi
    with np.errstate(invalid="ignore", divide="ignore"):
        empty = bootstrap_linear(np.array([0, 0]), np.eye(2), lambda s: {"x": s[:, 0] / s[:, 1]})["x"]
    assert np.isnan(empty.lo)
