"""``bench leaderboard``: write CSV + Markdown tables from the store (filters, common or own ids) and print them
(compact, within the terminal width: :mod:`leaderboards.terminal`; ``--wide``: the full Markdown)."""
from __future__ import annotations

import argparse

from bench.cli.options import HelpFormatter

from bench.core.defaults import DEFAULTS


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("leaderboard", help="write CSV + Markdown leaderboards from the store",
                       formatter_class=HelpFormatter)
    p.add_argument("--store", default=DEFAULTS["store"], help="SQLite results store")
    p.add_argument("--out", default=DEFAULTS["leaderboard_dir"], help="folder for leaderboard.csv and leaderboard.md")
    p.add_argument("--quiet", action="store_true", help="do not print the tables")
    p.add_argument("--wide", action="store_true",
                   help="print the full Markdown tables (every column, intervals) instead of the compact ones")
    p.add_argument("--intervals", action="store_true", help="compact tables: show the intervals of the values")
    p.add_argument("--dataset", action="append", default=[], metavar="NAME",
                   help="only runs on this dataset (repeatable, shell patterns allowed)")
    p.add_argument("--protocol", action="append", default=[], metavar="NAME",
                   help="only runs with this protocol, e.g. x8 or captured (repeatable, patterns allowed)")
    p.add_argument("--method", action="append", default=[], metavar="NAME",
                   help="only runs of this method (repeatable, patterns allowed)")
    p.add_argument("--metric", action="append", default=[], metavar="NAME",
                   help="only this metric's columns, e.g. psnr or 'fid*' (repeatable, patterns allowed)")
    p.add_argument("--own-ids", action="store_true",
                   help="show each run on its own images instead of the images every run of a table has "
                        "(marked as NOT a paired comparison; nothing bold)")
    p.set_defaults(handler=leaderboard_command)


def leaderboard_command(args: argparse.Namespace) -> int:
    from bench.api import leaderboard

    paths = leaderboard(store=args.store, out=args.out, datasets=args.dataset, protocols=args.protocol,
                        methods=args.method, metrics=args.metric, common_ids=not args.own_ids)
    if not args.quiet and args.wide:
        print(paths["markdown"].read_text(encoding="utf-8"))
    elif not args.quiet:  # headline columns within the terminal's width (leaderboards.terminal); files unchanged
        from leaderboards.tables import TableFilter, build_tables
        from leaderboards.terminal import format_tables

        flt = TableFilter(args.dataset, args.protocol, args.method, args.metric)
        print(format_tables(build_tables(args.store, flt, common_ids=not args.own_ids), intervals=args.intervals))
    print(f"wrote {paths['csv']} and {paths['markdown']}")
    return 0
