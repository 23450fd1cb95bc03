"""Human judgements of a correlation study: IFQA-style ranked packs or per-image mean opinion scores.

Reads a human-judgement CSV (``docs/human-judgements-format.md``) into one row per judged image, oriented so
that larger = better (a human rank is negated, rank 1 = best; a MOS is kept, a DMOS negated).  Every
problem in the file is raised as a ``ValueError`` naming the file and the row.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from leaderboards.csv_input import FORMAT_DOC, image_column, parse_number, read_csv
from metrics.correlation import orient

RANKING, MOS = "ranking", "mos"
LQ_ROLES = {"lq", "input", "reference"}


@dataclass
class Judgements:
    """Human judgements aggregated per image: ``frame`` has one row per (pack, image, method).

    Columns: ``pack_id`` (ranking; else the image key), ``image`` (image id or path), ``method`` ("" when
    the file has none), ``human`` (oriented: larger = better), ``mean_rank`` or ``mos``, ``n_ratings``,
    ``line`` (first CSV line of the image).
    """

    path: Path
    kind: str
    image_column: str
    has_method: bool
    frame: pd.DataFrame
    n_raters: int = 0
    n_ratings: int = 0
    n_lq_rows: int = 0
    notes: list[str] = field(default_factory=list)


def read_judgements(path: str | Path, kind: str = "auto", *, mos_higher_is_better: bool = True) -> Judgements:
    """Read and validate a human-judgement CSV (ranking packs or MOS, ``kind='auto'`` detects it)."""
    path = Path(path)
    names, rows = read_csv(path)
    if kind == "auto":
        has_rank, has_mos = "rank" in names, "mos" in names
        if has_rank and has_mos:
            raise ValueError(f"{path}: has both 'rank' and 'mos' columns; pass the format explicitly "
                             f"(--format ranking|mos)")
        if not (has_rank or has_mos):
            raise ValueError(f"{path}, row 1 (header): missing column 'rank' (ranking packs: pack_id, image_id, "
                             f"method, rank[, rater]) or 'mos' (mean opinion scores: image_id, mos[, std, n]); "
                             f"found columns {', '.join(n for n in names if n) or '(none)'}; see {FORMAT_DOC}")
        kind = RANKING if has_rank else MOS
    if kind not in (RANKING, MOS):
        raise ValueError(f"unknown judgement format {kind!r}: expected 'ranking', 'mos' or 'auto'")
    if not rows:
        raise ValueError(f"{path}: no data rows after the header")
    image_col = image_column(path, names, "the image each judgement is about")
    has_method = "method" in names
    if kind == RANKING:
        return _read_ranking(path, names, rows, image_col, has_method)
    return _read_mos(path, names, rows, image_col, has_method, mos_higher_is_better)


def _read_ranking(path: Path, names: list[str], rows, image_col: str, has_method: bool) -> Judgements:
    missing = [c for c in ("pack_id", "rank") if c not in names]
    if missing:
        raise ValueError(f"{path}, row 1 (header): missing column(s) {', '.join(missing)} (ranking format: "
                         f"pack_id, image_id or path, method, rank[, rater, role]); see {FORMAT_DOC}")
    has_rater = "rater" in names
    seen: dict[tuple, int] = {}
    records = []
    n_lq = 0
    for line, row in rows:
        role = row.get("role", "").lower()
        if role in LQ_ROLES:
            n_lq += 1
            continue
        if role not in ("", "restored", "restoration", "output"):
            raise ValueError(f"{path}, row {line}: unknown role {row['role']!r} (expected 'lq' or 'restored')")
        pack, image = row["pack_id"], row[image_col]
        method = row.get("method", "")
        if not pack:
            raise ValueError(f"{path}, row {line}: column 'pack_id' is empty")
        if not image:
            raise ValueError(f"{path}, row {line}: column '{image_col}' is empty")
        if has_method and not method:
            raise ValueError(f"{path}, row {line}: column 'method' is empty (the LQ row of a pack needs role=lq)")
        rank = parse_number(path, line, "rank", row["rank"])
        if rank < 1:
            raise ValueError(f"{path}, row {line}: rank {row['rank']!r} < 1 (rank 1 = best)")
        rater = row.get("rater", "") if has_rater else ""
        key = (pack, image, method, rater)
        if key in seen:
            who = f" by rater {rater!r}" if has_rater else ""
            raise ValueError(f"{path}, row {line}: image {image!r} of method {method!r} in pack {pack!r} is ranked "
                             f"twice{who} (first at row {seen[key]})")
        seen[key] = line
        records.append({"pack_id": pack, "image": image, "method": method, "rater": rater, "rank": rank,
                        "line": line})
    if not records:
        raise ValueError(f"{path}: no ranked restorations (only LQ rows?)")
    raw = pd.DataFrame.from_records(records)
    grouped = raw.groupby(["pack_id", "image", "method"], sort=False)
    frame = grouped.agg(mean_rank=("rank", "mean"), n_ratings=("rank", "size"), line=("line", "min")).reset_index()
    frame["human"] = orient(frame["mean_rank"].to_numpy(), higher_is_better=False)
    sizes = frame.groupby("pack_id", sort=False)["image"].transform("size")
    notes = []
    small = frame.loc[sizes < 2, "pack_id"].unique()
    if len(small):
        notes.append(f"{len(small)} pack(s) with fewer than two ranked restorations (no per-pack coefficient): "
                     + ", ".join(map(str, small[:5])) + (" ..." if len(small) > 5 else ""))
    return Judgements(path, RANKING, image_col, has_method, frame,
                      n_raters=int(raw["rater"].nunique()) if has_rater else 0,
                      n_ratings=int(len(raw)), n_lq_rows=n_lq, notes=notes)


def _read_mos(path: Path, names, rows, image_col: str, has_method: bool, higher_is_better: bool) -> Judgements:
    seen: dict[tuple, int] = {}
    records = []
    for line, row in rows:
        image, method = row[image_col], row.get("method", "")
        if not image:
            raise ValueError(f"{path}, row {line}: column '{image_col}' is empty")
        if has_method and not method:
            raise ValueError(f"{path}, row {line}: column 'method' is empty")
        key = (image, method)
        if key in seen:
            raise ValueError(f"{path}, row {line}: image {image!r} of method {method!r} has a second MOS "
                             f"(first at row {seen[key]}); give one row per image")
        seen[key] = line
        mos = parse_number(path, line, "mos", row["mos"])
        std = parse_number(path, line, "std", row.get("std", ""), required=False)
        n = parse_number(path, line, "n", row.get("n", ""), required=False)
        records.append({"pack_id": image if not method else f"{method}/{image}", "image": image, "method": method,
                        "mos": mos, "std": std, "n_ratings": n, "line": line})
    frame = pd.DataFrame.from_records(records)
    frame["human"] = orient(frame["mos"].to_numpy(), higher_is_better=higher_is_better)
    n_total = frame["n_ratings"].sum() if frame["n_ratings"].notna().all() else 0
    return Judgements(path, MOS, image_col, has_method, frame, n_ratings=int(n_total))
