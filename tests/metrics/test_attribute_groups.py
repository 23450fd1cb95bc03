"""attr_groups on synthetic prediction vectors: per-group values recomputed image by image, fold/merge."""
import math

import numpy as np
import pytest
from scipy import stats

from bench.core.types import AGE_BIN_LABELS, Attributes, Sample, age_to_bin
from metrics.attribute_groups import AttributeGroups, group_value
from tests.attribute_support import aag_env, aag_models  # noqa: F401

RACE_SIZES = {0: 120, 1: 60, 2: 45, 3: 8}
FLIP = {0: 0.05, 1: 0.3, 2: 0.15, 3: 0.5}  # gender flip probability of the restoration, per race


def _row(age, gender, status=0):
    """One stored prediction vector (age_years, age_bin, gender, p_male, status); -1 = no prediction."""
    if status:
        return [math.nan, -1, -1, math.nan, status]
    return [age, age_to_bin(age), gender, float(gender), 0]


def _synthetic(seed=0):
    rng = np.random.default_rng(seed)
    samples, hq, restored = [], [], []
    i = 0
    for race, size in RACE_SIZES.items():
        for _ in range(size):
            age = int(rng.integers(1, 90))
            gender = int(rng.integers(0, 2))
            extra = {"race": race} if i % 37 else {}  # a few faces without the grouping label
            samples.append(Sample(id=f"s{i:04d}", attributes=Attributes(age=age, gender=gender, extra=extra)))
            hq_gender = gender if rng.random() > 0.1 else 1 - gender
            hq_age = age if rng.random() > 0.2 else min(100, age + 12)
            hq.append(_row(hq_age, hq_gender, status=1 if rng.random() < 0.02 else 0))
            r_gender = 1 - hq_gender if rng.random() < FLIP[race] else hq_gender
            r_age = hq_age if rng.random() > 0.3 + 0.1 * race else max(0, hq_age - 15)
            restored.append(_row(r_age, r_gender, status=1 if rng.random() < 0.05 else 0))
            i += 1
    return samples, {"restored": np.array(restored, float), "hq": np.array(hq, float)}


def _expected(samples, vectors, attr):
    """Per-group values image by image (no count table)."""
    col = 2 if attr == "gender" else 1
    per = {}
    for s, h, r in zip(samples, vectors["hq"], vectors["restored"]):
        g = per.setdefault(group_value(s, "race"), {"n": 0, "kept": 0, "den": 0, "err": 0, "err_den": 0,
                                                     "pairs": []})
        g["n"] += 1
        if h[col] >= 0:
            g["den"] += 1
            g["kept"] += int(r[col] == h[col])
            if r[col] >= 0:
                g["pairs"].append((int(h[col]), int(r[col])))
        label = s.attributes.gender if attr == "gender" else s.attributes.age_bin
        if r[col] >= 0:
            g["err_den"] += 1
            g["err"] += int(r[col] != label)
    return per


