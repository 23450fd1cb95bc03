"""attr_agreement: Cohen's kappa against direct formulas and textbook values, fold/merge, shared channels,
and end-to-end runs with two classifiers (fake ones registered here; the real dlib vs a tiny trained one)."""
import math

import numpy as np
import pytest

from bench.core.types import Attributes, Sample, age_to_bin
from metrics.attribute_agreement import AttributeAgreement, kappa_from_tables
from metrics.attribute_error import AttributeBias
from reference_models.shared.attribute_classifiers.base import AttributeClassifier, AttributePrediction
from tests.attribute_support import aag_env, aag_models  # noqa: F401


# -- independent implementations: per-face loops, no count table -------------------------------------

def kappa_direct(a, b, classes, weights=None):
    """Cohen's kappa of two lists of labels, by the textbook formula (loops over faces and classes)."""
    pairs = [(x, y) for x, y in zip(a, b) if x in classes and y in classes]
    n = len(pairs)
    if n == 0:
        return math.nan, math.nan
    k = len(classes)

    def w(i, j):
        if weights == "linear":
            return 1 - abs(classes.index(i) - classes.index(j)) / (k - 1)
        return 1.0 if i == j else 0.0

    po = sum(w(x, y) for x, y in pairs) / n
    pa = {c: sum(x == c for x, _ in pairs) / n for c in classes}
    pb = {c: sum(y == c for _, y in pairs) / n for c in classes}
    pe = sum(w(i, j) * pa[i] * pb[j] for i in classes for j in classes)
    return ((po - pe) / (1 - pe) if pe < 1 else math.nan), po


def test_textbook_two_by_two():
    """Wikipedia "Cohen's kappa", worked example: 50 proposals, yes/yes 20, yes/no 5, no/yes 10, no/no 15:
    p_o = 35/50 = 0.7, p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.5, kappa = 0.2 / 0.5 = 0.4."""
    kappa, po = kappa_from_tables(np.array([[20, 5], [10, 15]]))
    assert po == pytest.approx(0.7) and kappa == pytest.approx(0.4)
    # second worked example there: 45/15/25/15 -> p_o 0.60, p_e 0.54, kappa 0.1304
    kappa, _ = kappa_from_tables(np.array([[45, 15], [25, 15]]))
    assert kappa == pytest.approx(0.06 / 0.46)


def test_linear_weighted_kappa_by_hand():
    """3 classes, table [[2,1,0],[0,2,1],[1,0,3]] (n=10), weights 1, 0.5, 0: observed
    (2+2+3)/10 + 0.5*(1+1+0+0)/10 = 0.8; rows (3,3,4), columns (3,3,4) /10: expected
    0.09+0.09+0.16 + 0.5*(0.09+0.12+0.09+0.12) + 0 = 0.55; kappa_w = 0.25/0.45."""
    table = np.array([[2, 1, 0], [0, 2, 1], [1, 0, 3]])
    kappa, po = kappa_from_tables(table, "linear")
    assert po == pytest.approx(0.8) and kappa == pytest.approx(0.25 / 0.45)
    a = sum(([i] * int(table[i].sum()) for i in range(3)), [])
    b = sum(([j] * int(table[i, j]) for i in range(3) for j in range(3)), [])
    assert kappa == pytest.approx(kappa_direct(a, b, [0, 1, 2], "linear")[0])


@pytest.mark.parametrize("k", [2, 10])
def test_kappa_against_the_direct_formula(k):
    rng = np.random.default_rng(k)
    a = rng.integers(0, k, 400)
    b = np.where(rng.random(400) < 0.6, a, rng.integers(0, k, 400))
    table = np.zeros((k, k), np.int64)
    np.add.at(table, (a, b), 1)
    for weights in (None, "linear"):
        kappa, po = kappa_from_tables(table, weights)
        expected = kappa_direct(a.tolist(), b.tolist(), list(range(k)), weights)
        assert (kappa, po) == pytest.approx(expected)
    batch, _ = kappa_from_tables(np.stack([table, table.T, np.diag(table.sum(1))]))  # vectorised
    assert batch == pytest.approx([kappa_from_tables(table)[0], kappa_from_tables(table.T)[0], 1.0])


def test_perfect_agreement_independence_and_undefined():
    assert kappa_from_tables(np.diag([30, 12, 7]))[0] == pytest.approx(1.0)
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 2, 40_000), rng.integers(0, 2, 40_000)
    table = np.zeros((2, 2), np.int64)
    np.add.at(table, (a, b), 1)
    assert abs(kappa_from_tables(table)[0]) < 0.02
    kappa, po = kappa_from_tables(np.array([[5, 0], [0, 0]]))  # one class only: p_e = 1
    assert math.isnan(kappa) and po == 1.0
    assert all(math.isnan(v) for v in kappa_from_tables(np.zeros((2, 2))))
    assert kappa_from_tables(np.array([[0, 10], [10, 0]]))[0] == pytest.approx(-1.0)


