"""Attribute-bias leaderboard: one row per run and attribute metric, values with their 95 % intervals.

The generic leaderboard (:mod:`leaderboards.tables`) shows every set-level key as its own column
(``attr.gender_err``, ``attr.gender_err_lo``, ...).  This table puts each value beside its interval, the
measured **noise floor** (the classifier on an HQ face vs an imperceptibly changed copy) beside the
reference-protocol errors, the classifier on HQ vs labels beside the label-protocol errors (not a floor:
a restorer can score below it), the missing-face share, and names the evaluator (the attribute metric
variant).  Errors count a restored image without a face as an error.  It renders the values of the
leaderboard's tables (:func:`leaderboards.tables.build_tables`): the same faces.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any


#: (column header, key, kind) -- kind: "pct" / "share" (share shown in %), "acc" (1 - share, in %),
#: "years", "fd", "count"
COLUMNS = (
    ("gender err vs HQ %", "gender_err", "pct"),
    ("noise floor gender %", "noise_gender_err", "pct"),
    ("age-bin err vs HQ %", "age_err", "pct"),
    ("noise floor age-bin %", "noise_age_err", "pct"),
    ("gender err vs label %", "gender_err_label", "pct"),
    ("HQ gender err vs label %", "hq_gender_err_label", "pct"),
    ("age-bin err vs label %", "age_err_label", "pct"),
    ("HQ age-bin err vs label %", "hq_age_err_label", "pct"),
    ("age MAE vs label (y)", "age_mae", "years"),
    ("HQ age MAE vs label (y)", "hq_age_mae", "years"),
    ("FD gender vs HQ", "fd_gender_ref", "fd"),
    ("FD age vs HQ", "fd_age_ref", "fd"),
    ("FD gender vs label", "fd_gender_label", "fd"),
    ("worst-group gap gender vs HQ %", "gender_err_gap", "pct"),
    ("gap groups (min n)", "gender_err_gap_groups", "count"),
    ("no face %", "no_face_share", "share"),
    ("HQ no face %", "hq_no_face_share", "share"),
)


def _ok(v: Any) -> bool:
    return v is not None and isinstance(v, (int, float)) and math.isfinite(v)


def format_cell(values: dict[str, Any], key: str, kind: str) -> str:
    v, lo, hi = values.get(key), values.get(key + "_lo"), values.get(key + "_hi")
    if kind == "count":  # gap groups used, with the smallest group size
        if not _ok(v):
            return "–"
        size = values.get(key[: -len("_groups")] + "_min_n") if key.endswith("_groups") else None
        return f"{int(v)}" + (f" ({int(size)})" if _ok(size) else "")
    if not _ok(v):
        return "–"
    if kind == "acc":
        v, lo, hi = 1 - v, (1 - hi if _ok(hi) else None), (1 - lo if _ok(lo) else None)
    scale, digits = (100.0, 1) if kind in ("pct", "acc", "share") else (1.0, 2 if kind == "years" else 3)
    text = f"{v * scale:.{digits}f}"
    if _ok(lo) and _ok(hi):
        text += f" [{lo * scale:.{digits}f}, {hi * scale:.{digits}f}]"
    return text


def attribute_rows(tables: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per run and attribute metric, with the values of its table (same faces as the leaderboard)."""
    rows = []
    for table in tables:
        for run in table["runs"]:
            for metric, values in table["set_values"].get(run["run_id"], {}).items():
                if "gender_err" not in values:
                    continue
                rows.append({"dataset": run["dataset"], "protocol": run["protocol"], "method": run["method"],
                             "evaluator": metric, "n": int(values.get("n") or 0), "values": values,
                             "status": run["status"]})
    return rows


def attribute_markdown(tables: list[dict[str, Any]]) -> str:
    rows = attribute_rows(tables)
    lines = ["# Attribute bias (95 % intervals; noise floor = the classifier on HQ vs an imperceptibly changed "
             "copy; HQ vs label = the classifier's own error, not a floor; a restored image without a face "
             "counts as an error)", "",
             "Values of each row are computed on the faces of its leaderboard table (the ids every run of the "
             "table restored, unless the leaderboard was written with --own-ids).", ""]
    if not rows:
        return "\n".join(lines + ["_No attribute metric in the store._", ""])
    lines.append("| dataset | protocol | method | evaluator | n | " + " | ".join(c[0] for c in COLUMNS) + " |")
    lines.append("|" + "|".join(["---"] * (5 + len(COLUMNS))) + "|")

    def natural(text: str):
        return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(text))]

    for r in sorted(rows, key=lambda r: (r["dataset"], r["evaluator"], r["method"], natural(r["protocol"]))):
        method = r["method"] + ("" if r["status"] == "complete" else f" ({r['status']})")
        cells = [r["dataset"], r["protocol"], method, r["evaluator"], str(r["n"])]
        cells += [format_cell(r["values"], key, kind) for _, key, kind in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_attribute_leaderboard(tables: list[dict[str, Any]], out_dir: str | Path) -> Path | None:
    """Write ``attribute_bias.md`` beside the leaderboard when the tables have attribute results."""
    if not attribute_rows(tables):
        return None
    path = Path(out_dir) / "attribute_bias.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(attribute_markdown(tables), encoding="utf-8")
    return path