@pytest.mark.parametrize("attr", ["gender", "age"])
def test_per_group_values_match_an_image_by_image_count(attr):
    samples, vectors = _synthetic()
    metric = AttributeGroups(by="race", min_group=30, replicates=200)
    r = metric.compute(metric.fold(vectors, samples))
    per = _expected(samples, vectors, attr)
    assert set(per) == {"0", "1", "2", "3", "?"} and r["n_groups"] == 4 and r["n"] == len(samples)
    for g, e in per.items():
        assert r[f"race={g}.n"] == e["n"]
        assert r[f"race={g}.{attr}_keep"] == pytest.approx(e["kept"] / e["den"])
        assert r[f"race={g}.{attr}_err_label"] == pytest.approx(e["err"] / e["err_den"])
        assert r[f"race={g}.{attr}_keep_lo"] <= r[f"race={g}.{attr}_keep"] <= r[f"race={g}.{attr}_keep_hi"]
    kept = sum(e["kept"] for e in per.values()) / sum(e["den"] for e in per.values())
    assert r[f"{attr}_keep"] == pytest.approx(kept)
    eligible = [g for g in ("0", "1", "2", "3") if per[g]["den"] >= 30]
    assert eligible == ["0", "1", "2"]  # race 3 is too small, "?" is never tested
    rates = [per[g]["kept"] / per[g]["den"] for g in eligible]
    assert r[f"{attr}_keep_gap"] == pytest.approx(max(rates) - min(rates))
    table = [[per[g]["kept"], per[g]["den"] - per[g]["kept"]] for g in eligible]
    chi2, p, dof, _ = stats.chi2_contingency(np.array(table), correction=False)
    assert r[f"{attr}_rdp_p"] == pytest.approx(p) and r[f"{attr}_rdp_stat"] == pytest.approx(chi2)
    assert r[f"{attr}_rdp_df"] == dof == 2 and r[f"{attr}_rdp_groups"] == 3 and r[f"{attr}_rdp_fisher"] == 0
    # PR: the paired compositions of every face with both predictions
    pairs = [pair for e in per.values() for pair in e["pairs"]]
    k = 2 if attr == "gender" else 10
    hq_counts = np.bincount([h for h, _ in pairs], minlength=k)
    r_counts = np.bincount([x for _, x in pairs], minlength=k)
    assert r[f"{attr}_pr_tv"] == pytest.approx(0.5 * np.abs(hq_counts - r_counts).sum() / len(pairs))
    assert r[f"{attr}_pr_kl"] == pytest.approx(stats.entropy(r_counts + 0.5, hq_counts + 0.5))
    if attr == "gender":  # McNemar on the discordant pairs
        b = sum(1 for h, x in pairs if (h, x) == (0, 1))
        c = sum(1 for h, x in pairs if (h, x) == (1, 0))
        assert r["gender_pr_stat"] == pytest.approx((b - c) ** 2 / (b + c))
        assert r["gender_pr_p"] == pytest.approx(stats.chi2.sf((b - c) ** 2 / (b + c), 1))


def test_the_unequal_flip_rates_are_detected():
    samples, vectors = _synthetic()
    metric = AttributeGroups(by="race", replicates=0)
    r = metric.compute(metric.fold(vectors, samples))
    assert r["gender_rdp_p"] < 1e-3 and r["race=0.gender_keep"] > r["race=1.gender_keep"]
    assert math.isnan(r["gender_keep_lo"])  # no replicates, no interval


def test_fold_merge_of_chunks_with_different_groups_equals_the_fold_of_all():
    samples, vectors = _synthetic(seed=4)
    metric = AttributeGroups(by="race", replicates=100)
    order = np.argsort([s.attributes.extra.get("race", -1) for s in samples], kind="stable")
    a, b = order[:150], order[150:]  # a: races 0 and 1 (and "?"), b: races 1, 2, 3

    def part(rows):
        return metric.fold({k: v[rows] for k, v in vectors.items()}, [samples[i] for i in rows])

    part_a, part_b = part(a), part(b)
    assert {k.split("#")[0] for k in part_a} != {k.split("#")[0] for k in part_b}
    whole = metric.fold(vectors, samples)
    merged = metric.merge([part_a, part_b])
    assert set(merged) == set(whole)
    for key in whole:
        np.testing.assert_array_equal(merged[key], whole[key])
    r_whole, r_merged = metric.compute(whole), metric.compute(merged)
    assert r_whole.keys() == r_merged.keys()
    for key, value in r_whole.items():
        assert value == pytest.approx(r_merged[key], nan_ok=True), key


def test_a_restoration_without_a_face_is_not_kept():
    samples = [Sample(id=str(i), attributes=Attributes(age=30, gender=1, extra={"race": 0})) for i in range(4)]
    hq = np.array([_row(30, 1)] * 4, float)
    restored = np.array([_row(30, 1), _row(30, 1), _row(30, 1, status=1), _row(30, 0)], float)
    metric = AttributeGroups(replicates=0)
    r = metric.compute(metric.fold({"restored": restored, "hq": hq}, samples))
    assert r["race=0.gender_keep"] == pytest.approx(2 / 4)
    assert r["race=0.gender_err_label"] == pytest.approx(1 / 3)  # against labels: faces with a prediction
    assert math.isnan(r["gender_rdp_p"])  # a single group: nothing to compare


