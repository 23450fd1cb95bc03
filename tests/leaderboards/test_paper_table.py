"""The paper table: values equal the leaderboard's and the store's, marks by direction, LaTeX structure."""
from __future__ import annotations

import csv
import math
import re
import shutil
import subprocess

import numpy as np
import pytest

from leaderboards.paper_table import build_paper_table, latex_escape, to_csv, to_latex, to_markdown
from leaderboards.tables import TableFilter, build_tables, write_leaderboard
from tests.leaderboards.report_support import build_store, report_store  # noqa: F401 (fixture)


@pytest.fixture(scope="module")
def paper(report_store):
    return build_paper_table(build_tables(report_store))


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(text.splitlines()))


def _store_means(store_path, metric: str) -> dict[tuple[str, str], float]:
    """(method, protocol) -> mean of the per-image values on the ids every run of the protocol restored."""
    from bench.harness.store import ResultStore

    with ResultStore(store_path, readonly=True) as db:
        runs = db.runs()
        out = {}
        for protocol in {r["protocol"] for r in runs}:
            same = [r for r in runs if r["protocol"] == protocol]
            common = set.intersection(*(set(db.sample_ids(r["run_id"], "ok")) for r in same))
            for r in same:
                values = [v for _, sid, m, v, _ in db.scores(r["run_id"]) if m == metric and sid in common]
                out[(r["method"], protocol)] = float(np.mean(values))
    return out


def test_values_equal_the_leaderboard_and_the_store(report_store, paper, tmp_path):
    rows = _rows(to_csv(paper))
    assert {r["group"] for r in rows} == {"synthetic x4", "synthetic x8"}
    assert paper.rows == ["bicubic", "bilinear"]
    board = {(r["method"], r["protocol"]): r for r in csv.DictReader(
        write_leaderboard(report_store, tmp_path / "lb")["csv"].open())}
    checked = 0
    for r in rows:
        expected = board[(r["method"], r["protocol"])][r["column"]]
        assert float(r["value"]) == pytest.approx(float(expected), rel=1e-12, abs=1e-15), r
        checked += 1
    assert checked == 2 * 2 * len(paper.groups[0].columns)
    means = _store_means(report_store, "psnr")
    for r in rows:
        if r["column"] == "psnr":
            assert float(r["value"]) == pytest.approx(means[(r["method"], r["protocol"])], rel=1e-12)
    assert all(r["faces"] == "8" for r in rows)


def test_best_bold_and_second_underlined_by_direction(report_store):
    paper = build_paper_table(build_tables(report_store), columns=["psnr", "ssim", "attr.age_mae",
                                                                   "attr.noise_gender_err", "attr.gender_err"])
    rows = _rows(to_csv(paper))
    md = to_markdown(paper)
    for group in ("synthetic x4", "synthetic x8"):
        for column, higher in (("psnr", True), ("ssim", True), ("attr.age_mae", False)):
            cells = {r["method"]: (float(r["value"]), r["mark"]) for r in rows if r["group"] == group
                     and r["column"] == column}
            best = (max if higher else min)(cells, key=lambda m: cells[m][0])
            other = next(m for m in cells if m != best)
            assert cells[best][0] != cells[other][0]
            assert (cells[best][1], cells[other][1]) == ("best", "second"), (group, column, cells)
    # informational columns are never marked
    noise = [r for r in rows if r["column"] == "attr.noise_gender_err"]
    assert noise and all(r["mark"] == "" for r in noise)
    # bicubic is sharper: the best PSNR and the lowest age MAE, bilinear second (Markdown cells)
    line = next(x for x in md.splitlines() if x.startswith("| bilinear"))
    assert line.count("<u>") >= 4 and "**" in next(x for x in md.splitlines() if x.startswith("| bicubic"))


def _split_row(row: str) -> list[str]:
    """Cells of a tabular row, splitting on & outside braces (\\& is a character, not a separator)."""
    cells, depth, current, i = [], 0, "", 0
    while i < len(row):
        ch = row[i]
        if ch == "\\" and i + 1 < len(row):
            current += row[i:i + 2]
            i += 2
            continue
        depth += ch == "{"
        depth -= ch == "}"
        if ch == "&" and depth == 0:
            cells.append(current)
            current = ""
        else:
            current += ch
        i += 1
    return cells + [current]


def _span(cell: str) -> int:
    m = re.match(r"\s*\\multicolumn\{(\d+)\}", cell)
    return int(m.group(1)) if m else 1


