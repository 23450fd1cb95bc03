"""``bench compare RUN_A RUN_B``: paired significance of two runs of one setting, on the faces both restored.

    bench compare 3f2a 9c1b --store frbench-results/results.sqlite --metric psnr --metric 'attr*' --csv cmp.csv

Per-image metrics: Wilcoxon signed-rank; attribute error rates: exact McNemar; other set-level values (FID,
KID...): paired bootstrap over the common ids; Holm over the rows (:mod:`leaderboards.compare`).
"""
from __future__ import annotations

import argparse

from bench.cli.options import HelpFormatter, count
from bench.core.defaults import DEFAULTS


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare", help="paired significance of two runs (same faces): Wilcoxon, McNemar, paired bootstrap",
        description="Compare run A with run B on the sample ids both restored: Wilcoxon signed-rank test for "
                    "per-image metrics, exact McNemar test for attribute error rates (gender / age bin, against "
                    "the HQ prediction and the label), paired bootstrap for the other set-level values (FID, "
                    "KID...), Holm correction over the rows. The runs must be of the same setting.",
        formatter_class=HelpFormatter)
    p.add_argument("run_a", metavar="RUN_A", help="run id (or an unambiguous prefix)")
    p.add_argument("run_b", metavar="RUN_B", help="run id (or an unambiguous prefix)")
    p.add_argument("--store", default=DEFAULTS["store"], help="SQLite results store")
    p.add_argument("--metric", action="append", default=[], metavar="NAME",
                   help="only this metric, e.g. psnr or 'attr*' (repeatable, shell patterns allowed)")
    p.add_argument("--replicates", type=count, default=None,
                   help="paired bootstrap replicates of set-level values, each recomputing the metric for both "
                        "runs (default: 200, leaderboards.compare.REPLICATES; 0: values without a test)")
    p.add_argument("--csv", default=None, metavar="PATH", help="also write the table as CSV")
    p.set_defaults(handler=compare_command)


def compare_command(args: argparse.Namespace) -> int:
    from bench.api import compare
    from leaderboards.compare import to_text

    frame = compare(args.run_a, args.run_b, store=args.store, metrics=args.metric or None,
                    replicates=args.replicates, csv=args.csv)
    print(to_text(frame))
    if args.csv:
        print(f"wrote {args.csv}")
    return 0
