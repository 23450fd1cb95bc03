"""Noise-floor perturbation and channels, worst-group gap with its simultaneous interval (hand computations)."""
import io

import numpy as np
import pytest
import torch

from metrics.attribute_counts import accumulate, compute_attribute_stats, empty_state
from metrics.attribute_floor import PERTURBATION, perturb
from metrics.attribute_gap import worst_group_gap
from reference_models.shared.attribute_classifiers.base import AttributePrediction


def _image(seed=0, size=48):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]
    base = np.stack([x * 4, y * 4, (x + y) * 2], axis=-1).astype(np.float64)
    return np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8)


def test_perturbation_is_jpeg95_444_then_a_1px_right_shift_with_edge_replication():
    from PIL import Image

    img = _image()
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=95, subsampling=0)
    decoded = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    out = perturb(img)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert np.array_equal(out[:, 0], decoded[:, 0])          # left column replicated
    assert np.array_equal(out[:, 1:], decoded[:, :-1])       # content moved one pixel right
    assert not np.array_equal(out, img)
    assert np.abs(out[:, 1:].astype(int) - img[:, :-1]).mean() < 3   # imperceptible: JPEG q95 error only
    with Image.open(io.BytesIO(buf.getvalue())) as im:       # 4:4:4: chroma not subsampled
        assert im.layer[0][1:3] == im.layer[1][1:3] == (1, 1)
    assert "q95" in PERTURBATION and "444" in PERTURBATION and "1px" in PERTURBATION


class _Stub:
    """Gender = mean of the red channel > 100; a bright image whose first two columns are equal has no face."""

    name = "stub"

    def identity_key(self):
        return "k"

    def predict(self, images):
        from reference_models.shared.attribute_classifiers.base import images_to_list

        ims = images_to_list(images)
        out = AttributePrediction.empty(len(ims), status=0)
        for i, im in enumerate(ims):
            m = float(im[..., 0].mean())
            if np.array_equal(im[:, 0], im[:, 1]) and m > 200:   # edge-replicated bright image: no face
                out.status[i] = 1
                continue
            out.gender[i], out.age_bin[i], out.age_years[i], out.p_male[i] = int(m > 100), 5, 25.0, float(m > 100)
        return out


def test_perturbed_hq_has_its_own_channel_and_feeds_the_noise_table(monkeypatch):
    import metrics.attribute_error as ae
    from bench.core.types import Attributes, Sample

    stub = _Stub()
    monkeypatch.setattr(ae, "shared_classifier", lambda backend, options: (stub, stub, stub))
    metric = ae.AttributeBias(replicates=50)
    channels = metric.channels()
    assert channels["hq_perturbed"][0] == "reference" and channels["hq"][0] == "reference"
    assert PERTURBATION in channels["hq_perturbed"][1] and PERTURBATION not in channels["hq"][1]
    assert channels["hq_perturbed"][1].endswith("/age_years,age_bin,gender,p_male,status")
    hq = torch.zeros(3, 3, 16, 16, dtype=torch.uint8)
    hq[0] = 50
    hq[1, 0] = 150
    hq[2] = 250
    hq[2, :, :, 0] = 0            # the 1-px shift replicates this dark left column: a visible change
    samples = [Sample(id=str(i), attributes=Attributes()) for i in range(3)]
    vectors = metric.reference_vectors(hq, samples)
    assert set(vectors) == {"hq", "hq_perturbed"}
    r = metric.compute(metric.fold({**metric.restored_vectors(hq, samples), **vectors}, samples))
    # image 2's perturbed copy has no face: 1 disagreement of 3 for gender and age bin
    assert r["noise_gender_err"] == pytest.approx(1 / 3) and r["noise_age_err"] == pytest.approx(1 / 3)
    assert r["gender_err"] == 0


def _wilson_by_roots(k, n, z):
    """Wilson bounds as the roots in p of (k/n - p)^2 = z^2 p (1 - p) / n (independent of the module)."""
    ph = k / n
    a, b, c = 1 + z * z / n, -(2 * ph + z * z / n), ph * ph
    roots = np.sort(np.roots([a, b, c]).real)
    return max(roots[0], 0.0), min(roots[1], 1.0)


def test_worst_group_gap_by_hand():
    # three groups: 10/40, 2/40 and 5/12 (too small for min_group = 30: listed, not used)
    g = worst_group_gap([10, 2, 5], [40, 40, 12], min_group=30)
    assert g["value"] == pytest.approx(10 / 40 - 2 / 40)
    assert g["groups"] == 2 and g["min_n"] == 40
    z = 2.241402727604947          # Phi^-1(1 - 0.05 / (2 * 2)), from a normal table
    lo1, hi1 = _wilson_by_roots(10, 40, z)
    lo2, hi2 = _wilson_by_roots(2, 40, z)
    assert g["lo"] == pytest.approx(max(0.0, max(lo1, lo2) - min(hi1, hi2)), abs=1e-9)
    assert g["hi"] == pytest.approx(max(hi1, hi2) - min(lo1, lo2), abs=1e-9)
    assert g["lo"] <= g["value"] <= g["hi"]
    one = worst_group_gap([10, 5], [40, 12], min_group=30)
    assert np.isnan(one["value"]) and one["groups"] == 1 and one["min_n"] == 40


def test_gap_interval_includes_zero_when_all_groups_have_the_same_rate():
    rng = np.random.default_rng(7)
    includes_zero = 0
    for _ in range(300):
        errors = rng.binomial(40, 0.2, size=6)
        g = worst_group_gap(errors, np.full(6, 40), min_group=30)
        assert g["value"] > 0 or np.all(errors == errors[0])
        includes_zero += g["lo"] == 0.0
    assert includes_zero / 300 >= 0.95       # >= 95 % coverage of the true gap 0


def test_gap_through_the_metric_on_equal_rate_groups():
    """4 label groups of 40 images, each image's gender flipped with probability 0.25 (seeded)."""
    rng = np.random.default_rng(3)
    n = 160
    lb = np.repeat([5, 6, 5, 6], 40)
    lg = np.repeat([0, 0, 1, 1], 40)
    flip = rng.random(n) < 0.25
    hq_g = lg.copy()
    r_g = np.where(flip, 1 - hq_g, hq_g)

    def p(genders):
        out = AttributePrediction.empty(n, status=0)
        out.gender[:], out.age_bin[:], out.p_male[:], out.age_years[:] = genders, lb, genders, 25.0
        return out

    state = empty_state()
    accumulate(state, p(r_g), p(hq_g), lb, lg, np.full(n, 25.0))
    r = compute_attribute_stats(state, replicates=50)
    rates = [flip[i * 40:(i + 1) * 40].mean() for i in range(4)]
    assert r["gender_err_gap"] == pytest.approx(max(rates) - min(rates))
    assert r["gender_err_gap_groups"] == 4 and r["gender_err_gap_min_n"] == 40
    assert r["gender_err_gap_lo"] == 0.0 < r["gender_err_gap"] < r["gender_err_gap_hi"]
