"""``bench report``: the paper table (Markdown, CSV, LaTeX), the figures and one self-contained HTML page.

    bench report --store frbench-results/results.sqlite --out frbench-results/report --intervals --gallery 8

Every column on the faces all runs of a setting restored (as ``bench leaderboard``); figures skipped with a
note when their data are absent (:mod:`leaderboards.report`).
"""
from __future__ import annotations

import argparse
import sys

from bench.cli.options import HelpFormatter, count
from bench.core.defaults import DEFAULTS


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="paper table (Markdown/CSV/LaTeX), figures and a self-contained HTML report",
                       description="Write paper_table.{md,csv,tex}, figures/*.{png,svg,csv} and report.html (no "
                                   "external resources, opens from disk) from the runs of the store.",
                       formatter_class=HelpFormatter)
    p.add_argument("--store", default=DEFAULTS["store"], help="SQLite results store")
    p.add_argument("--out", default=DEFAULTS["report_dir"], help="folder for the report files")
    p.add_argument("--runs", default=None, metavar="ID,...",
                   help="only these runs (comma-separated ids or unambiguous prefixes; default: every run)")
    p.add_argument("--dataset", action="append", default=[], metavar="PAT",
                   help="only runs on this dataset (repeatable, shell patterns allowed)")
    p.add_argument("--intervals", action="store_true",
                   help="show 95 %% intervals in the table (mean ± t half-width; [lo, hi] for set-level values)")
    p.add_argument("--gallery", type=count, default=DEFAULTS["report_gallery"],
                   help="faces per setting in the HTML gallery (0: none)")
    p.add_argument("--seed", type=int, default=DEFAULTS["report_seed"], help="seed of the gallery's choice of faces")
    p.add_argument("--title", default=None, help="title of the HTML page")
    p.set_defaults(handler=report_command)


def report_command(args: argparse.Namespace) -> int:
    from bench.api import report

    runs = [r.strip() for r in args.runs.split(",") if r.strip()] if args.runs else None
    paths = report(store=args.store, out=args.out, run_ids=runs, datasets=args.dataset, intervals=args.intervals,
                   gallery=args.gallery, seed=args.seed, title=args.title,
                   progress=lambda message: print(message, file=sys.stderr))
    for name in ("markdown", "csv", "latex", "html"):
        print(f"wrote {paths[name]}")
    figures = sorted({p.name for k, p in paths.items() if k.startswith("figure_") and k.endswith("_png")})
    print(f"figures: {', '.join(figures) or 'none'} (PNG, SVG and CSV in {paths['html'].parent / 'figures'})")
    return 0
