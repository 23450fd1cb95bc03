"""The count tables behind the attribute-bias metrics, and every statistic computed from them.

State and intervals (the design choice)
---------------------------------------
The set-level state is a mergeable count table, flat in memory whatever the number of images:

* ``joint``: counts over (label bin, label gender, HQ-predicted bin, HQ-predicted gender, restored bin,
  restored gender), 11 x 3 x 11 x 3 x 12 x 4.  Index 10 / 2 = unknown (no label, no prediction: no HQ,
  HQ without a face, classifier failure); the restored axes have one more code, 11 / 3 = **no face found
  on the restored image** (face status 1), which the headline errors count as an error;
* ``noise``: (HQ bin, HQ gender, perturbed-HQ bin, perturbed-HQ gender), 11 x 3 x 12 x 4, for the
  measured noise floor (:mod:`metrics.attribute_floor`);
* ``age_hist``: 0.5-year histograms of ``|age error|`` per comparison (restored-label, HQ-label,
  restored-HQ, perturbed-HQ) and label group; ``age_sums``: exact sums for the point estimates;
* ``status``: face-status counts (0 ok, 1 no face, 2 several faces, 3 classifier failure) of the HQ and
  restored images.

Every reported statistic is a function of these counts, so the bootstrap over images is exactly a
multinomial resampling of the cells (:mod:`metrics.bootstrap`): intervals and per-group tables need no
per-image list.  Error rates, shares, FDs: percentile intervals of that bootstrap; worst-group gaps:
simultaneous Wilson intervals (:mod:`metrics.attribute_gap`).  The metric and the definition of every key:
:mod:`metrics.attribute_error`.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from bench.core.types import AGE_BIN_LABELS, GENDER_LABELS
from metrics.attribute_floor import accumulate_noise, empty_noise, noise_stats, noise_table
from metrics.attribute_gap import DEFAULT_MIN_GROUP, worst_group_gap
from metrics.bootstrap import DEFAULT_REPLICATES, bootstrap_linear
from metrics.fairness import fairness_discrepancy, target_fd

NB, NG = 10, 2
UNK_B, UNK_G = 10, 2
NOFACE_B, NOFACE_G = 11, 3
JOINT_SHAPE = (NB + 1, NG + 1, NB + 1, NG + 1, NB + 2, NG + 2)
#: age-error histogram: 0.5-year bins, the last one holds everything >= 120.5 years
AGE_ERR_BINS = 242
AGE_ERR_STEP = 0.5
COMPARISONS = ("restored_label", "hq_label", "restored_hq", "perturbed_hq")
#: error rates with a worst-group gap (the headline definitions: a restored image without a face is an error)
GAP_METRICS = ("gender_err", "age_err", "gender_err_label", "age_err_label")


def _codes(values: np.ndarray, unknown: int) -> np.ndarray:
    values = np.asarray(values, np.int64)
    return np.where(values < 0, unknown, values)


def _restored_codes(pred) -> tuple[np.ndarray, np.ndarray]:
    """Bin and gender codes of a restored-like prediction: 10/2 unknown, 11/3 no face (status 1)."""
    no_face = np.asarray(pred.status) == 1
    rb, rg = _codes(pred.age_bin, UNK_B), _codes(pred.gender, UNK_G)
    return np.where(no_face, NOFACE_B, rb), np.where(no_face, NOFACE_G, rg)


def label_arrays(samples: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    bins, genders, ages = [], [], []
    for s in samples:
        a = s.attributes
        bins.append(UNK_B if a.age_bin is None else int(a.age_bin))
        genders.append(UNK_G if a.gender is None else int(a.gender))
        ages.append(np.nan if a.age is None else float(a.age))
    return np.array(bins, np.int64), np.array(genders, np.int64), np.array(ages, np.float64)


def empty_state() -> dict[str, np.ndarray]:
    return {"joint": np.zeros(JOINT_SHAPE, np.int64),
            "noise": empty_noise(),
            "age_hist": np.zeros((len(COMPARISONS), NB + 1, NG + 1, AGE_ERR_BINS), np.int64),
            "age_sums": np.zeros((len(COMPARISONS), 3), np.float64),  # [comparison] x [sum |e|, sum e, count]
            "status": np.zeros((2, 4), np.int64)}                    # [hq, restored] x face status


def accumulate(state: dict[str, np.ndarray], pred_r, pred_h, label_bin, label_gender, label_age,
               pred_p=None) -> None:
    """Add one batch: restored ``pred_r``, HQ ``pred_h`` (or None), perturbed HQ ``pred_p`` (or None), labels."""
    n = len(pred_r)
    rb, rg = _restored_codes(pred_r)
    if pred_h is None:
        hb, hg = np.full(n, UNK_B), np.full(n, UNK_G)
        h_age = np.full(n, np.nan)
    else:
        hb, hg, h_age = _codes(pred_h.age_bin, UNK_B), _codes(pred_h.gender, UNK_G), pred_h.age_years
        np.add.at(state["status"][0], pred_h.status, 1)
    np.add.at(state["status"][1], pred_r.status, 1)
    np.add.at(state["joint"], (label_bin, label_gender, hb, hg, rb, rg), 1)
    comparisons = [(pred_r.age_years, label_age), (h_age, label_age), (pred_r.age_years, h_age)]
    if pred_h is not None and pred_p is not None:
        pb, pg = _restored_codes(pred_p)
        accumulate_noise(state["noise"], hb, hg, pb, pg)
        comparisons.append((pred_p.age_years, h_age))
    for c, (a, b) in enumerate(comparisons):
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
    """(numerator, denominator) masks of every error rate, optionally restricted to a group mask.

    Headline ``<err>``: denominator = target known and the restored image classified or without a face;
    numerator = prediction differs, or no face.  ``<err>_found``: restored images with a prediction only.
    """
    g = np.ones_like(c.counts, bool) if group is None else group
    out = {}
    for name, target, pred, k in (("gender_err", c.hg, c.rg, NG), ("age_err", c.ha, c.ra, NB),
                                  ("gender_err_label", c.lg, c.rg, NG), ("age_err_label", c.la, c.ra, NB)):
        found = g & (target < k) & (pred < k)
        missing = g & (target < k) & (pred == k + 1)  # the no-face code
        out[name] = ((found & (target != pred)) | missing, found | missing)
        out[name + "_found"] = (found & (target != pred), found)
    den = g & (c.lg < NG) & (c.hg < NG); out["hq_gender_err_label"] = (den & (c.lg != c.hg), den)
    den = g & (c.la < NB) & (c.ha < NB); out["hq_age_err_label"] = (den & (c.la != c.ha), den)
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


def _add_target_fd(c: _Cells, name: str, target: np.ndarray, pred: np.ndarray, k: int) -> None:
    """Columns of a target FD: images with a known target and a classified (or face-less) restored image."""
    population = (target < k) & ((pred < k) | (pred == k + 1))
    c.add(f"{name}#n", population)
    c.add(f"{name}#noface", population & (pred == k + 1))
    for j in range(k):
        c.add(f"{name}#r{j}", population & (pred == j))
        c.add(f"{name}#t{j}", population & (target == j))


def _target_fd(sums: np.ndarray, ix: Mapping[str, int], name: str, k: int) -> np.ndarray:
    """``|| (p_restored, p_noface) - (p_target, 0) ||_2`` over the population of :func:`_add_target_fd`."""
    restored = np.stack([sums[:, ix[f"{name}#r{j}"]] for j in range(k)], axis=1)
    target = np.stack([sums[:, ix[f"{name}#t{j}"]] for j in range(k)], axis=1)
    return target_fd(restored, target, sums[:, ix[f"{name}#noface"]])


def compute_attribute_stats(state: Mapping[str, np.ndarray], min_group: int = DEFAULT_MIN_GROUP,
                            replicates: int = DEFAULT_REPLICATES, seed: int = 20_200) -> dict[str, float]:
    """Every summary value of the attribute metrics, with 95 % intervals (``_lo``/``_hi``)."""
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
    out.update(noise_stats(noise_table(state), replicates))
    if n == 0:
        return out
    masks = _error_masks(c)
    for name, (num, den) in masks.items():
        c.add(name + "#num", num); c.add(name + "#den", den)
    den = (c.hg == 0) & (c.rg < NG); c.add("f2m#num", den & (c.rg == 1)); c.add("f2m#den", den)
    den = (c.hg == 1) & (c.rg < NG); c.add("m2f#num", den & (c.rg == 0)); c.add("m2f#den", den)
    den = masks["age_err_found"][1]
    c.add("shift#num", den * (c.ra.astype(float) - c.ha)); c.add("shift#den", den)
    den = masks["age_err_label_found"][1]
    c.add("shift_label#num", den * (c.ra.astype(float) - c.la)); c.add("shift_label#den", den)
    for who, bb, gg in (("r", c.ra, c.rg), ("h", c.ha, c.hg)):
        for k in range(NG):
            c.add(f"comp_{who}_g{k}", gg == k)
        for k in range(NB):
            c.add(f"comp_{who}_b{k}", bb == k)
    _add_target_fd(c, "fd_gender_ref", c.hg, c.rg, NG)
    _add_target_fd(c, "fd_age_ref", c.ha, c.ra, NB)
    _add_target_fd(c, "fd_gender_label", c.lg, c.rg, NG)
    _add_target_fd(c, "fd_age_label", c.la, c.ra, NB)
    ix = c.index

    def stats(sums: np.ndarray) -> dict[str, np.ndarray]:
        s = {}
        for name in masks:
            s[name] = _ratio(sums[:, ix[name + "#num"]], sums[:, ix[name + "#den"]])
        s["gender_f2m"] = _ratio(sums[:, ix["f2m#num"]], sums[:, ix["f2m#den"]])
        s["gender_m2f"] = _ratio(sums[:, ix["m2f#num"]], sums[:, ix["m2f#den"]])
        s["age_shift"] = _ratio(sums[:, ix["shift#num"]], sums[:, ix["shift#den"]])
        s["age_shift_label"] = _ratio(sums[:, ix["shift_label#num"]], sums[:, ix["shift_label#den"]])
        for who, suffix in (("r", ""), ("h", "_hq")):
            g = np.stack([sums[:, ix[f"comp_{who}_g{k}"]] for k in range(NG)], axis=1)
            b = np.stack([sums[:, ix[f"comp_{who}_b{k}"]] for k in range(NB)], axis=1)
            s["fd_gender_uniform" + suffix] = fairness_discrepancy(g)
            s["fd_age_uniform" + suffix] = fairness_discrepancy(b)
        for name, k in (("fd_gender_ref", NG), ("fd_age_ref", NB), ("fd_gender_label", NG), ("fd_age_label", NB)):
            s[name] = _target_fd(sums, ix, name, k)
        return s

    with np.errstate(invalid="ignore", divide="ignore"):
        intervals = bootstrap_linear(c.counts, c.weights(), stats, replicates=replicates, seed=seed)
    for key, ci in intervals.items():
        out[key] = ci.value
        out[key + "_lo"], out[key + "_hi"] = ci.lo, ci.hi
    kind, groups = _groups(c)
    for metric in GAP_METRICS:
        errors, dens = [], []
        for _, gmask in groups:
            num, den = _error_masks(c, gmask)[metric]
            errors.append(float((c.counts * num).sum())); dens.append(float((c.counts * den).sum()))
        gap = worst_group_gap(errors, dens, min_group)
        out[metric + "_gap"], out[metric + "_gap_lo"], out[metric + "_gap_hi"] = gap["value"], gap["lo"], gap["hi"]
        out[metric + "_gap_groups"], out[metric + "_gap_min_n"] = gap["groups"], gap["min_n"]
    out.update(_mae_stats(state, replicates, seed))
    out["groups_by_label"] = 1.0 if kind == "label" else 0.0
    out["min_group"] = float(min_group)
    return out


def _mae_cells(hist: np.ndarray, comparison: int, group=None):
    h = hist[comparison] if group is None else hist[comparison][group[0], group[1]][None, None]
    nz = np.flatnonzero(h)
    idx = np.unravel_index(nz, h.shape)
    return h.ravel()[nz], idx[-1] * AGE_ERR_STEP


MAE_KEYS = ("age_mae", "hq_age_mae", "age_mae_ref", "noise_age_mae")


def _mae_stats(state: Mapping[str, np.ndarray], replicates: int, seed: int) -> dict[str, float]:
    hist = np.asarray(state["age_hist"], np.int64)
    sums = np.asarray(state["age_sums"], np.float64)
    out = {}
    for c, key in enumerate(MAE_KEYS[:hist.shape[0]]):
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
                seed: int = 20_200, min_group: int = DEFAULT_MIN_GROUP) -> list[dict[str, Any]]:
    """Per-group rows (age bin x gender): n and every error rate / MAE with bootstrap 95 % intervals.

    Every group with at least one image is listed; ``in_gap`` names the rates (of :data:`GAP_METRICS`)
    whose denominator in the group reaches ``min_group``, i.e. the rates for which the group enters the
    worst-group gap (``<rate>_n`` is that denominator).
    """
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
    point = c.counts @ c.weights()
    hist = np.asarray(state["age_hist"], np.int64)
    rows = []
    for bi in range(NB):
        for gi in range(NG):
            gname = f"{AGE_BIN_LABELS[bi]}/{GENDER_LABELS[gi]}"
            n = int(intervals[f"{gname}|n"].value)
            if n == 0:
                continue
            row: dict[str, Any] = {"group": gname, "grouped_by": kind, "n": n, "min_group": int(min_group)}
            for k in names:
                ci = intervals[f"{gname}|{k}"]
                row[k], row[k + "_lo"], row[k + "_hi"] = ci.value, ci.lo, ci.hi
            dens = {k: int(point[ix[f"{gname}|{k}#den"]]) for k in GAP_METRICS}
            row.update({f"{k}_n": d for k, d in dens.items()})
            row["in_gap"] = ",".join(k for k, d in dens.items() if d >= max(int(min_group), 1))
            if kind == "label":
                for comp, key in ((0, "age_mae"), (1, "hq_age_mae")):
                    counts, values = _mae_cells(hist, comp, (bi, gi))
                    if counts.size:
                        w = np.stack([values, np.ones_like(values)], axis=1)
                        ci = bootstrap_linear(counts, w, lambda s: {"m": _ratio(s[:, 0], s[:, 1])},
                                              replicates=replicates, seed=seed + 7)["m"]
                        row[key], row[key + "_lo"], row[key + "_hi"] = ci.value, ci.lo, ci.hi
            rows.append(row)
    return rows
