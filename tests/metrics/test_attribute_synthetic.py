"""``attr_synthetic``: the attribute error with the shipped classifier trained here on synthetic faces."""
from __future__ import annotations

import json

import numpy as np
import pytest

from bench.data.datasets.synthetic import SyntheticFaces
from metrics.attribute_synthetic import SYNTHETIC_CLASSIFIER, SyntheticAttributeBias

#: the faces `make demo` scores (Makefile: synthetic defaults seed 0, n 64; -D size=32)
DEMO_SEED, DEMO_SIZE = 0, 32


def _record() -> dict:
    from safetensors import safe_open

    with safe_open(str(SYNTHETIC_CLASSIFIER), framework="pt") as fh:
        return json.loads(fh.metadata()["frbench_record"])


def test_the_shipped_classifier_carries_its_training_record_and_never_saw_the_demo_faces():
    assert SYNTHETIC_CLASSIFIER.is_file(), f"{SYNTHETIC_CLASSIFIER} is missing from the package"
    record = _record()
    options = record["dataset"]["options"]
    assert record["dataset"]["name"] == "synthetic" and options["seed"] != DEMO_SEED
    assert options["size"] == DEMO_SIZE and record["epochs"] >= 1 and record["n_train"] > 1000
    assert 0.5 < record["validation"]["gender_acc"] <= 1.0
    assert "trained by frbench" in record["label"]


def test_gender_of_held_out_demo_faces_is_read_from_their_hq():
    """Accuracy against the drawn labels (independent of the classifier) on demo faces it never saw."""
    from reference_models.shared.attribute_classifiers import make_classifier

    faces = SyntheticFaces(n=48, size=DEMO_SIZE, seed=DEMO_SEED)
    samples = faces.index()
    pred = make_classifier("trained", weights=str(SYNTHETIC_CLASSIFIER)).predict([s.hq() for s in samples])
    labels = np.array([s.attributes.gender for s in samples])
    assert float(np.mean(pred.gender == labels)) >= 0.85
    # the cues are the only gender signal: the same coarse faces redrawn with the other gender flip most calls
    flipped = make_classifier("trained", weights=str(SYNTHETIC_CLASSIFIER)).predict(
        [faces.render(i, gender=1 - int(g)) for i, g in enumerate(labels)])
    assert float(np.mean(flipped.gender != pred.gender)) >= 0.75


def _state(metric, restored, hq, samples):
    vectors = {**metric.restored_vectors(restored, samples), **metric.reference_vectors(hq, samples)}
    return metric.fold(vectors, samples)


def test_errors_are_zero_on_the_hq_and_high_when_the_cues_are_swapped():
    faces = SyntheticFaces(n=24, size=DEMO_SIZE, seed=DEMO_SEED)
    samples = faces.index()
    hq = np.stack([s.hq() for s in samples])
    metric = SyntheticAttributeBias(replicates=50)
    same = metric.compute(_state(metric, hq, hq, samples))
    assert same["gender_err"] == 0.0 and same["age_err"] == 0.0
    swapped = np.stack([faces.render(i, gender=1 - s.attributes.gender) for i, s in enumerate(samples)])
    other = metric.compute(_state(metric, swapped, hq, samples))
    assert other["gender_err"] >= 0.75


def test_the_label_says_trained_here_and_reaches_the_leaderboard_notes(tmp_path):
    from bench.api import run
    from leaderboards.tables import build_tables, to_markdown

    metric = SyntheticAttributeBias()
    label = metric.describe()["label"]
    record = _record()
    assert label.startswith("attribute classifier trained here") and f"seed={record['dataset']['options']['seed']}" in label
    store = tmp_path / "s.sqlite"
    summary = run(method="bicubic", dataset="synthetic", dataset_options={"n": 6, "size": DEMO_SIZE},
                  degradation="x4", metrics="psnr,attr_synthetic", store=store, progress=False)
    assert summary.n_ok == 6
    text = to_markdown(build_tables(store))
    assert "attr_synthetic.gender_err" in text and f"attr_synthetic: {label}" in text


def test_a_missing_classifier_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.safetensors"):
        SyntheticAttributeBias(weights=tmp_path / "nothing.safetensors")
