"""The paper table: rows = methods, column groups = settings (dataset x protocol), as Markdown, CSV and LaTeX.

Every group is one leaderboard table (:func:`leaderboards.tables.build_tables`): its values are the
leaderboard's, computed on the faces every run of the setting restored (per-image means and set-level
values recomputed on those common ids), with the same directions (:func:`leaderboards.compare.key_direction`)
and the same ``≈`` marks (paired test against the best run, Holm over the table).  A method without a run
in a setting gets ``–`` there.  Groups are named ``"<dataset> <protocol>"`` (``+ seed``/root when two
settings would share a name).

Marks, per column of a group, among the rows with a finite value: **best** (bold) and **second**
(underline, the best of the values strictly worse than the best), by the column's direction; ties share
the mark.  Informational columns (counts, the noise floor, the classifier on HQ) and columns whose values
were computed with different metric configurations are never marked.

Intervals (``intervals=True``): a per-image mean is shown as ``m ± h`` with ``h = t_{0.975, n-1} s / sqrt(n)``
(the half-width of the 95 % Student-t interval of the mean over the compared faces, ``s`` the sample
standard deviation); a set-level value with a stored interval (bootstrap, ``_lo``/``_hi``) as ``v [lo, hi]``.

Default columns (:data:`PAPER_KEYS`): the per-image headline metrics of the leaderboard, and of the set-level
metrics their ``value`` (FID, KID...) and the attribute keys below; ``columns=`` (shell patterns on the
column names, e.g. ``psnr``, ``attr.gender_err``) chooses others.
"""
from __future__ import annotations

import csv
import fnmatch
import io
import math
import textwrap
from dataclasses import dataclass, field
from typing import Any, Sequence

import pandas as pd

from bench.harness.identity import alignment_label
from leaderboards.tables import ARROW, STATUS_MARK, _fmt

#: set-level keys shown by default (of the ``attr`` family; ``value``: FID, KID, ...)
PAPER_KEYS = ("value", "gender_err", "age_err", "gender_err_label", "age_err_label")
#: the column labels a paper prints (any other column keeps the leaderboard's label)
PAPER_LABELS = {
    "psnr": "PSNR", "psnr_y": "PSNR-Y", "ssim": "SSIM", "ssim_y": "SSIM-Y", "niqe": "NIQE", "brisque": "BRISQUE",
    "fid": "FID", "fid_clean": "FID (clean)", "kid": "KID", "lpips": "LPIPS", "stlpips": "ST-LPIPS",
    "identity": "ID dist.", "identity.fail": "ID fail", "lmd": "LMD", "ifqa": "IFQA",
    "attr.gender_err": "Gender err. (HQ)", "attr.age_err": "Age err. (HQ)",
    "attr.gender_err_label": "Gender err. (label)", "attr.age_err_label": "Age err. (label)",
    "attr.age_mae": "Age MAE", "attr.noise_gender_err": "Gender err. floor",
}
#: the text of the LaTeX arrows
LATEX_ARROW = {"higher": r"$\uparrow$", "lower": r"$\downarrow$"}
_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "–": "--", "≈": r"$\approx$", "±": r"$\pm$", "↑": r"$\uparrow$", "↓": r"$\downarrow$",
                  "<": r"\textless{}", ">": r"\textgreater{}"}


