"""Attribute-bias metrics: age and gender error, age MAE, classifier floor, fairness, per-group tables.

Definitions (``../shared/spec/evaluation.md`` §2)
------------------------------------------------
A pretrained attribute classifier ``C`` (see :mod:`reference_models.attribute_classifiers`; the evaluator
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

State and intervals (the design choice)
---------------------------------------
The set-level state is a mergeable count table, flat in memory whatever the number of images:

* ``joint``: counts over (label bin, label gender, HQ-predicted bin, HQ-predicted gender, restored bin,
  restored gender), 11 x 3 x 11 x 3 x 11 x 3 (index 10 / 2 = unknown or no prediction);
* ``age_hist``: 0.5-year histograms of ``|age error|`` per comparison (restored-label, HQ-label,
  restored-HQ) and label group; ``age_sums``: exact sums for the point estimates;
* ``status``: face-status counts of the HQ and restored images.

Every reported statistic is a function of these counts, so the bootstrap over images is exactly a
multinomial resampling of the cells (:mod:`metrics.bootstrap`): intervals and per-group tables need no
per-image list.  The per-image predictions are also kept, for audits and paired analyses, by the
companion per-image metric ``attr_pred`` (:class:`AttributePredictions`) when it is requested, and HQ
predictions are cached per (classifier, image content) so that several methods never re-classify the
same HQ image (:class:`reference_models.attribute_classifiers.PredictionCache`).
"""
from __future__ import annotations

import threading
from typing import Any, Mapping, Sequence

import numpy as np

from bench.types import AGE_BIN_LABELS, GENDER_LABELS, PerImageMetric, SetMetric
from metrics.bootstrap import DEFAULT_REPLICATES, bootstrap_linear
from metrics.fairness import fairness_discrepancy, proportions
from reference_models.attribute_classifiers.base import AttributePrediction

NB, NG = 10, 2
UNK_B, UNK_G = 10, 2
JOINT_SHAPE = (NB + 1, NG + 1, NB + 1, NG + 1, NB + 1, NG + 1)
#: age-error histogram: 0.5-year bins, the last one holds everything >= 120.5 years
AGE_ERR_BINS = 242
AGE_ERR_STEP = 0.5
COMPARISONS = ("restored_label", "hq_label", "restored_hq")

_CLASSIFIERS: dict[tuple, Any] = {}
_CLASSIFIERS_LOCK = threading.Lock()


def shared_classifier(backend: str, options: Mapping[str, Any]):
    """One classifier (and its HQ prediction cache) per process and configuration."""
    from reference_models.attribute_classifiers import PredictionCache, make_classifier

    from bench.provenance import cached

    def build():
        classifier = make_classifier(backend, **dict(options))
        return classifier, PredictionCache(classifier), PredictionCache(classifier, persistent=False)

    key = (backend, tuple(sorted((k, str(v)) for k, v in options.items())))
    with _CLASSIFIERS_LOCK:  # a cache hit re-notes the model files into the active run-identity recorder
        return cached(_CLASSIFIERS, key, build)


def _codes(values: np.ndarray, unknown: int) -> np.ndarray:
    values = np.asarray(values, np.int64)
    return np.where(values < 0, unknown, values)


