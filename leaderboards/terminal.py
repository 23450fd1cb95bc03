"""The leaderboard as ``bench leaderboard`` prints it: headline columns only, every line within the terminal.

The Markdown table (:func:`leaderboards.tables.to_markdown`) shows every display column with its interval: a
row of an attribute-bias table runs to 500-1200 characters.  The terminal version keeps, per table,

* the method column and the headline value of each metric: the columns of the Markdown table that have a
  direction (``↑`` / ``↓``), i.e. per-image metric means and the headline keys of set-level metrics (PSNR,
  SSIM, FID, gender / age errors ...); informational columns (counts, noise floors, values of the HQ set) and
  the Images / Failed counts are dropped (the caption gives the number of faces compared; ``--own-ids``
  tables keep an ``n`` column); intervals only with ``intervals=True`` (``--intervals``);
* the same marks as the Markdown: ``*`` after the best value of a column, ``≈`` after the values not
  significantly different from it (the legend line says how they were tested);
* labels shortened: a set-level key loses its metric prefix when no other column has the same key
  (``attr.gender_err`` -> ``gender_err``), then a label longer than :data:`MAX_LABEL` keeps the first three
  letters of each ``_``-separated word (``gender_err_label`` -> ``gen_err_lab``); a legend line under the table
  gives the full name of every shortened label.

Width: ``shutil.get_terminal_size`` clamped to ``[80, 120]`` (:func:`terminal_width`).  Columns are packed
left to right; when they do not fit, they are split into blocks, each repeating the method column; captions,
legends and notes are wrapped.  Every printed line is at most that width (a method label is cut with ``…``
when it alone would leave no room).  The CSV and Markdown files are unchanged (every column).
"""
from __future__ import annotations

import shutil
import textwrap
from typing import Any, Sequence

import pandas as pd

from leaderboards.tables import ARROW, _best_index, _fmt

#: printed width bounds (characters)
MIN_WIDTH, MAX_WIDTH = 80, 120
#: longest column label kept as it is
MAX_LABEL = 12
#: space between two columns
GAP = 2


def terminal_width() -> int:
    """The terminal's width clamped to ``[MIN_WIDTH, MAX_WIDTH]`` (120 when unknown)."""
    return max(MIN_WIDTH, min(MAX_WIDTH, shutil.get_terminal_size((MAX_WIDTH, 24)).columns))


def _shorten(text: str, limit: int = MAX_LABEL) -> str:
    """``text`` when it has at most ``limit`` characters, else the first three letters of each ``_`` word."""
    return text if len(text) <= limit else "_".join(word[:3] for word in text.split("_") if word)


def short_labels(columns: Sequence[str]) -> dict[str, str]:
    """Unique short label of each column (module documentation)."""
    keys = [column.partition(".")[2] or column for column in columns]
    labels: dict[str, str] = {}
    for column, key in zip(columns, keys):
        metric, dot, _ = column.partition(".")
        if not dot:  # a per-image metric: its name
            short = _shorten(column)
        elif keys.count(key) == 1:  # a set-level key no other column has
            short = _shorten(key)
        else:  # the same key in several metrics (attr.gender_err, attr_detect.gender_err): keep a metric prefix
            short = f"{_shorten(metric, 6)}.{_shorten(key)}"
        base, n = short, 2
        while short in labels.values():
            short, n = f"{base}~{n}", n + 1
        labels[column] = short
    return labels


def _headline(table: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for d in table["display"] if d["direction"] in ARROW and not d["count"]]


def _cells(table: dict[str, Any], column: dict[str, Any], intervals: bool) -> list[str]:
    frame: pd.DataFrame = table["frame"]
    name = column["column"]
    best = _best_index(frame[name], column["direction"] == "higher") if column["bold"] and len(frame) > 1 else set()
    ties = table.get("ties", {}).get(name, set())
    cells = []
    for i, row in frame.iterrows():
        text = _fmt(row[name])
        text += " *" if i in best else " ≈" if i in ties else "  "
        if intervals and "interval" in column:
            lo, hi = (row[c] for c in column["interval"])
            if pd.notna(lo) and pd.notna(hi):
                text += f" [{_fmt(lo)}, {_fmt(hi)}]"
        cells.append(text)
    return cells