def latex_escape(text: Any) -> str:
    """``text`` with the LaTeX special characters (and the few Unicode signs the tables use) escaped."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


@dataclass
class Column:
    """One column of a group: the leaderboard frame column, its label and direction, the interval columns."""

    column: str
    label: str
    direction: str
    ranked: bool
    interval: tuple[str, str] | None = None


@dataclass
class Group:
    name: str
    table: dict[str, Any]
    columns: list[Column]
    #: row label -> index in the table's frame
    rows: dict[str, int] = field(default_factory=dict)


@dataclass
class Cell:
    value: float
    text: str
    mark: str = ""          # "best", "second" or ""
    tie: bool = False       # not significantly different from the best (the leaderboard's ≈)
    lo: float = math.nan
    hi: float = math.nan
    faces: int = 0


@dataclass
class PaperTable:
    groups: list[Group]
    rows: list[str]
    cells: dict[tuple[str, int, str], Cell]
    intervals: bool
    notes: dict[str, str]

    @property
    def caption(self) -> str:
        return paper_caption(self)

    @property
    def details(self) -> str:
        return paper_details(self)


def row_label(method_cell: str) -> str:
    """A row's label: the leaderboard's method cell without the running/interrupted mark."""
    for mark in STATUS_MARK.values():
        method_cell = method_cell.replace(mark, "")
    return method_cell


def _wanted(column: str, patterns: Sequence[str] | None, set_level: bool) -> bool:
    if patterns:
        return any(fnmatch.fnmatchcase(column, p) for p in patterns)
    if not set_level:
        return True
    return column.partition(".")[2] in PAPER_KEYS or "." not in column


def _t_half_width(std: float, n: float) -> float:
    from scipy.stats import t

    n = float(n) if pd.notna(n) else math.nan
    if not (n > 1 and math.isfinite(std)):
        return math.nan
    return float(t.ppf(0.975, int(n) - 1) * std / math.sqrt(n))


def _group_names(tables: list[dict[str, Any]]) -> list[str]:
    names = [f"{t['runs'][0]['dataset']} {t['runs'][0]['protocol']}" for t in tables]
    # the alignment step, when applied, in the group's name (faces in the FFHQ frame; bench.data.framing)
    names = [n + ("" if (a := alignment_label(t["runs"][0]["identity"])) == "none" else f" aligned {a}")
             for n, t in zip(names, tables)]
    for i, name in enumerate(names):
        if names.count(name) > 1:
            ident = tables[i]["runs"][0]["identity"]
            root = (ident.get("dataset") or {}).get("root")
            names[i] = f"{name} (seed {tables[i]['runs'][0]['seed']}" + (f", {root}" if root else "") + ")"
    for i, name in enumerate(names):
        if names.count(name) > 1:
            names[i] = f"{name} #{names[:i].count(name) + 1}"
    return names


def build_paper_table(tables: list[dict[str, Any]], columns: Sequence[str] | None = None,
                      intervals: bool = False) -> PaperTable:
    """The paper table of the leaderboard ``tables`` (the list :func:`leaderboards.tables.build_tables` returns)."""
    groups, rows, notes = [], [], {}
    for name, table in zip(_group_names(tables), tables):
        info = table["info"]
        chosen = []
        for d in table["display"]:
            metric = d["column"].partition(".")[0]
            if d["count"] or not _wanted(d["column"], columns, bool(info.get(metric, {}).get("set_level"))):
                continue
            chosen.append(Column(d["column"], PAPER_LABELS.get(d["column"], d["label"]), d["direction"],
                                 d["direction"] in ARROW and d["bold"], d.get("interval")))
        group = Group(name, table, chosen)
        for i, method in enumerate(table["frame"]["method"]):
            label = row_label(str(method))
            group.rows[label] = i
            if label not in rows:
                rows.append(label)
        notes.update({row_label(k): v for k, v in table.get("notes", {}).items()})
        groups.append(group)
    cells: dict[tuple[str, int, str], Cell] = {}
    for g, group in enumerate(groups):
        frame, ties = group.table["frame"], group.table.get("ties", {})
        for col in group.columns:
            for label, i in group.rows.items():
                value = pd.to_numeric(frame.at[i, col.column], errors="coerce")
                value = float(value) if pd.notna(value) else math.nan
                lo = hi = math.nan
                if col.interval:
                    lo, hi = (float(frame.at[i, c]) if pd.notna(frame.at[i, c]) else math.nan for c in col.interval)
                elif f"{col.column}_std" in frame.columns:
                    half = _t_half_width(float(frame.at[i, f"{col.column}_std"]), frame.at[i, f"{col.column}_n"])
                    lo, hi = value - half, value + half
                cells[(label, g, col.column)] = Cell(value, _fmt(value), tie=i in ties.get(col.column, ()), lo=lo,
                                                     hi=hi, faces=int(frame.at[i, "images"]))
            if col.ranked:
                _rank([cells[(label, g, col.column)] for label in group.rows], col.direction == "higher")
    return PaperTable(groups, rows, cells, intervals, notes)


def _rank(cells: list[Cell], higher: bool) -> None:
    """Mark the best and the second-best values (ties share a mark)."""
    values = sorted({c.value for c in cells if math.isfinite(c.value)}, reverse=higher)
    if len(cells) < 2 or not values:
        return
    for c in cells:
        if math.isfinite(c.value):
            c.mark = "best" if c.value == values[0] else ("second" if len(values) > 1 and c.value == values[1] else "")


def cell_text(cell: Cell | None, intervals: bool, per_image: bool) -> str:
    """The plain text of a cell (no marks): value, and with ``intervals`` ``± h`` or ``[lo, hi]``."""
    if cell is None or not math.isfinite(cell.value):
        return "–"
    text = cell.text
    if intervals and math.isfinite(cell.lo) and math.isfinite(cell.hi):
        text += f" ± {_fmt((cell.hi - cell.lo) / 2)}" if per_image else f" [{_fmt(cell.lo)}, {_fmt(cell.hi)}]"
    return text


def _is_per_image(col: Column) -> bool:
    return col.interval is None


def marked_rows(paper: PaperTable, best: str, second: str, tie: str, escape=str):
    """Per row, ``(label, cell texts)``: each text escaped, then wrapped in the ``best`` / ``second`` template
    (``%s``) and followed by ``tie`` where marked; ``–`` where the method has no run in a group."""
    for label in paper.rows:
        texts = []
        for gi, g in enumerate(paper.groups):
            for c in g.columns:
                cell = paper.cells.get((label, gi, c.column)) if label in g.rows else None
                text = escape(cell_text(cell, paper.intervals, _is_per_image(c)))
                if cell is not None and cell.mark:
                    text = (best if cell.mark == "best" else second) % text
                if cell is not None and cell.tie:
                    text += tie
                texts.append(text)
        yield label, texts


def _faces(group: Group) -> str:
    n = sorted({len(v) for v in group.table["compared_ids"].values()})
    return f"{n[0]} faces" if len(n) == 1 else "/".join(map(str, n)) + " faces (NOT the same faces in every row)"


def paper_caption(paper: PaperTable) -> str:
    """The caption a paper prints: what the marks mean, the faces compared per group, the methods' notes
    (trained here, random weights, licence restrictions).  How each group was computed: :func:`paper_details`."""
    parts = ["↑ higher is better, ↓ lower is better, no arrow: informational. Bold: best; underlined: second "
             "best; ≈: not significantly different from the best (paired test on the group's common faces, "
             "Holm-corrected, alpha 0.05)."]
    if paper.intervals:
        parts.append("± : half-width of the 95 % t-interval of the mean over the compared faces; [lo, hi]: the "
                     "metric's 95 % bootstrap interval.")
    parts.append("Faces compared: " + "; ".join(f"{g.name} ({_faces(g)})" for g in paper.groups) + ".")
    for method, note in paper.notes.items():
        parts.append(f"{method}: {note}.")
    return " ".join(parts)


def paper_details(paper: PaperTable) -> str:
    """Per group, the leaderboard's caption (dataset, protocol, seed, which faces were left out and why) and
    its test legend: the provenance a reader of the table may ask for, kept out of the printed caption."""
    parts = []
    for g in paper.groups:
        parts.append(f"{g.name} ({_faces(g)}): {g.table['caption']}")
        if g.table.get("legend"):
            parts.append(g.table["legend"])
    return " ".join(parts)


def to_markdown(paper: PaperTable) -> str:
    """One Markdown table (group name in every header), best in bold, second in <u>...</u>, caption below."""
    headers = ["Method"] + [f"{g.name} · {c.label}" + (f" {ARROW[c.direction]}" if c.direction in ARROW else "")
                            for g in paper.groups for c in g.columns]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(["---"] + ["---:"] * (len(headers) - 1)) + "|"]
    for label, texts in marked_rows(paper, best="**%s**", second="<u>%s</u>", tie=" ≈"):
        lines.append("| " + " | ".join([label, *texts]) + " |")
    return "\n".join(lines) + f"\n\n_{paper.caption}_\n\nHow each group was computed: {paper.details}\n"


def to_csv(paper: PaperTable) -> str:
    """Tidy CSV: one line per (method, group, column) with value, interval, mark and the faces compared."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["method", "group", "dataset", "protocol", "column", "direction", "value", "lo", "hi", "mark",
                     "not_significantly_worse", "faces"])
    for label in paper.rows:
        for gi, g in enumerate(paper.groups):
            if label not in g.rows:
                continue
            run = g.table["runs"][g.rows[label]]
            for c in g.columns:
                cell = paper.cells[(label, gi, c.column)]
                writer.writerow([label, g.name, run["dataset"], run["protocol"], c.column, c.direction,
                                 repr(cell.value), repr(cell.lo), repr(cell.hi), cell.mark, int(cell.tie), cell.faces])
    return buffer.getvalue()


