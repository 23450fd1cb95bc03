"""``bench study``: run a grid of runs described in one YAML file (``docs/studies.md``).

    bench study list                         the studies shipped with frbench (bench/studies/*.yaml)
    bench study show NAME                    a study's cells (datasets x degradations x methods)
    bench study run FILE_OR_NAME [--dry-run] validate the whole file, then run every cell (resumable)

``run`` takes the run options that apply to every cell (``--store``, ``--out``, ``--executor`` and the Ray
options, ``--device``, ``--workers``), ``--limit N`` (replaces the file's limit) and ``--root DATASET=PATH``
(replaces a dataset's root, repeatable).  Exit codes: 0 every cell done or skipped, 1 some cell failed
(the others ran), 2 the file has problems (all listed, nothing run).
"""
from __future__ import annotations

import argparse

from bench.cli.options import HelpFormatter, PARSERS, positive
from bench.harness.config import cli_fields

#: RunConfig options of ``bench run`` that ``bench study run`` passes to every cell (same flags and help)
PASSED_OPTIONS = ("store", "out", "device", "workers", "executor", "ray_address", "ray_workers", "shard_size",
                  "progress")


def _root(text: str) -> tuple[str, str]:
    name, eq, path = text.partition("=")
    if not eq or not name.strip() or not path:
        raise argparse.ArgumentTypeError(f"expected DATASET=PATH, got {text!r}")
    return name.strip().lower(), path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("study", help="run a grid of runs (datasets x degradations x methods) from one YAML file",
                       description="Study files describe a grid of runs: datasets x degradations x methods, with "
                                   "their metrics. Every cell is an ordinary resumable run into the results store "
                                   "(docs/studies.md).")
    actions = p.add_subparsers(dest="study_command", metavar="ACTION")
    actions.add_parser("list", help="the studies shipped with frbench")
    show = actions.add_parser("show", help="a study's cells (datasets x degradations x methods)")
    show.add_argument("study", metavar="FILE_OR_NAME", help="a study file or the name of a shipped study")
    run = actions.add_parser(
        "run", help="validate a study file, then run every cell (resumable)",
        description="Validate the whole study file (names, roots, datasets, metrics, pretrained files: every problem "
                    "listed, nothing run), then run its cells in order, each as an ordinary resumable run. A failed "
                    "cell does not stop the others; started again, complete cells are skipped and an interrupted "
                    "cell resumes. Last, the report of the study's runs is written (unless --no-report).",
        formatter_class=HelpFormatter)
    run.add_argument("study", metavar="FILE_OR_NAME", help="a study file or the name of a shipped study")
    run.add_argument("--dry-run", action="store_true", help="print the cells and the validation result, run nothing")
    run.add_argument("--limit", type=positive, default=None, help="use only N samples per cell (replaces the file's "
                                                                  "limit)")
    run.add_argument("--root", action="append", type=_root, default=[], metavar="DATASET=PATH",
                     help="root of a dataset of the study (replaces the file's root; repeatable)")
    run.add_argument("--no-report", dest="report", action="store_false",
                     help="do not write the report of the study's runs (leaderboards.report) at the end")
    for f, meta in cli_fields():
        if f.name not in PASSED_OPTIONS:
            continue
        if meta["kind"] == "negated_flag":
            run.add_argument(*meta["flags"], dest=f.name, action="store_false", default=f.default,
                             help="no " + meta["help"])
        else:
            run.add_argument(*meta["flags"], dest=f.name, default=f.default, help=meta["help"], metavar=meta["metavar"],
                             choices=meta["choices"], type=PARSERS.get(meta["parse"]) if meta["parse"] else None)
    p.set_defaults(handler=study_command, _study_parser=p)


def study_command(args: argparse.Namespace) -> int:
    action = getattr(args, "study_command", None)
    if action == "list":
        return _list()
    if action == "show":
        return _show(args.study)
    if action == "run":
        return _run(args)
    args._study_parser.print_help()
    return 2


def _list() -> int:
    from bench.harness.study import prepare_study, shipped_studies

    for name, path in shipped_studies().items():
        study = prepare_study(path, check=False).study
        description = study.description if study else "(unreadable: `bench study show` tells why)"
        cells = len(study.cells()) if study else 0
        print(f"{name:<20} {cells:>3} cell(s)  {description}")
    return 0


def _show(name: str) -> int:
    import pandas as pd

    from bench.harness.study import dry_run_summary, prepare_study

    prepared = prepare_study(name, check=False)
    study = prepared.study
    if study is None:
        prepared.raise_problems()
    frame = dry_run_summary(prepared, "").table().drop(columns="images")
    print(f"study {study.name} ({study.source}): {len(frame)} cell(s)" +
          (f"\n{study.description}" if study.description else ""))
    with pd.option_context("display.max_rows", None, "display.width", 250, "display.max_colwidth", 120):
        print(frame.to_string(index=False))
    for d in study.datasets:
        print(f"dataset {d.name}: root {d.root_text or '(none)'}" + (f" -> {d.root}" if d.root else ""))
    settings = ", ".join(f"{k}={v}" for k, v in study.settings.items())
    print(f"run options: {settings or '(defaults)'}")
    if prepared.problems:
        print(f"{len(prepared.problems)} problem(s) to fix before it can run (`bench study run {name} --dry-run` "
              f"checks everything):")
        for problem in prepared.problems:
            print(f"  {problem}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from bench import api

    summary = api.study(args.study, store=args.store, out=args.out, limit=args.limit, roots=dict(args.root),
                        executor=args.executor, ray_address=args.ray_address, ray_workers=args.ray_workers,
                        shard_size=args.shard_size, device=args.device, workers=args.workers,
                        progress=args.progress, dry_run=args.dry_run, report=args.report)
    print(summary.format())
    return summary.exit_code
