"""``attr_synthetic``: the attribute error of :mod:`metrics.attribute_error` on the SYNTHETIC faces.

The reference evaluator of ``attr`` (dlib-models age and gender networks) was trained on photographs; on
the procedurally drawn faces of :mod:`bench.data.datasets.synthetic` (age and gender shown only as 1-px
cues: stubble, eyelashes and a lip line, wrinkles, grey strands) it measures nothing meaningful.  This
metric is ``attr`` with the **small classifier trained here on synthetic faces** shipped with the package
(:data:`SYNTHETIC_CLASSIFIER`, backend ``trained`` of
:mod:`reference_models.shared.attribute_classifiers.trained`): every key, interval and protocol is the
one of ``attr`` (``gender_err`` = share of restored faces whose predicted gender differs from the
prediction on their HQ, ``age_err`` the same for the 10 age bins, ``*_label`` against the drawn labels,
``noise_*`` the evaluator's noise floor).

**Label: trained here** -- a small CPU model (``frbench-small-cnn-v1``) trained with
``bench train attribute-classifier``'s trainer on synthetic faces of *another* dataset seed than the
evaluated ones (its training record -- dataset options, seed, n, epochs, held-out accuracy -- is in the
file's metadata and in this metric's ``describe()["label"]``, which the leaderboard prints as a note).
It is not a reference evaluator: it only knows the drawn cues, and the age bins below 25 years (no age
cue is drawn there) are indistinguishable to it by construction.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from metrics.attribute_error import AttributeBias
from metrics.attribute_gap import DEFAULT_MIN_GROUP
from metrics.bootstrap import DEFAULT_REPLICATES

import reference_models.shared.attribute_classifiers as _classifiers

#: The shipped classifier (package data of ``reference_models``; its metadata holds the training record).
SYNTHETIC_CLASSIFIER = Path(_classifiers.__file__).with_name("presets") / "synthetic_faces_cnn.safetensors"


def trained_label(record: dict[str, Any]) -> str:
    """One line naming a ``trained`` classifier as trained here, from its training record."""
    options = (record.get("dataset") or {}).get("options") or {}
    val = record.get("validation") or {}
    on = ", ".join(f"{k}={options[k]}" for k in ("seed", "n", "size") if k in options)
    return (f"attribute classifier trained here (frbench small CNN, {record.get('dataset', {}).get('name')} "
            f"faces {on}; {record.get('epochs')} epochs; held-out accuracy on {val.get('n')} faces of its own "
            f"seed: gender {val.get('gender_acc', float('nan')):.1%}, age bin {val.get('age_bin_acc', float('nan')):.1%})"
            f": not a reference evaluator")


class SyntheticAttributeBias(AttributeBias):
    """``attr`` with the shipped classifier trained here on synthetic faces (see the module documentation)."""

    name = "attr_synthetic"
    description = ("Age/gender error vs HQ prediction and vs label on the SYNTHETIC faces, with the small "
                   "classifier trained here on synthetic faces of another seed (shipped; labelled trained here).")
    citation = ("attribute error as in Li et al., Analyzing and Combating Attribute Bias for Face Restoration, "
                "IJCAI 2023; classifier: trained by frbench on its synthetic faces")
    licence = "MIT (frbench code and the classifier trained here)"
    #: the reference-protocol errors with the evaluator's noise floor, and the label protocol
    leaderboard_headline = ("gender_err", "age_err", "noise_gender_err", "gender_err_label", "hq_gender_err_label")

    def __init__(self, weights: str | Path | None = None, min_group: int = DEFAULT_MIN_GROUP,
                 replicates: int = DEFAULT_REPLICATES, framing: str | None = None, **options: Any) -> None:
        weights = Path(weights) if weights is not None else SYNTHETIC_CLASSIFIER
        if not weights.is_file():
            raise FileNotFoundError(f"attr_synthetic: classifier {weights} is missing (reinstall frbench)")
        super().__init__("trained", min_group, replicates, framing=framing, weights=str(weights), **options)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        evaluator = d.get("evaluator")
        if isinstance(evaluator, dict) and "training" in evaluator:
            d["label"] = trained_label(evaluator["training"])
        return d
