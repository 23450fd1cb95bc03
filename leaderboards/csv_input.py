"""Reading the CSV inputs of a correlation study (human judgements, metric scores): rows with line numbers.

Every problem in an input file is raised as a ``ValueError`` naming the file and the row (the CSV line
number, header = line 1).
"""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Sequence

#: Where the input formats are documented (quoted in the error messages).
FORMAT_DOC = "docs/human-judgements-format.md"


def read_csv(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header (lower-cased, stripped) and ``(line number, row)`` pairs; blank lines skipped."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise ValueError(f"{path}: the file is empty (expected a header line; see {FORMAT_DOC})") from None
        names = [h.strip().lower() for h in header]
        duplicated = sorted({n for n in names if names.count(n) > 1 and n})
        if duplicated:
            raise ValueError(f"{path}, row 1: duplicated column(s) {', '.join(duplicated)}")
        rows = []
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) > len(names):
                raise ValueError(f"{path}, row {line}: {len(values)} fields for {len(names)} columns")
            values = values + [""] * (len(names) - len(values))
            rows.append((line, {n: v.strip() for n, v in zip(names, values) if n}))
    return names, rows


def parse_number(path: Path, line: int, column: str, text: str, *, required: bool = True) -> float:
    if text == "":
        if required:
            raise ValueError(f"{path}, row {line}: column '{column}' is empty")
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{path}, row {line}: column '{column}' is not a number: {text!r}") from None
    if required and not math.isfinite(value):
        raise ValueError(f"{path}, row {line}: column '{column}' is not finite: {text!r}")
    return value


def image_column(path: Path, names: Sequence[str], what: str) -> str:
    for candidate in ("image_id", "path"):
        if candidate in names:
            return candidate
    raise ValueError(f"{path}, row 1 (header): missing column image_id (or path) — {what}; found columns "
                     f"{', '.join(n for n in names if n) or '(none)'}; see {FORMAT_DOC}")
