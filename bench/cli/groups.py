"""``bench groups RUN --by ATTRIBUTE``: a run's per-image quality results per group of a labelled attribute.

    bench groups 7e15 --by race --metric psnr --metric ssim --csv psnr_by_race.csv

Mean with a 95 % t-interval per group, the gap of the means and a Kruskal-Wallis test across the groups
with at least ``--min-group`` faces (:mod:`leaderboards.groups`).  Attribute errors per group: the
``attr`` / ``attr_groups`` metrics.
"""
from __future__ import annotations

import argparse

from bench.cli.options import HelpFormatter, positive
from bench.core.defaults import DEFAULTS


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("groups", help="a run's per-image quality results per group of a labelled attribute",
                       description="Per-image results (PSNR, SSIM, NIQE, ...) of one run grouped by any attribute "
                                   "the dataset labels (race, gender, age_bin, ...): mean and 95 %% t-interval per "
                                   "group, gap of the means and Kruskal-Wallis test across the groups.",
                       formatter_class=HelpFormatter)
    p.add_argument("run", metavar="RUN", help="run id (or an unambiguous prefix)")
    p.add_argument("--by", required=True, help="the labelled attribute to group by, e.g. race, gender, age_bin; "
                                                "comma-separated attributes are crossed (age_bin,gender)")
    p.add_argument("--store", default=DEFAULTS["store"], help="SQLite results store")
    p.add_argument("--metric", action="append", default=[], metavar="NAME", help="only this metric (repeatable)")
    p.add_argument("--min-group", type=positive, default=30, help="smallest group that enters the gap and the test")
    p.add_argument("--csv", default=None, metavar="PATH", help="also write the table as CSV")
    p.set_defaults(handler=groups_command)


def groups_command(args: argparse.Namespace) -> int:
    from bench.api import group_scores
    from leaderboards.groups import to_text

    frame = group_scores(args.run, by=args.by, store=args.store, metrics=args.metric or None,
                         min_group=args.min_group, csv=args.csv)
    print(to_text(frame))
    if args.csv:
        print(f"wrote {args.csv}")
    return 0