def test_latex_structure(paper, tmp_path):
    tex = to_latex(paper)
    unescaped = re.sub(r"\\[{}]", "", tex)
    depth = 0
    for ch in unescaped:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0
    for rule in (r"\toprule", r"\midrule", r"\bottomrule", r"\cmidrule(lr){2-"):
        assert rule in tex
    spec = re.search(r"\\begin\{tabular\}\{([^}]*)\}", tex).group(1)
    body = tex.split(r"\toprule", 1)[1].split(r"\bottomrule", 1)[0]
    lines = [x.strip() for x in body.splitlines() if x.strip()]
    assert all(x.endswith(r"\\") or x.startswith((r"\midrule", r"\cmidrule")) for x in lines)
    rows = [x[:-2].strip() for x in lines if x.endswith(r"\\")]
    assert len(rows) == 2 + len(paper.rows)
    for row in rows:
        assert sum(_span(c) for c in _split_row(row)) == len(spec), row
    data = [_split_row(r) for r in rows[2:]]
    headers = _split_row(rows[1])
    for j, head in enumerate(headers[1:], start=1):
        column = [row[j] for row in data]
        ranked = r"\uparrow" in head or r"\downarrow" in head
        bold = sum(r"\textbf{" in c for c in column)
        under = sum(r"\underline{" in c for c in column)
        values = {re.sub(r"\\textbf\{|\\underline\{|\}", "", c).strip() for c in column}
        if not ranked:
            assert bold == under == 0, head
        elif len(values) == 2 and ("psnr" in head or "ssim" in head or "age" in head):
            assert (bold, under) == (1, 1), (head, column)
    if shutil.which("pdflatex"):
        doc = tmp_path / "t.tex"
        doc.write_text("\\documentclass{article}\\usepackage{booktabs}\\usepackage[utf8]{inputenc}"
                       "\\begin{document}" + tex + "\\end{document}")
        done = subprocess.run(["pdflatex", "-interaction=nonstopmode", doc.name], cwd=tmp_path, capture_output=True)
        assert done.returncode == 0, done.stdout[-2000:]


def test_latex_escape():
    assert latex_escape("a_b & 50% #1 {x} $y ~^\\") == (r"a\_b \& 50\% \#1 \{x\} \$y \textasciitilde{}"
                                                        r"\textasciicircum{}\textbackslash{}")
    assert latex_escape("– ≈ ±") == r"-- $\approx$ $\pm$"


def test_intervals_are_t_half_widths_and_bootstrap_bounds(report_store):
    from scipy.stats import t

    from bench.harness.store import ResultStore

    paper = build_paper_table(build_tables(report_store), intervals=True)
    md = to_markdown(paper)
    with ResultStore(report_store, readonly=True) as db:
        run = next(r for r in db.runs() if r["method"] == "bicubic" and r["protocol"] == "x4")
        psnr = np.array([v for _, _, m, v, _ in db.scores(run["run_id"]) if m == "psnr"])
        attr = db.set_results(run["run_id"])["attr"]
    half = t.ppf(0.975, psnr.size - 1) * psnr.std(ddof=1) / math.sqrt(psnr.size)
    cell = paper.cells[("bicubic", 0, "psnr")]
    assert (cell.hi - cell.lo) / 2 == pytest.approx(half, rel=1e-9)
    assert cell.value == pytest.approx(psnr.mean(), rel=1e-12)
    gender = paper.cells[("bicubic", 0, "attr.gender_err")]
    assert (gender.lo, gender.hi) == (attr["gender_err_lo"], attr["gender_err_hi"])
    assert " ± " in md and f"[{attr['gender_err_lo']:.4f}, {attr['gender_err_hi']:.4f}]" in md
    assert r"$\pm$" in to_latex(paper)


def test_caption_counts_faces_and_says_when_rows_differ(tmp_path):
    store = build_store(tmp_path, metrics="psnr", scales=("x4",), limits={"bicubic": 8, "bilinear": 6})
    paper = build_paper_table(build_tables(store))
    caption = paper.caption
    assert "synthetic x4 (6 faces)" in caption
    assert "bicubic: 2 of its 8 left out (2 not in another run" in paper.details
    assert "left out" not in caption and "synthetic x4 (6 faces)" in paper.details
    own = build_paper_table(build_tables(store, common_ids=False))
    assert "NOT the same faces in every row" in own.caption
    assert all(c.mark == "" for c in own.cells.values())  # nothing ranked on different faces
    assert build_paper_table(build_tables(store, TableFilter(metrics=("psnr",))), columns=["ssim"]).groups[0].columns == []
