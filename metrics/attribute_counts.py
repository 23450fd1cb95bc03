"""The count tables behind the attribute-bias metrics, and every statistic computed from them.

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
per-image list.  The metrics themselves (definitions of every key) are :mod:`metrics.attribute_error`.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from bench.core.types import AGE_BIN_LABELS, GENDER_LABELS
from metrics.bootstrap import DEFAULT_REPLICATES, bootstrap_linear
from metrics.fairness import fairness_discrepancy, proportions

NB, NG = 10, 2
UNK_B, UNK_G = 10, 2
JOINT_SHAPE = (NB + 1, NG + 1, NB + 1, NG + 1, NB + 1, NG + 1)
#: age-error histogram: 0.5-year bins, the last one holds everything >= 120.5 years
AGE_ERR_BINS = 242
AGE_ERR_STEP = 0.5
COMPARISONS = ("restored_label", "hq_label", "restored_hq")

def _codes(values: np.ndarray, unknown: int) -> np.ndarray:
    values = np.asarray(values, np.int64)
    return np.where(values < 0, unknown, values)


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
