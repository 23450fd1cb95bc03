"""``bench correlate``: agreement (SRCC, KRCC tau-b, PLCC) between metric scores and human judgements.

    bench correlate --judgements study.csv --store frbench-results/results.sqlite \\
        --dataset utkface --metrics psnr,ssim,niqe
    bench correlate --judgements mos.csv --scores scores.csv --lower-is-better mymetric

Human-judgement and scores formats: ``docs/human-judgements-format.md``.  Outputs go to ``--out``
(``correlation.csv``, ``correlation_per_pack.csv``, ``correlation.md``, ``correlation.png``); the
Markdown table is printed.  Every default comes from :data:`bench.core.defaults.DEFAULTS`.
"""
from __future__ import annotations

import argparse

from bench.cli.options import HelpFormatter

from bench.core.defaults import DEFAULTS


def _names(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "correlate", help="correlate metric scores with human judgements (SRCC, KRCC, PLCC)",
        description="Correlate per-image metric scores (from the results store or a scores CSV) with human "
                    "judgements: IFQA-style ranked packs (pack_id, image_id, method, rank[, rater]) or mean "
                    "opinion scores (image_id, mos[, std, n]); see docs/human-judgements-format.md. Reports "
                    "SRCC, KRCC (tau-b) and PLCC per pack (mean over packs) and globally, with seeded "
                    "bootstrap intervals over packs (or images for MOS). Lower-is-better metrics are negated.",
        formatter_class=HelpFormatter)
    p.add_argument("--judgements", "-j", required=True, help="human-judgement CSV (ranking packs or MOS)")
    p.add_argument("--format", default="auto", choices=["auto", "ranking", "mos"],
                   help="judgement format (auto: 'rank' column = ranking, 'mos' column = MOS)")
    p.add_argument("--mos-lower-is-better", action="store_true",
                   help="the MOS column is a DMOS (lower = better quality)")
    p.add_argument("--scores", default=None,
                   help="scores CSV (image_id[, method], one column per metric) instead of the store")
    p.add_argument("--store", default=DEFAULTS["store"], help="SQLite results store (when no --scores)")
    p.add_argument("--method", default=None,
                   help="comma-separated methods (or METHOD@PROTOCOL) whose runs are used (default: all)")
    p.add_argument("--dataset", default=None, help="only runs on this dataset")
    p.add_argument("--protocol", default=None, help="only runs with this degradation protocol")
    p.add_argument("--seed", type=int, default=None, help="only runs with this run seed")
    p.add_argument("--run", action="append", default=[], help="only this run id (repeatable)")
    p.add_argument("--metrics", default=None,
                   help="comma-separated metrics (default: every per-image metric of the selected scores)")
    p.add_argument("--higher-is-better", default="", metavar="M1,M2",
                   help="metrics to treat as higher-is-better (overrides the registry / store)")
    p.add_argument("--lower-is-better", default="", metavar="M1,M2",
                   help="metrics to treat as lower-is-better, negated before correlating")
    p.add_argument("--replicates", type=int, default=DEFAULTS["correlation_replicates"],
                   help="bootstrap replicates (0 = no intervals)")
    p.add_argument("--bootstrap-seed", type=int, default=DEFAULTS["correlation_seed"], help="bootstrap seed")
    p.add_argument("--level", type=float, default=DEFAULTS["correlation_level"], help="interval level")
    p.add_argument("--allow-missing", action="store_true",
                   help="leave out judged images that have no score instead of stopping")
    p.add_argument("--out", default=DEFAULTS["correlation_dir"], help="folder for the CSV, Markdown and PNG")
    p.add_argument("--no-figure", action="store_true", help="do not draw correlation.png")
    p.add_argument("--quiet", action="store_true", help="do not print the Markdown")
    p.set_defaults(handler=_cmd_correlate)


def _cmd_correlate(args: argparse.Namespace) -> int:
    from bench.api import correlate

    if args.replicates < 0:
        raise ValueError("--replicates must be >= 0")
    if not 0.0 < args.level < 1.0:
        raise ValueError("--level must be between 0 and 1")
    report = correlate(args.judgements, scores=args.scores, store=args.store, metrics=_names(args.metrics) or None,
                       methods=_names(args.method) or None, dataset=args.dataset, protocol=args.protocol,
                       seed=args.seed, runs=args.run or None, judgement_format=args.format,
                       mos_higher_is_better=not args.mos_lower_is_better,
                       higher_is_better=_names(args.higher_is_better), lower_is_better=_names(args.lower_is_better),
                       replicates=args.replicates, bootstrap_seed=args.bootstrap_seed, level=args.level,
                       allow_missing=args.allow_missing, out=args.out, figure=not args.no_figure)
    if not args.quiet:
        print(report.markdown)
    print("wrote " + ", ".join(str(p) for p in report.paths.values()))
    return 0
