"""``bench list``: the registered methods, metrics, datasets and degradations, one line each."""
from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="registered methods, metrics, datasets and degradations")
    p.add_argument("kind", nargs="?", default=None, choices=["methods", "metrics", "datasets", "degradations"],
                   help="what to list (default: everything)")
    p.set_defaults(handler=list_command)


def list_command(args: argparse.Namespace) -> int:
    from bench.api import list_components

    kinds = [args.kind] if args.kind else ["methods", "metrics", "datasets", "degradations"]
    for kind in kinds:
        print(f"{kind}:")
        for name, description in list_components(kind):
            print(f"  {name:<16} {description}")
    return 0