def to_latex(paper: PaperTable, label: str = "tab:frbench") -> str:
    """A booktabs ``table`` (needs ``\\usepackage{booktabs}``): group headers with ``\\multicolumn`` and
    ``\\cmidrule``, best ``\\textbf``, second ``\\underline``, every text escaped."""
    spec = "l" + "".join("r" * len(g.columns) for g in paper.groups if g.columns)
    details = ["% " + line for line in textwrap.wrap(paper.details, 100)]
    lines = ["% requires \\usepackage{booktabs}", "% How each group was computed (frbench):", *details,
             r"\begin{table}[t]", r"\centering", r"\small",
             rf"\caption{{{latex_escape(paper.caption)}}}", rf"\label{{{latex_escape(label)}}}",
             rf"\begin{{tabular}}{{{spec}}}", r"\toprule"]
    heads, rules, start = [""], [], 2
    for g in paper.groups:
        if not g.columns:
            continue
        heads.append(rf"\multicolumn{{{len(g.columns)}}}{{c}}{{{latex_escape(g.name)}}}")
        rules.append(rf"\cmidrule(lr){{{start}-{start + len(g.columns) - 1}}}")
        start += len(g.columns)
    lines += [" & ".join(heads) + r" \\", " ".join(rules)]
    metric_heads = ["Method"] + [latex_escape(c.label) + (f" {LATEX_ARROW[c.direction]}" if c.direction in ARROW else "")
                                 for g in paper.groups for c in g.columns]
    lines += [" & ".join(metric_heads) + r" \\", r"\midrule"]
    for label, texts in marked_rows(paper, best=r"\textbf{%s}", second=r"\underline{%s}", tie=r"~$\approx$",
                                    escape=latex_escape):
        lines.append(" & ".join([latex_escape(label), *texts]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)