def test_grouping_by_gender_or_age_bin_and_without_hq():
    samples, vectors = _synthetic()
    by_gender = AttributeGroups(by="gender", replicates=0)
    r = by_gender.compute(by_gender.fold({"restored": vectors["restored"]}, samples))
    assert {k for k in r if k.endswith(".n")} == {"gender=female.n", "gender=male.n"}
    assert math.isnan(r["gender_keep"]) and 0 < r["gender_err_label"] < 1  # no HQ: only label errors
    by_bin = AttributeGroups(by="age_bin", replicates=0)
    groups = by_bin.groups(by_bin.fold(vectors, samples))
    assert groups == sorted(groups, key=lambda g: AGE_BIN_LABELS.index(g.split("=")[1]))
    with pytest.raises(ValueError, match="age_bin"):
        AttributeGroups(by="age")


def test_channels_are_those_of_attr(monkeypatch):
    """The same channel keys as attr (and the same options passed through), so vectors are shared."""
    import metrics.attribute_error as ae

    class Fake:
        name = "fake"

        def __init__(self, options):
            self.options = options

        def identity_key(self):
            return repr(sorted(self.options.items()))

    monkeypatch.setattr(ae, "shared_classifier", lambda backend, options: (Fake(dict(options)), None, None))
    def attr_channels(**options):  # attr's restored and HQ predictions (not its perturbed-HQ noise-floor copy)
        return {k: v for k, v in ae.AttributeBias(**options).channels().items() if k in ("restored", "hq")}

    assert AttributeGroups(by="race").channels() == attr_channels()
    assert set(attr_channels()) == {"restored", "hq"}
    detect = AttributeGroups(by="race", align="detect").channels()
    assert detect == attr_channels(align="detect") != attr_channels()


def test_real_faces_with_attr_share_the_stored_predictions(aag_env, utkface_dir, tmp_path):
    """Runner with attr and attr_groups on 30 real UTKFace faces: consistent values, one set of vectors."""
    from bench.harness.runner import Runner

    runner = Runner("bicubic", "utkface", root=str(utkface_dir.parent), metrics="attr,attr_groups",
                    degradation="x4", store=tmp_path / "s.sqlite", out=tmp_path, batch_size=8, progress=False,
                    metric_options={"attr_groups": {"replicates": 50, "min_group": 1}})
    runner.dataset._samples = runner.dataset.samples[3000:3240:8]
    summary = runner.run()
    attr, groups = summary.set_results["attr"], summary.set_results["attr_groups"]
    assert groups["n"] == 30 and sum(v for k, v in groups.items() if k.endswith(".n")) == 30
    assert attr["no_face_share"] == 0
    assert groups["gender_keep"] == pytest.approx(1 - attr["gender_err"])
    assert groups["gender_err_label"] == pytest.approx(attr["gender_err_label"])


def test_declared_directions():
    from bench.core.types import output_direction

    assert output_direction(AttributeGroups, "race=0.gender_keep") == "higher"
    assert output_direction(AttributeGroups, "gender_keep_gap_lo") == "lower"
    assert output_direction(AttributeGroups, "age_err_label_gap") == "lower"
    assert output_direction(AttributeGroups, "race=2.age_pr_tv") == "lower"
    for key in ("gender_rdp_p", "gender_pr_stat", "race=1.n", "age_rdp_fisher"):
        assert output_direction(AttributeGroups, key) == "info", key


def test_group_and_agreement_chips_follow_the_framing_of_the_scored_images():
    """attr_groups and attr_agreement read attr's predictions: the runner's ``framing`` reaches their chips
    (FFHQ template on FFHQ-framed images, detection on unaligned ones), never a silent UTKFace template."""
    from bench.core.registry import METRICS

    for framing, expected in (("ffhq", ("template", "ffhq")), ("utkface", ("template", "utkface")),
                              ("unaligned", ("detect", None))):
        groups = METRICS.build("attr_groups", framing=framing)
        agreement = METRICS.build("attr_agreement", framing=framing)
        for bias in (groups._bias, agreement._bias["first"]):
            options = bias.classifier_options
            assert (options["align"], options.get("template")) == expected, (framing, options)
            assert bias.describe()["framing"] == framing and bias.describe()["chips_from"] == "framing"
        assert agreement.describe()["first"]["framing"] == framing
    # an explicit option still wins, and says so
    second = METRICS.build("attr_agreement", framing="ffhq", second="dlib_onnx",
                           second_options={"align": "template", "template": "utkface"}).describe()["second"]
    assert second["chips_from"] == "option" and second["classifier_options"]["template"] == "utkface"
    assert METRICS.build("attr_groups")._bias.describe()["chips_from"].startswith("default")