# -- the metric on stored prediction vectors ------------------------------------------------------------

def _row(age, gender, status=0):
    if status:
        return [math.nan, -1, -1, math.nan, status]
    return [age, age_to_bin(age), gender, float(gender), 0]


def _synthetic(n=300, seed=0):
    """Two classifiers that agree on most faces; a restoration that flips some; a few faces without a
    face or with a classifier failure on either side."""
    rng = np.random.default_rng(seed)
    samples, vec = [], {k: [] for k in ("first_hq", "first_restored", "second_hq", "second_restored")}
    for i in range(n):
        age, gender = int(rng.integers(1, 90)), int(rng.integers(0, 2))
        samples.append(Sample(id=f"s{i:04d}", attributes=Attributes(age=age, gender=gender)))
        changed = rng.random() < 0.3                       # the method changes this face
        r_age, r_gender = (max(0, age - 20), 1 - gender) if changed else (age, gender)
        for role, noise in (("first", 0.05), ("second", 0.12)):
            def seen(a, g):
                if rng.random() < noise:
                    g = 1 - g
                if rng.random() < noise:
                    a = min(100, a + 15)
                return a, g
            status_h = 1 if rng.random() < 0.03 else (3 if rng.random() < 0.02 else 0)
            status_r = 1 if rng.random() < 0.05 else (3 if rng.random() < 0.02 else 0)
            vec[f"{role}_hq"].append(_row(*seen(age, gender), status=status_h))
            vec[f"{role}_restored"].append(_row(*seen(r_age, r_gender), status=status_r))
    return samples, {k: np.array(v, float) for k, v in vec.items()}


def _flips(v_hq, v_r, col):
    """Per face: 'flip' / 'kept' / None (undefined), the attr definition written out."""
    out = []
    for h, r in zip(v_hq, v_r):
        if h[col] < 0:
            out.append(None)
        elif r[4] == 1:
            out.append("flip")
        elif r[col] < 0:
            out.append(None)
        else:
            out.append("flip" if r[col] != h[col] else "kept")
    return out


def _metric(**kw):
    return AttributeAgreement(first="dlib_onnx", second="trained", second_weights="w.safetensors", **kw)


@pytest.mark.parametrize("attr,col,k", [("gender", 2, 2), ("age", 1, 10)])
def test_every_output_matches_a_face_by_face_computation(attr, col, k):
    samples, vec = _synthetic()
    m = _metric(replicates=200)
    out = m.compute(m.fold(vec, samples))
    assert out["n"] == len(samples)
    for side in ("hq", "restored"):
        a, b = vec[f"first_{side}"][:, col].astype(int), vec[f"second_{side}"][:, col].astype(int)
        kappa, po = kappa_direct(a.tolist(), b.tolist(), list(range(k)))
        assert out[f"kappa_{attr}_{side}"] == pytest.approx(kappa)
        assert out[f"agree_{attr}_{side}"] == pytest.approx(po)
        assert out[f"n_{attr}_{side}"] == sum((a >= 0) & (b >= 0))
        assert out[f"kappa_{attr}_{side}_lo"] < kappa < out[f"kappa_{attr}_{side}_hi"]
        if attr == "age":
            assert out[f"kappa_age_{side}_linear"] == pytest.approx(
                kappa_direct(a.tolist(), b.tolist(), list(range(k)), "linear")[0])
    fa = _flips(vec["first_hq"], vec["first_restored"], col)
    fb = _flips(vec["second_hq"], vec["second_restored"], col)
    kappa, po = kappa_direct(fa, fb, ["kept", "flip"])
    assert out[f"kappa_{attr}_flip"] == pytest.approx(kappa) and out[f"agree_{attr}_flip"] == pytest.approx(po)
    assert 0.2 < kappa < 0.95  # the two agree on which faces changed, imperfectly
    for role, flips in (("first", fa), ("second", fb)):
        defined = [f for f in flips if f is not None]
        assert out[f"{attr}_err_{role}"] == pytest.approx(defined.count("flip") / len(defined))


def test_each_error_is_attr_s_error_with_that_classifier():
    """gender_err_first / _second equal attr's gender_err computed (by metrics.attribute_counts) from the
    same classifier's vectors: the definition is attr's, including a restored face without a face."""
    samples, vec = _synthetic(seed=3)
    m = _metric(replicates=50)
    out = m.compute(m.fold(vec, samples))
    attr = AttributeBias(replicates=50)
    for role in ("first", "second"):
        ref = attr.compute(attr.fold({"restored": vec[f"{role}_restored"], "hq": vec[f"{role}_hq"]}, samples))
        assert out[f"gender_err_{role}"] == pytest.approx(ref["gender_err"])
        assert out[f"age_err_{role}"] == pytest.approx(ref["age_err"])


