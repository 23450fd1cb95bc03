"""``bench errors``: the per-image errors and the dataset indexing issues recorded in the store (read-only)."""
from __future__ import annotations

import argparse

from bench.core.defaults import DEFAULTS


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("errors", help="per-image errors and dataset indexing issues recorded in the store")
    p.add_argument("--store", default=DEFAULTS["store"], help="SQLite results store")
    p.add_argument("--run", default=None, help="run id (default: every run)")
    p.add_argument("--examples", action="store_true",
                   help="show a few example locations for each reason a dataset entry was not used")
    p.set_defaults(handler=errors_command)


def errors_command(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bench.harness.dataset_counts import format_counts, stored_counts
    from bench.harness.store import ResultStore

    if not Path(args.store).exists():
        raise FileNotFoundError(f"no results store at {args.store}")
    with ResultStore(args.store, readonly=True) as store:
        for run in store.runs():
            if args.run and not run["run_id"].startswith(args.run):
                continue
            errors = store.errors(run["run_id"])
            issues = store.dataset_issues(run["run_id"])
            print(f"run {run['run_id']} ({run['method']} on {run['dataset']}, {run['protocol']}): "
                  f"{len(errors)} error(s), {len(issues)} dataset issue(s)")
            for sample_id, stage, cause in errors:
                print(f"  {sample_id} [{stage}] {cause}")
            for path, reason in issues:
                print(f"  {path} [dataset] {reason}")
            for line in format_counts(stored_counts(run), examples=args.examples,
                                      hint="" if args.examples else " (--examples shows examples)"):
                print(line)
    return 0
