"""``bench store``: check, copy and migrate a results store file.

    bench store check [--store PATH]          SQLite integrity check + frbench invariants; exit 1 on a problem
    bench store copy DEST [--store PATH]      a consistent copy, rows still in PATH-wal included
    bench store migrate [--store PATH]        bring an older store to the current schema (keeps a backup)

Why ``copy``: while a run writes (and after it was killed) committed rows can live in ``PATH-wal``; a plain
``cp PATH`` of the main file alone loses them.  Policy for opening store files: :mod:`bench.harness.store_files`.
"""
from __future__ import annotations

import argparse

from bench.core.defaults import DEFAULTS


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("store", help="check, copy or migrate a results store file",
                       description="Check, copy or migrate a results store (SQLite) file.")
    ssub = p.add_subparsers(dest="store_command", metavar="ACTION")
    check = ssub.add_parser("check", help="integrity check (SQLite + frbench invariants); exit 1 on a problem")
    copy = ssub.add_parser("copy", help="a consistent copy of the store, rows still in its -wal file included")
    copy.add_argument("destination", help="path of the copy (refused if it exists, unless --overwrite)")
    copy.add_argument("--overwrite", action="store_true", help="replace an existing destination")
    migrate = ssub.add_parser("migrate", help="bring an older store to the current schema (a backup is kept)")
    for q in (check, copy, migrate):
        q.add_argument("--store", default=DEFAULTS["store"], help="SQLite results store")
    check.set_defaults(handler=_cmd_check)
    copy.set_defaults(handler=_cmd_copy)
    migrate.set_defaults(handler=_cmd_migrate)
    p.set_defaults(handler=lambda args: (p.print_help(), 2)[1])


def _cmd_check(args: argparse.Namespace) -> int:
    from bench.api import check_store

    problems = check_store(args.store)
    for problem in problems:
        print(f"{args.store}: {problem}")
    print(f"{args.store}: {'ok' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


def _cmd_copy(args: argparse.Namespace) -> int:
    from bench.api import copy_store

    counts = copy_store(args.store, args.destination, overwrite=args.overwrite)
    print(f"copied {args.store} to {args.destination} (integrity ok): "
          + ", ".join(f"{n} {table}" for table, n in counts.items() if n))
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    from bench.api import migrate_store

    backup = migrate_store(args.store)
    print(f"{args.store}: migrated to the current schema; the old file is kept as {backup}" if backup
          else f"{args.store}: already at the current schema")
    return 0
