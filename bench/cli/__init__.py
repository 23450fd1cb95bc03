"""The ``bench`` command line: one module per subcommand, every default from :mod:`bench.core.defaults`.

    bench run          restore a dataset with a method and score it (resumable)      bench/cli/run.py
    bench leaderboard  CSV + Markdown tables from the store                          bench/cli/leaderboard.py
    bench list         registered methods, metrics, datasets, degradations           bench/cli/listing.py
    bench errors       the per-image errors recorded in the store                    bench/cli/errors.py
    bench runs         list / show / ids / remove the runs of a store                bench/cli/runs.py
    bench correlate    metric scores against human judgements                        bench/cli/correlate.py
    bench compare      paired significance of two runs (Wilcoxon, McNemar, bootstrap)  bench/cli/compare.py
    bench groups       a run's per-image results per labelled group (race, gender...)  bench/cli/groups.py
    bench train        train a suite model (attribute-classifier, ifqa, debiasfr)    bench/cli/train.py
    bench assets       list, fetch, verify pretrained assets (sha256-checked)        bench/cli/assets.py
    bench store        check, copy (consistent, WAL included), migrate a store file   bench/cli/store.py
    bench lq           write the LQ inputs of a dataset + protocol as PNG (external)  bench/cli/lq.py
    bench study        a grid of runs (datasets x degradations x methods) from YAML  bench/cli/study.py
    bench report       paper table (Markdown/CSV/LaTeX), figures, self-contained HTML bench/cli/report.py
    bench export       per-image results (scores, predictions, labels) as CSV/Parquet bench/cli/export.py

Errors are one line on stderr (``bench: error: ...``) with exit code 2, naming the file and the cause;
SQLite and OS errors of the results store name the store.  An unexpected exception is one line too, with
exit code 1 (``bench: internal error: ...``).  ``--debug`` anywhere on the command line (or
``FRBENCH_DEBUG=1``) prints the traceback as well.  A run refused because another process writes it
exits with 75 (EX_TEMPFAIL: try again later); Ctrl-C keeps what was written (130).
"""
from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import traceback
from typing import Sequence

from bench import __version__
from bench.cli import assets, compare, correlate, errors, groups, leaderboard, listing, lq, run, runs, store, train
from bench.cli import study as study_cli
from bench.cli import export, report

#: exit code of a run refused because another process writes it (EX_TEMPFAIL: try again later)
EXIT_BUSY = 75
SUBCOMMANDS = (run, leaderboard, listing, errors, runs, correlate, compare, groups, train, assets, store, lq, study_cli, report, export)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (the usage block is what ``--help`` is for)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bench", description="frbench: blind face restoration benchmark with attribute-bias metrics.")
    parser.add_argument("--version", action="version", version=f"frbench {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="print the traceback of an error (accepted anywhere on the command line)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from bench.harness.leases import RunBusyError
    from bench.harness.store_files import StoreError, sqlite_cause

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("FRBENCH_DEBUG", "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    hint = "" if debug else " (--debug prints the traceback)"
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted: the rows written so far are kept; run the same command again to resume",
              file=sys.stderr)
        return 130
    except RunBusyError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return EXIT_BUSY
    except sqlite3.Error as exc:
        _traceback(debug)
        where = getattr(args, "store", None)
        print(f"bench: error: results store {where or ''}: {sqlite_cause(exc)}".replace("store :", "store:"),
              file=sys.stderr)
        return 2
    except (StoreError, ValueError, KeyError, FileNotFoundError, OSError, RuntimeError) as exc:
        _traceback(debug)
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        asset = _asset_error(exc)
        if asset is not None and not debug:
            message = asset.short + " (--debug prints the full instructions)"
        if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in message:
            message = f"{exc.filename}: {exc.strerror or message}"
        print(f"bench: error: {message}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug or an unforeseen fault: one line, never a bare traceback
        _traceback(debug)
        print(f"bench: internal error: {exc.__class__.__name__}: {exc}{hint}", file=sys.stderr)
        return 1


def _asset_error(exc: BaseException):
    """The asset-unavailable error behind ``exc`` (itself or a cause), whose one-line form is printed."""
    from bench.core.assets.errors import AssetUnavailableError

    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, AssetUnavailableError):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def _traceback(debug: bool) -> None:
    if debug:
        traceback.print_exc()


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
