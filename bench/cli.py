"""The ``bench`` command line.  Every default comes from :data:`bench.defaults.DEFAULTS`.

Subcommands::

    bench run          restore a dataset with a method and score it (resumable)
    bench leaderboard  write CSV + Markdown tables from the store and print the Markdown
    bench list         registered methods, metrics, datasets, degradations
    bench errors       the per-image errors recorded in the store
    bench runs         list the runs of a store, list a run's sample ids, remove a run or a metric
    bench assets       list, fetch, verify pretrained assets (sha256-checked)
    bench train        train a suite model (attribute-classifier: small age/gender CNN, CPU)
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Sequence

import yaml

from . import __version__
from .defaults import DEFAULTS


def _key_value(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, _, value = text.partition("=")
    try:
        parsed = yaml.safe_load(value) if value else None  # typed scalars: 3, 0.5, true, [1, 2]
    except yaml.YAMLError:
        parsed = value
    return key.strip(), parsed


def _limit(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("--limit must be >= 0")
    return value


def _seed(text: str) -> int:
    value = int(text)
    if not 0 <= value < 2 ** 63:
        raise argparse.ArgumentTypeError(f"a seed must be in 0 .. 2**63-1, got {text}")
    return value


def _add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="restore a dataset with a method and score it (resumable)",
                       description="Restore every face of a dataset with a method, score the results and write "
                                   "one row per image to the results store. Started again with the same options, "
                                   "a run resumes where it stopped.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--method", default=DEFAULTS["method"], help="restoration method (see `bench list methods`)")
    p.add_argument("--dataset", default=DEFAULTS["dataset"], help="dataset (see `bench list datasets`)")
    p.add_argument("--root", default=DEFAULTS["root"], help="folder holding the dataset's files")
    p.add_argument("--metrics", default=None,
                   help=f"comma-separated metrics (see `bench list metrics`); default {','.join(DEFAULTS['metrics'])} "
                        "when the dataset has HQ images")
    p.add_argument("--degradation", default=None,
                   help=f"how the LQ is synthesised from the HQ (see `bench list degradations`; None: "
                        f"{DEFAULTS['degradation']}); not used when the dataset provides captured LQ images")
    p.add_argument("--limit", type=_limit, default=DEFAULTS["limit"],
                   help="use only N samples: the first N of one seeded permutation of the dataset's ids (the same "
                        "for every method, nested: a larger limit extends the run)")
    p.add_argument("--subset", default=DEFAULTS["subset"], choices=["random", "first"],
                   help="order --limit takes samples in: random (seeded permutation) or first (name order, not a "
                        "random sample)")
    p.add_argument("--subset-seed", type=_seed, default=None, metavar="SEED",
                   help="seed of the sample permutation (None: the run's --seed)")
    p.add_argument("--seed", type=_seed, default=DEFAULTS["seed"], help="run seed (degradation and method noise)")
    p.add_argument("--store", default=DEFAULTS["store"], help="SQLite results store")
    p.add_argument("--out", default=DEFAULTS["out"], help="folder for restored images (with --save-images)")
    p.add_argument("--save-images", action="store_true", default=DEFAULTS["save_images"],
                   help="save restored images as PNG under OUT/restored/")
    p.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"], help="images per batch")
    p.add_argument("--device", default=DEFAULTS["device"], help="torch device (cpu, cuda, cuda:1, ...)")
    p.add_argument("--workers", type=int, default=DEFAULTS["workers"], help="image decoding threads")
    p.add_argument("--dataset-option", "-D", action="append", type=_key_value, default=[], metavar="KEY=VALUE",
                   help="dataset option, repeatable (e.g. -D split=test, -D n=256 for synthetic)")
    p.add_argument("--method-option", "-M", action="append", type=_key_value, default=[], metavar="KEY=VALUE",
                   help="method option, repeatable")
    p.add_argument("--metric-option", "-X", action="append", type=_metric_key_value, default=[],
                   metavar="METRIC.KEY=VALUE", help="metric option, repeatable (e.g. -X ifqa.weights=ifqa.pth)")
    p.add_argument("--weights", default=None, metavar="PATH",
                   help="checkpoint of the method (an official .pth or a suite-trained .safetensors; "
                        "same as -M weights=PATH)")
    p.add_argument("--attributes", default=None,
                   help="attribute source of attribute-aware methods (debiasfr): predicted, top2, labels, none, or "
                        "weights like 'age=30-39:0.7,40-49:0.3;gender=female' (same as -M attributes=...)")
    p.add_argument("--executor", default=DEFAULTS["executor"], choices=["local", "ray"],
                   help="where images are processed: this process, or Ray actors (pip install 'frbench[ray]'); "
                        "the driver alone writes the store, so either resumes the other's runs")
    p.add_argument("--address", default=DEFAULTS["ray_address"],
                   help="--executor ray: 'auto' or HOST:PORT of an existing Ray cluster (`ray start --head`); "
                        "default: start Ray on this machine")
    p.add_argument("--ray-workers", type=int, default=DEFAULTS["ray_workers"], metavar="N",
                   help="--executor ray: number of worker actors (default: one per free CPU, per GPU with "
                        "--device cuda); --workers stays the decoding threads of each process")
    p.add_argument("--shard-size", type=int, default=DEFAULTS["shard_size"], metavar="N",
                   help=f"--executor ray: samples per task, rounded up to a multiple of --batch-size "
                        f"(default {DEFAULTS['ray_shard_batches']} batches)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=_cmd_run)


def _metric_key_value(text: str) -> tuple[str, tuple[str, Any]]:
    key, value = _key_value(text)
    metric, dot, option = key.partition(".")
    if not dot or not metric or not option:
        raise argparse.ArgumentTypeError(f"expected METRIC.KEY=VALUE, got {text!r}")
    return metric, (option, value)


def _cmd_run(args: argparse.Namespace) -> int:
    from .api import run

    method_options = dict(args.method_option)
    if args.weights is not None:
        method_options["weights"] = args.weights
    if args.attributes is not None:
        method_options["attributes"] = args.attributes
    metric_options: dict[str, dict[str, Any]] = {}
    for metric, (option, value) in args.metric_option:
        metric_options.setdefault(metric, {})[option] = value
    summary = run(method=args.method, dataset=args.dataset, root=args.root, metrics=args.metrics,
                  degradation=args.degradation, limit=args.limit, seed=args.seed, subset=args.subset,
                  subset_seed=args.subset_seed, store=args.store, out=args.out,
                  batch_size=args.batch_size, save_images=args.save_images, device=args.device,
                  workers=args.workers, dataset_options=dict(args.dataset_option),
                  method_options=method_options, metric_options=metric_options, progress=not args.no_progress,
                  executor=args.executor, ray_address=args.address, ray_workers=args.ray_workers,
                  shard_size=args.shard_size)
    print(summary.format())
    return 0


def _add_leaderboard(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("leaderboard", help="write CSV + Markdown leaderboards from the store",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--store", default=DEFAULTS["store"], help="SQLite results store")
    p.add_argument("--out", default=DEFAULTS["leaderboard_dir"], help="folder for leaderboard.csv and leaderboard.md")
    p.add_argument("--quiet", action="store_true", help="do not print the Markdown")
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
    p.set_defaults(handler=_cmd_leaderboard)


def _cmd_leaderboard(args: argparse.Namespace) -> int:
    from .api import leaderboard

    paths = leaderboard(store=args.store, out=args.out, datasets=args.dataset, protocols=args.protocol,
                        methods=args.method, metrics=args.metric, common_ids=not args.own_ids)
    if not args.quiet:
        print(paths["markdown"].read_text(encoding="utf-8"))
    print(f"wrote {paths['csv']} and {paths['markdown']}")
    return 0


def _add_list(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="registered methods, metrics, datasets and degradations")
    p.add_argument("kind", nargs="?", default=None, choices=["methods", "metrics", "datasets", "degradations"],
                   help="what to list (default: everything)")
    p.set_defaults(handler=_cmd_list)


def _cmd_list(args: argparse.Namespace) -> int:
    from .api import list_components

    kinds = [args.kind] if args.kind else ["methods", "metrics", "datasets", "degradations"]
    for kind in kinds:
        print(f"{kind}:")
        for name, description in list_components(kind):
            print(f"  {name:<16} {description}")
    return 0


def _add_errors(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("errors", help="per-image errors recorded in the store")
    p.add_argument("--store", default=DEFAULTS["store"], help="SQLite results store")
    p.add_argument("--run", default=None, help="run id (default: every run)")
    p.set_defaults(handler=_cmd_errors)


def _cmd_errors(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .store import ResultStore

    if not Path(args.store).exists():
        raise FileNotFoundError(f"no results store at {args.store}")
    with ResultStore(args.store, readonly=True) as store:
        for run in store.runs():
            if args.run and not run["run_id"].startswith(args.run):
                continue
            errors = store.errors(run["run_id"])
            print(f"run {run['run_id']} ({run['method']} on {run['dataset']}, {run['protocol']}): "
                  f"{len(errors)} error(s)")
            for sample_id, stage, cause in errors:
                print(f"  {sample_id} [{stage}] {cause}")
    return 0


#: exit code of a run refused because another process writes it (EX_TEMPFAIL: try again later)
EXIT_BUSY = 75


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench", description="frbench: blind face restoration benchmark with attribute-bias metrics.")
    parser.add_argument("--version", action="version", version=f"frbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_run(sub)
    _add_leaderboard(sub)
    _add_list(sub)
    _add_errors(sub)
    from . import runs_cli

    runs_cli.add_subparser(sub)
    from .train_cli import add_subparser as _add_train

    _add_train(sub)
    __import__("bench.correlate_cli", fromlist=["add_subparser"]).add_subparser(sub)
    try:
        from .assets import cli as assets_cli
    except ImportError:  # pragma: no cover - the assets package is part of the distribution
        assets_cli = None
    if assets_cli is not None:
        assets_cli.add_subparser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    handler = getattr(args, "handler", None) or getattr(args, "func", None)
    if handler is None:
        from .assets import cli as assets_cli

        handler = assets_cli.run
    from .leases import RunBusyError

    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted: the rows written so far are kept; run the same command again to resume",
              file=sys.stderr)
        return 130
    except RunBusyError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return EXIT_BUSY
    except (ValueError, KeyError, FileNotFoundError, OSError, RuntimeError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        print(f"bench: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