def _label_arrays(samples: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    bins, genders, ages = [], [], []
    for s in samples:
        a = s.attributes
        bins.append(UNK_B if a.age_bin is None else int(a.age_bin))
        genders.append(UNK_G if a.gender is None else int(a.gender))
        ages.append(np.nan if a.age is None else float(a.age))
    return np.array(bins, np.int64), np.array(genders, np.int64), np.array(ages, np.float64)


def empty_state() -> dict[str, np.ndarray]:
    return {"joint": np.zeros(JOINT_SHAPE, np.int64),
            "age_hist": np.zeros((3, NB + 1, NG + 1, AGE_ERR_BINS), np.int64),
            "age_sums": np.zeros((3, 3), np.float64),  # [comparison] x [sum |e|, sum e, count]
            "status": np.zeros((2, 4), np.int64)}      # [hq, restored] x face status


def accumulate(state: dict[str, np.ndarray], pred_r, pred_h, label_bin, label_gender, label_age) -> None:
    """Add one batch of predictions (restored ``pred_r``, HQ ``pred_h`` or None) and labels to ``state``."""
    n = len(pred_r)
    rb, rg = _codes(pred_r.age_bin, UNK_B), _codes(pred_r.gender, UNK_G)
    if pred_h is None:
        hb, hg = np.full(n, UNK_B), np.full(n, UNK_G)
        h_age = np.full(n, np.nan)
    else:
        hb, hg, h_age = _codes(pred_h.age_bin, UNK_B), _codes(pred_h.gender, UNK_G), pred_h.age_years
        np.add.at(state["status"][0], pred_h.status, 1)
    np.add.at(state["status"][1], pred_r.status, 1)
    np.add.at(state["joint"], (label_bin, label_gender, hb, hg, rb, rg), 1)
    for c, (a, b) in enumerate(((pred_r.age_years, label_age), (h_age, label_age), (pred_r.age_years, h_age))):
        err = np.asarray(a, np.float64) - np.asarray(b, np.float64)
        ok = np.isfinite(err)
        if not ok.any():
            continue
        e = err[ok]
        idx = np.minimum(np.round(np.abs(e) / AGE_ERR_STEP).astype(np.int64), AGE_ERR_BINS - 1)
        np.add.at(state["age_hist"][c], (label_bin[ok], label_gender[ok], idx), 1)
        state["age_sums"][c] += (np.abs(e).sum(), e.sum(), ok.sum())


# -- statistics from the count tables ----------------------------------------------------------------

class _Cells:
    """Non-empty cells of the joint table with their coordinates, and the weight columns built on them."""

    def __init__(self, joint: np.ndarray) -> None:
        nz = np.flatnonzero(joint)
        self.counts = joint.ravel()[nz]
        self.la, self.lg, self.ha, self.hg, self.ra, self.rg = np.unravel_index(nz, JOINT_SHAPE)
        self.columns: list[np.ndarray] = []
        self.index: dict[str, int] = {}

    def add(self, name: str, weight) -> None:
        self.index[name] = len(self.columns)
        self.columns.append(np.broadcast_to(np.asarray(weight, np.float64), self.counts.shape))

    def weights(self) -> np.ndarray:
        return np.stack(self.columns, axis=1) if self.columns else np.zeros((len(self.counts), 0))


def _ratio(num, den):
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _error_masks(c: _Cells, group=None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(numerator, denominator) masks of every error rate, optionally restricted to a group mask."""
    g = np.ones_like(c.counts, bool) if group is None else group
    out = {}
    den = g & (c.hg < NG) & (c.rg < NG); out["gender_err"] = (den & (c.hg != c.rg), den)
    den = g & (c.ha < NB) & (c.ra < NB); out["age_err"] = (den & (c.ha != c.ra), den)
    den = g & (c.lg < NG) & (c.rg < NG); out["gender_err_label"] = (den & (c.lg != c.rg), den)
    den = g & (c.la < NB) & (c.ra < NB); out["age_err_label"] = (den & (c.la != c.ra), den)
    den = g & (c.lg < NG) & (c.hg < NG); out["floor_gender_err"] = (den & (c.lg != c.hg), den)
    den = g & (c.la < NB) & (c.ha < NB); out["floor_age_err"] = (den & (c.la != c.ha), den)
    return out


def _has_labels(c: _Cells) -> bool:
    return bool(((c.la < NB) | (c.lg < NG)).any())


def _groups(c: _Cells) -> tuple[str, list[tuple[str, np.ndarray]]]:
    """Group masks: label age bin x label gender when labels exist, else the HQ prediction's groups."""
    if _has_labels(c):
        kind, b, g = "label", c.la, c.lg
    else:
        kind, b, g = "hq_prediction", c.ha, c.hg
    groups = []
    for bi in range(NB):
        for gi in range(NG):
            groups.append((f"{AGE_BIN_LABELS[bi]}/{GENDER_LABELS[gi]}", (b == bi) & (g == gi)))
    return kind, groups


def compute_attribute_stats(state: Mapping[str, np.ndarray], min_group: int = 10,
                            replicates: int = DEFAULT_REPLICATES, seed: int = 20_200) -> dict[str, float]:
    """Every summary value of the attribute metrics, with bootstrap 95 % intervals (``_lo``/``_hi``)."""
    joint = np.asarray(state["joint"], np.int64)
    c = _Cells(joint)
    n = int(joint.sum())
    out: dict[str, float] = {"n": float(n)}
    status = np.asarray(state["status"], np.int64)
    n_h, n_r = status[0].sum(), status[1].sum()
    out["no_face_share"] = float(_ratio(status[1, 1], n_r))
    out["multiple_faces_share"] = float(_ratio(status[1, 2], n_r))
    out["hq_no_face_share"] = float(_ratio(status[0, 1], n_h)) if n_h else float("nan")
    out["classifier_error_share"] = float(_ratio(status[1, 3], n_r))
    if n == 0:
        return out
    masks = _error_masks(c)
    for name, (num, den) in masks.items():
        c.add(name + "#num", num); c.add(name + "#den", den)
    den = (c.hg == 0) & (c.rg < NG); c.add("f2m#num", den & (c.rg == 1)); c.add("f2m#den", den)
    den = (c.hg == 1) & (c.rg < NG); c.add("m2f#num", den & (c.rg == 0)); c.add("m2f#den", den)
    num, den = masks["age_err"][1] * (c.ra.astype(float) - c.ha), masks["age_err"][1]
    c.add("shift#num", num); c.add("shift#den", den)
    den = masks["age_err_label"][1]
    c.add("shift_label#num", den * (c.ra.astype(float) - c.la)); c.add("shift_label#den", den)
    for who, bb, gg in (("r", c.ra, c.rg), ("h", c.ha, c.hg)):
        for k in range(NG):
            c.add(f"comp_{who}_g{k}", gg == k)
        for k in range(NB):
            c.add(f"comp_{who}_b{k}", bb == k)
    kind, groups = _groups(c)
    kept = []
    for gname, gmask in groups:
        gm = _error_masks(c, gmask)
        big = {k: float((c.counts * d).sum()) >= min_group for k, (_, d) in gm.items()}
        kept.append((gname, big))
        for k, (num, den) in gm.items():
            c.add(f"{gname}|{k}#num", num); c.add(f"{gname}|{k}#den", den)
    ix = c.index

    def stats(sums: np.ndarray) -> dict[str, np.ndarray]:
        s = {}
        for name in masks:
            s[name] = _ratio(sums[:, ix[name + "#num"]], sums[:, ix[name + "#den"]])
        s["gender_f2m"] = _ratio(sums[:, ix["f2m#num"]], sums[:, ix["f2m#den"]])
        s["gender_m2f"] = _ratio(sums[:, ix["m2f#num"]], sums[:, ix["m2f#den"]])
        s["age_shift"] = _ratio(sums[:, ix["shift#num"]], sums[:, ix["shift#den"]])
        s["age_shift_label"] = _ratio(sums[:, ix["shift_label#num"]], sums[:, ix["shift_label#den"]])
        comp = {}
        for who in ("r", "h"):
            comp[who, "g"] = np.stack([sums[:, ix[f"comp_{who}_g{k}"]] for k in range(NG)], axis=1)
            comp[who, "b"] = np.stack([sums[:, ix[f"comp_{who}_b{k}"]] for k in range(NB)], axis=1)
        s["fd_gender"] = fairness_discrepancy(comp["r", "g"])
        s["fd_age"] = fairness_discrepancy(comp["r", "b"])
        s["fd_gender_hq"] = fairness_discrepancy(comp["h", "g"])
        s["fd_age_hq"] = fairness_discrepancy(comp["h", "b"])
        for key in ("g", "b"):
            diff = proportions(comp["r", key]) - proportions(comp["h", key])
            s["fd_gender_ref" if key == "g" else "fd_age_ref"] = np.sqrt((diff ** 2).sum(axis=1))
        for metric in ("gender_err", "age_err", "gender_err_label", "age_err_label"):
            values = []
            for gname, big in kept:
                if not big[metric]:
                    continue
                values.append(_ratio(sums[:, ix[f"{gname}|{metric}#num"]], sums[:, ix[f"{gname}|{metric}#den"]]))
            if len(values) >= 2:
                v = np.stack(values, axis=1)
                with np.errstate(invalid="ignore"):
                    s[metric + "_gap"] = np.nanmax(v, axis=1) - np.nanmin(v, axis=1)
            else:
                s[metric + "_gap"] = np.full(sums.shape[0], np.nan)
        return s

    with np.errstate(invalid="ignore", divide="ignore"):
        intervals = bootstrap_linear(c.counts, c.weights(), stats, replicates=replicates, seed=seed)
    for key, ci in intervals.items():
        out[key] = ci.value
        out[key + "_lo"], out[key + "_hi"] = ci.lo, ci.hi
    out.update(_mae_stats(state, replicates, seed))
    out["groups_by_label"] = 1.0 if kind == "label" else 0.0
    return out


def _mae_cells(hist: np.ndarray, comparison: int, group=None):
    h = hist[comparison] if group is None else hist[comparison][group[0], group[1]][None, None]
    nz = np.flatnonzero(h)
    idx = np.unravel_index(nz, h.shape)
    return h.ravel()[nz], idx[-1] * AGE_ERR_STEP


def _mae_stats(state: Mapping[str, np.ndarray], replicates: int, seed: int) -> dict[str, float]:
    hist = np.asarray(state["age_hist"], np.int64)
    sums = np.asarray(state["age_sums"], np.float64)
    out = {}
    for c, key in enumerate(("age_mae", "floor_age_mae", "age_mae_ref")):
        counts, values = _mae_cells(hist, c)
        exact = float(_ratio(sums[c, 0], sums[c, 2]))
        out[key] = exact
        if counts.size:
            w = np.stack([values, np.ones_like(values)], axis=1)
            ci = bootstrap_linear(counts, w, lambda s: {"m": _ratio(s[:, 0], s[:, 1])},
                                  replicates=replicates, seed=seed + c + 1)["m"]
            # the interval of the binned errors, moved to the exact point estimate
            out[key + "_lo"], out[key + "_hi"] = ci.lo + exact - ci.value, ci.hi + exact - ci.value
        else:
            out[key + "_lo"] = out[key + "_hi"] = float("nan")
    out["age_years_shift_label"] = float(_ratio(sums[0, 1], sums[0, 2]))
    return out


def group_table(state: Mapping[str, np.ndarray], replicates: int = DEFAULT_REPLICATES,
                seed: int = 20_200) -> list[dict[str, Any]]:
    """Per-group rows (age bin x gender): n and every error rate / MAE with bootstrap 95 % intervals."""
    joint = np.asarray(state["joint"], np.int64)
    c = _Cells(joint)
    if not len(c.counts):
        return []
    kind, groups = _groups(c)
    for gname, gmask in groups:
        c.add(f"{gname}|n", gmask)
        for k, (num, den) in _error_masks(c, gmask).items():
            c.add(f"{gname}|{k}#num", num); c.add(f"{gname}|{k}#den", den)
    ix = c.index
    names = list(_error_masks(c).keys())

    def stats(sums):
        s = {}
        for gname, _ in groups:
            s[f"{gname}|n"] = sums[:, ix[f"{gname}|n"]]
            for k in names:
                s[f"{gname}|{k}"] = _ratio(sums[:, ix[f"{gname}|{k}#num"]], sums[:, ix[f"{gname}|{k}#den"]])
        return s

    with np.errstate(invalid="ignore", divide="ignore"):
        intervals = bootstrap_linear(c.counts, c.weights(), stats, replicates=replicates, seed=seed)
    hist = np.asarray(state["age_hist"], np.int64)
    rows = []
    for bi in range(NB):
        for gi in range(NG):
            gname = f"{AGE_BIN_LABELS[bi]}/{GENDER_LABELS[gi]}"
            n = int(intervals[f"{gname}|n"].value)
            if n == 0:
                continue
            row: dict[str, Any] = {"group": gname, "grouped_by": kind, "n": n}
            for k in names:
                ci = intervals[f"{gname}|{k}"]
                row[k], row[k + "_lo"], row[k + "_hi"] = ci.value, ci.lo, ci.hi
            if kind == "label":
                for comp, key in ((0, "age_mae"), (1, "floor_age_mae")):
                    counts, values = _mae_cells(hist, comp, (bi, gi))
                    if counts.size:
                        w = np.stack([values, np.ones_like(values)], axis=1)
                        ci = bootstrap_linear(counts, w, lambda s: {"m": _ratio(s[:, 0], s[:, 1])},
                                              replicates=replicates, seed=seed + 7)["m"]
                        row[key], row[key + "_lo"], row[key + "_hi"] = ci.value, ci.lo, ci.hi
            rows.append(row)
    return rows


# -- the metrics ---------------------------------------------------------------------------------------

def _safe_predict(cache, images):
    """Predict a batch; if the classifier raises, retry image by image and mark failures ``error``."""
    from reference_models.attribute_classifiers.base import images_to_list

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
        label_bin, label_gender, label_age = _label_arrays(samples)
        accumulate(state, pred_r, pred_h, label_bin, label_gender, label_age)
        return state

    def compute(self, state: Mapping[str, np.ndarray]) -> dict[str, float]:
        return compute_attribute_stats(state, self.min_group, self.replicates)

    def describe(self) -> dict[str, Any]:
        from reference_models.attribute_classifiers import BACKENDS

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
    """dlib-onnx with the FFHQ known-alignment template (FFHQ-aligned datasets and restorer outputs)."""
    return AttributeBias("dlib_onnx", align="template", template="ffhq", **options)


def attr_detect(**options) -> AttributeBias:
    """dlib-onnx with detection alignment on every image (failures recorded)."""
    return AttributeBias("dlib_onnx", align="detect", **options)


def attr_dbfr(**options) -> AttributeBias:
    return AttributeBias("dbfr", **options)


def attr_deepface(**options) -> AttributeBias:
    return AttributeBias("deepface", **options)