def test_fold_merge_of_chunks_equals_the_fold_of_all():
    samples, vec = _synthetic(seed=5)
    m = _metric(replicates=100)
    whole = m.fold(vec, samples)
    cuts = [0, 17, 130, len(samples)]
    parts = [m.fold({k: v[a:b] for k, v in vec.items()}, samples[a:b]) for a, b in zip(cuts, cuts[1:])]
    merged = m.merge(parts)
    assert set(merged) == set(whole) and all(np.array_equal(merged[k], whole[k]) for k in whole)
    assert m.compute(merged) == pytest.approx(m.compute(whole), nan_ok=True)
    assert whole["gender_hq"].shape == (3, 3) and whole["age_restored"].shape == (11, 11)
    assert whole["gender_flip"].shape == (3, 3) and whole["gender_hq"].sum() == len(samples)


def test_without_hq_only_the_restored_side_is_defined():
    samples, vec = _synthetic(seed=7)
    m = _metric(replicates=20)
    out = m.compute(m.fold({k: v for k, v in vec.items() if k.endswith("restored")}, samples))
    assert math.isfinite(out["kappa_gender_restored"]) and out["n_gender_hq"] == 0
    assert math.isnan(out["kappa_gender_hq"]) and math.isnan(out["gender_err_first"])


def test_channels_are_those_of_attr_for_each_classifier(monkeypatch):
    import metrics.attribute_error as ae

    class Fake:
        def __init__(self, backend, options):
            self.name, self.options = backend, options

        def identity_key(self):
            return repr(sorted(self.options.items()))

    monkeypatch.setattr(ae, "shared_classifier", lambda backend, options: (Fake(backend, dict(options)), None, None))
    m = AttributeAgreement(first="dlib_onnx", second="trained", second_weights="a.safetensors")
    channels = m.channels()
    first, second = AttributeBias("dlib_onnx").channels(), AttributeBias("trained", weights="a.safetensors").channels()
    assert channels == {"first_restored": first["restored"], "first_hq": first["hq"],
                        "second_restored": second["restored"], "second_hq": second["hq"]}
    assert first["hq"] != second["hq"]
    # the other spellings of the options give the same classifiers
    same = [AttributeAgreement(second="trained", second_options={"weights": "a.safetensors"}),
            AttributeAgreement(first={"classifier": "dlib_onnx"}, second={"classifier": "trained",
                                                                        "weights": "a.safetensors"})]
    assert all(s.channels() == channels for s in same)
    detect = AttributeAgreement(first_align="detect", second="trained", second_weights="a.safetensors")
    assert detect.channels()["first_hq"] == AttributeBias("dlib_onnx", align="detect").channels()["hq"]


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="unknown option"):
        AttributeAgreement(weights="a")
    with pytest.raises(ValueError, match="same classifier"):
        AttributeAgreement(first="dlib_onnx", second="dlib_onnx")
    with pytest.raises(ValueError, match="must name a classifier"):
        AttributeAgreement(second={"weights": "a"})


def test_declared_directions():
    from bench.core.types import output_direction

    assert output_direction(AttributeAgreement, "gender_err_first") == "lower"
    assert output_direction(AttributeAgreement, "age_err_second_hi") == "lower"
    for key in ("kappa_gender_hq", "agree_age_flip", "n_gender_restored", "kappa_age_hq_linear"):
        assert output_direction(AttributeAgreement, key) == "info", key


# -- end to end: two classifiers through the runner --------------------------------------------------

class FakeMean(AttributeClassifier):
    """A fake classifier for the tests: gender = mean intensity above ``threshold``, age bin from the mean
    of the red channel; an almost black image has no face."""

    name = "fake_mean"

    def __init__(self, threshold: float = 120.0) -> None:
        self.threshold = float(threshold)

    def identity(self):
        return {"name": self.name, "threshold": self.threshold}

    def _predict_list(self, images):
        out = AttributePrediction.empty(len(images), status=0)
        for i, im in enumerate(images):
            m = float(np.mean(im))
            if m < 3:
                out.status[i] = 1
                continue
            out.gender[i] = int(m > self.threshold)
            out.p_male[i] = float(m > self.threshold)
            out.age_bin[i] = min(9, int(np.mean(im[..., 0]) / 25.6))
            out.age_years[i] = 10.0 * out.age_bin[i]
            out.n_faces[i] = 1
        return out


