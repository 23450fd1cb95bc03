"""``bench run``: restore a dataset with a method and score it (resumable).

The flags are generated from :class:`bench.harness.config.RunConfig` (one list of run options for the
command line, the Python API and study files); ``--weights`` and ``--attributes`` are shortcuts for
``-M weights=...`` and ``-M attributes=...``.
"""
from __future__ import annotations

import argparse
from typing import Any

from bench.cli.options import HelpFormatter, PARSERS, key_value, metric_key_value
from bench.harness.config import cli_fields


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="restore a dataset with a method and score it (resumable)",
                       description="Restore every face of a dataset with a method, score the results and write "
                                   "one row per image to the results store. Started again with the same options, "
                                   "a run resumes where it stopped.",
                       formatter_class=HelpFormatter)
    for f, meta in cli_fields():
        kind, flags = meta["kind"], meta["flags"]
        if kind == "flag":
            p.add_argument(*flags, dest=f.name, action="store_true", default=f.default, help=meta["help"])
        elif kind == "negated_flag":
            p.add_argument(*flags, dest=f.name, action="store_false", default=f.default, help="no " + meta["help"])
        elif kind in ("key_value", "metric_key_value"):
            parse = key_value if kind == "key_value" else metric_key_value
            p.add_argument(*flags, dest=f.name, action="append", type=parse, default=[], metavar=meta["metavar"],
                           help=meta["help"])
        else:
            p.add_argument(*flags, dest=f.name, default=f.default, help=meta["help"], metavar=meta["metavar"],
                           choices=meta["choices"], type=PARSERS.get(meta["parse"]) if meta["parse"] else None)
    p.add_argument("--weights", default=None, metavar="PATH",
                   help="checkpoint of the method (an official .pth or a suite-trained .safetensors; "
                        "same as -M weights=PATH)")
    p.add_argument("--attributes", default=None,
                   help="attribute source of attribute-aware methods (debiasfr): predicted, top2, labels, none, or "
                        "weights like 'age=30-39:0.7,40-49:0.3;gender=female' (same as -M attributes=...)")
    p.set_defaults(handler=run_command)


def options_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`~bench.harness.config.RunConfig` options of a parsed ``bench run`` command line."""
    options: dict[str, Any] = {}
    for f, meta in cli_fields():
        value = getattr(args, f.name)
        if meta["kind"] == "key_value":
            value = dict(value)
        elif meta["kind"] == "metric_key_value":
            nested: dict[str, dict[str, Any]] = {}
            for metric, (option, v) in value:
                nested.setdefault(metric, {})[option] = v
            value = nested
        options[f.name] = value
    for shortcut in ("weights", "attributes"):
        if getattr(args, shortcut) is not None:
            options["method_options"][shortcut] = getattr(args, shortcut)
    return options


def run_command(args: argparse.Namespace) -> int:
    from bench import api

    print(api.run(**options_from_args(args)).format())
    return 0
