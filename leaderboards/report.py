"""``bench report``: the paper table, the figures and one self-contained HTML page from a results store.

    write_report(store, out) -> {"markdown": out/paper_table.md, "csv": ..., "latex": ..., "html": out/report.html,
                                 "figure_<name>_png" / "_svg" / "_csv": out/figures/...}

Steps (each reuses the module that owns it): the leaderboard tables of the selected runs
(:func:`leaderboards.tables.build_tables`: one per setting, every column on the faces all its runs restored,
significance marks), the paper table (:mod:`leaderboards.paper_table`), the figures
(:mod:`leaderboards.figures`; a figure without data is skipped with a note), the gallery of ``gallery``
faces per setting chosen with ``seed`` (:mod:`leaderboards.gallery`) and the page
(:mod:`leaderboards.html_report`).  The store is only read.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from bench.harness.store import ResultStore


def write_report(store: str | Path, out: str | Path, run_ids: Sequence[str] | None = None, title: str | None = None,
                 intervals: bool = False, gallery: int = 8, seed: int = 0, *, datasets: Sequence[str] = (),
                 columns: Sequence[str] | None = None,
                 progress: Callable[[str], None] | None = None) -> dict[str, Path]:
    """Write the report of the runs of ``store`` (all, or ``run_ids``: ids or unambiguous prefixes; ``datasets``:
    shell patterns of dataset names) into ``out``; return the written paths by name."""
    from leaderboards.export import select_runs
    from leaderboards.figures import write_figures
    from leaderboards.gallery import build_gallery
    from leaderboards.html_report import render
    from leaderboards.paper_table import build_paper_table, to_csv, to_latex, to_markdown
    from leaderboards.tables import TableFilter, build_tables

    say = progress or (lambda message: None)
    store, out = Path(store), Path(out)
    if not store.exists():
        raise FileNotFoundError(f"no results store at {store}: run `bench run` first (or pass --store)")
    with ResultStore(store, readonly=True) as db:
        chosen = [r["run_id"] for r in select_runs(db, run_ids)] if run_ids else []
    flt = TableFilter(datasets=tuple(datasets), run_ids=tuple(chosen))
    say("building the tables (every column on the faces all runs of a setting restored)")
    tables = build_tables(store, flt)
    if not tables:
        raise ValueError(f"no run of store {store} matches the selection (runs={list(run_ids or [])}, "
                         f"datasets={list(datasets)}): see `bench runs list --store {store}`")
    out.mkdir(parents=True, exist_ok=True)
    paper = build_paper_table(tables, columns=columns, intervals=intervals)
    paths = {"markdown": out / "paper_table.md", "csv": out / "paper_table.csv", "latex": out / "paper_table.tex"}
    paths["markdown"].write_text(to_markdown(paper), encoding="utf-8")
    paths["csv"].write_text(to_csv(paper), encoding="utf-8")
    paths["latex"].write_text(to_latex(paper), encoding="utf-8")
    say(f"wrote the paper table: {len(paper.rows)} method(s) x {len(paper.groups)} setting(s)")
    with ResultStore(store, readonly=True) as db:
        figures, figure_notes = write_figures(db, tables, out / "figures")
        say(f"drew {len(figures)} figure(s)" + (f"; {len(figure_notes)} skipped" if figure_notes else ""))
        galleries = []
        if gallery > 0:
            for group, table in zip(paper.groups, tables):
                labels = {rid: str(m) for rid, m in zip(table["frame"]["run_id"], table["frame"]["method"])}
                try:
                    rows, notes = build_gallery(db, table, gallery, seed, labels)
                except Exception as exc:  # the gallery illustrates; it never stops the report
                    rows, notes = [], [f"gallery not drawn: {exc.__class__.__name__}: {exc}"]
                galleries.append((group.name, rows, notes))
                say(f"gallery {group.name}: {len(rows)} face(s)")
    for name, files in figures.items():
        for kind, path in files.items():
            paths[f"figure_{name}_{kind}"] = path
    paths["html"] = out / "report.html"
    page = render(title or "frbench report", str(store), paper, tables, figures, figure_notes, galleries,
                  {k: v for k, v in paths.items() if k != "html"})
    paths["html"].write_text(page, encoding="utf-8")
    return paths
