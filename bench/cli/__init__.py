"""The ``bench`` command line: one module per subcommand, every default from :mod:`bench.core.defaults`.

    bench run          restore a dataset with a method and score it (resumable)      bench/cli/run.py
    bench leaderboard  CSV + Markdown tables from the store                          bench/cli/leaderboard.py
    bench list         registered methods, metrics, datasets, degradations           bench/cli/listing.py
    bench errors       the per-image errors recorded in the store                    bench/cli/errors.py
    bench runs         list / show / ids / remove the runs of a store                bench/cli/runs.py
    bench correlate    metric scores against human judgements                        bench/cli/correlate.py
    bench train        train a suite model (attribute-classifier, ifqa, debiasfr)    bench/cli/train.py
    bench assets       list, fetch, verify pretrained assets (sha256-checked)        bench/cli/assets.py

Errors are one line on stderr (``bench: error: ...``) with exit code 2; a run refused because another
process writes it exits with 75 (EX_TEMPFAIL: try again later); Ctrl-C keeps what was written (130).
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from bench import __version__
from bench.cli import assets, correlate, errors, leaderboard, listing, run, runs, train

#: exit code of a run refused because another process writes it (EX_TEMPFAIL: try again later)
EXIT_BUSY = 75
SUBCOMMANDS = (run, leaderboard, listing, errors, runs, correlate, train, assets)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench", description="frbench: blind face restoration benchmark with attribute-bias metrics.")
    parser.add_argument("--version", action="version", version=f"frbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from bench.harness.leases import RunBusyError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
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
