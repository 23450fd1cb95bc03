"""``bench export RUN|--all``: per-image results (scores, stored predictions, labels) as CSV or Parquet.

    bench export 3f2a --format parquet --out psnr_per_image.parquet
    bench export --all --wide --out all.csv

Long form: one row per sample and stored output; ``--wide``: one row per run and sample
(:mod:`leaderboards.export`).
"""
from __future__ import annotations

import argparse

from bench.cli.options import HelpFormatter

from bench.core.defaults import DEFAULTS


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="per-image results (scores, predictions, labels) as CSV or Parquet",
                       description="Export the per-image results of runs: long form (one row per sample and output: "
                                   "every score row, the stored attribute predictions) or --wide (one row per run "
                                   "and sample), with the labels.",
                       formatter_class=HelpFormatter)
    p.add_argument("runs", nargs="*", metavar="RUN", help="run ids (or unambiguous prefixes)")
    p.add_argument("--all", action="store_true", help="every run of the store")
    p.add_argument("--store", default=DEFAULTS["store"], help="SQLite results store")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv", help="file format")
    p.add_argument("--wide", action="store_true", help="one row per run and sample, one column per output")
    p.add_argument("--out", required=True, metavar="PATH", help="file to write")
    p.set_defaults(handler=export_command)


def export_command(args: argparse.Namespace) -> int:
    from bench.api import per_image
    from leaderboards.export import write_export

    if bool(args.runs) == bool(args.all):
        raise ValueError("bench export: give run ids or --all (not both)")
    frame = per_image(store=args.store, run_ids=None if args.all else args.runs, wide=args.wide)
    path = write_export(frame, args.out, args.format)
    print(f"wrote {path}: {len(frame)} row(s), {frame['run_id'].nunique() if len(frame) else 0} run(s)")
    return 0