def _blocks(widths: list[int], room: int) -> list[list[int]]:
    """Column indices packed left to right into blocks of total width (with gaps) at most ``room``."""
    blocks: list[list[int]] = [[]]
    used = 0
    for i, width in enumerate(widths):
        if blocks[-1] and used + GAP + width > room:
            blocks.append([])
            used = 0
        blocks[-1].append(i)
        used += GAP + width
    return [b for b in blocks if b]


def _wrap(text: str, width: int, indent: str = "") -> list[str]:
    return textwrap.wrap(text, width=width, subsequent_indent=indent, break_long_words=True,
                         break_on_hyphens=False) or [""]


def format_table(table: dict[str, Any], width: int, intervals: bool = False) -> list[str]:
    """The lines of one table (caption, blocks of columns, legend), each at most ``width`` characters."""
    frame: pd.DataFrame = table["frame"]
    display = _headline(table)
    labels = short_labels([d["column"] for d in display])
    headers = [f"{labels[d['column']]} {ARROW[d['direction']]}" for d in display]
    columns = [_cells(table, d, intervals) for d in display]
    if "compared_on" in frame and (frame["compared_on"] == "own ids").any():
        headers.insert(0, "n")
        columns.insert(0, [str(int(v)) for v in frame["images"]])
    methods = [str(m) for m in frame["method"]]
    widths = [max(len(h), *(len(c) for c in cells)) for h, cells in zip(headers, columns)]
    method_width = min(max(len("method"), *(len(m) for m in methods)), width - GAP - (max(widths) if widths else 0))
    method_width = max(8, method_width)
    cut = [m if len(m) <= method_width else m[: method_width - 1] + "…" for m in methods]
    lines = _wrap(table["caption"], width)
    for block in _blocks(widths, width - method_width) if widths else [[]]:
        lines.append("")
        lines.append("method".ljust(method_width) + "".join(" " * GAP + headers[i].rjust(widths[i]) for i in block))
        for r, method in enumerate(cut):
            lines.append(method.ljust(method_width) + "".join(" " * GAP + columns[i][r].rjust(widths[i]) for i in block))
    shortened = [f"{labels[d['column']]} = {d['column']}" for d in display if labels[d["column"]] != d["column"]]
    if shortened:
        lines += [""] + _wrap("Labels: " + "; ".join(shortened) + ".", width, "  ")
    if len(frame) > 1 and any(d["bold"] for d in display):
        legend = table.get("legend") or "* the best value of a column."
        lines += _wrap(legend.replace("Bold: the best value", "Marks: * the best value", 1), width, "  ")
    for method, note in table.get("notes", {}).items():
        lines += _wrap(f"{method}: {note}.", width, "  ")
    hidden = len(table["display"]) - len(display)
    if hidden:
        lines += _wrap(f"({hidden} informational column(s) not shown: leaderboard.md / .csv or --wide have them)",
                       width, "  ")
    if not intervals and any("interval" in d for d in display):
        lines += _wrap("(--intervals shows the intervals)", width, "  ")
    return [line.rstrip() for line in lines]


def format_tables(tables: list[dict[str, Any]], width: int | None = None, intervals: bool = False) -> str:
    """Every table of :func:`leaderboards.tables.build_tables` for a terminal of ``width`` (default
    :func:`terminal_width`)."""
    width = terminal_width() if width is None else int(width)
    if not tables:
        return "The store holds no runs (matching the filters) yet: run `bench run` first."
    out: list[str] = []
    for table in tables:
        out += format_table(table, width, intervals) + [""]
    return "\n".join(out).rstrip("\n")