def test_runner_with_attr_and_two_fake_classifiers(monkeypatch, tmp_path):
    """attr (first classifier) and attr_agreement in one run: the agreement's first-classifier error is attr's,
    and the values equal those computed from the images directly."""
    from bench.harness.runner import Runner
    from reference_models.shared.attribute_classifiers import BACKENDS

    monkeypatch.setitem(BACKENDS, "fake_mean", "tests.metrics.test_attribute_agreement:FakeMean")
    opts = {"first": "fake_mean", "first_threshold": 110, "second": "fake_mean", "second_threshold": 125,
            "replicates": 50}
    runner = Runner("bicubic", "synthetic", dataset_options={"n": 24}, metrics="attr,attr_agreement",
                    degradation="x8", store=tmp_path / "s.sqlite", out=tmp_path, batch_size=8, progress=False,
                    metric_options={"attr": {"classifier": "fake_mean", "threshold": 110, "replicates": 50},
                                    "attr_agreement": opts})
    summary = runner.run()
    agreement, attr = summary.set_results["attr_agreement"], summary.set_results["attr"]
    assert agreement["n"] == 24
    assert agreement["gender_err_first"] == pytest.approx(attr["gender_err"])
    assert agreement["age_err_first"] == pytest.approx(attr["age_err"])
    # one set of stored vectors for the first classifier: attr's channels
    assert runner.plan.channels["attr_agreement"]["first_hq"] == runner.plan.channels["attr"]["hq"]
    assert runner.plan.channels["attr_agreement"]["second_hq"] != runner.plan.channels["attr"]["hq"]
    assert 0 < agreement["n_gender_flip"] <= 24 and -1 <= agreement["kappa_gender_hq"] <= 1


def test_vectors_from_images_with_two_fake_classifiers(monkeypatch):
    """restored_vectors / reference_vectors classify with each classifier; the values equal a direct count."""
    from reference_models.shared.attribute_classifiers import BACKENDS

    monkeypatch.setitem(BACKENDS, "fake_mean", "tests.metrics.test_attribute_agreement:FakeMean")
    rng = np.random.default_rng(0)
    n = 60
    hq = rng.integers(0, 256, (n, 16, 16, 3), dtype=np.uint8) // rng.integers(1, 4, (n, 1, 1, 1)).astype(np.uint8)
    restored = np.clip(hq.astype(int) + rng.integers(-60, 60, (n, 1, 1, 1)), 0, 255).astype(np.uint8)
    restored[:3] = 0  # no face
    samples = [Sample(id=f"f{i}", attributes=Attributes()) for i in range(n)]
    metric = AttributeAgreement(first="fake_mean", first_threshold=90, second="fake_mean", second_threshold=100,
                                replicates=20)
    out = metric.compute(metric.partial(restored, hq, samples))
    a, b = FakeMean(90), FakeMean(100)
    for side, images in (("hq", hq), ("restored", restored)):
        pa, pb = a.predict(images), b.predict(images)
        assert out[f"kappa_gender_{side}"] == pytest.approx(
            kappa_direct(pa.gender.tolist(), pb.gender.tolist(), [0, 1])[0])
    pa_h, pa_r = a.predict(hq), a.predict(restored)
    flips = ["flip" if pa_r.status[i] == 1 or pa_r.gender[i] != pa_h.gender[i] else "kept" for i in range(n)]
    assert out["gender_err_first"] == pytest.approx(flips.count("flip") / n)
    assert out["n_gender_restored"] == n - 3


def test_real_faces_dlib_vs_a_tiny_classifier_trained_here(aag_env, utkface_dir, tmp_path):
    """20 real UTKFace faces, attr (dlib) + attr_agreement (dlib vs a 1-epoch CNN trained here on 60 faces:
    a test artefact, not an evaluator): the dlib error is attr's, the kappas are defined."""
    from bench.data.training_faces import open_training_dataset
    from bench.harness.runner import Runner
    from reference_models.shared.attribute_classifiers.trained import train_attribute_classifier

    weights = tmp_path / "tiny.safetensors"
    train_attribute_classifier(open_training_dataset("utkface", str(utkface_dir.parent), "train"), weights,
                               epochs=1, limit=60, batch_size=32, log=lambda _: None)
    runner = Runner("bicubic", "utkface", root=str(utkface_dir.parent), metrics="attr,attr_agreement",
                    degradation="x8", limit=20, store=tmp_path / "s.sqlite", out=tmp_path, batch_size=10,
                    progress=False, dataset_options={"split": "test"},
                    metric_options={"attr": {"replicates": 50},
                                    "attr_agreement": {"second": "trained", "second_weights": str(weights),
                                                       "replicates": 50}})
    summary = runner.run()
    agreement, attr = summary.set_results["attr_agreement"], summary.set_results["attr"]
    assert agreement["n"] == 20 and agreement["n_gender_hq"] == 20
    assert agreement["gender_err_first"] == pytest.approx(attr["gender_err"])
    assert agreement["age_err_first"] == pytest.approx(attr["age_err"])
    assert 0 <= agreement["agree_gender_hq"] <= 1 and not math.isnan(agreement["gender_err_second"])
