"""``bench runs``: what a results store holds, run by run; list a run's sample ids; remove a run or a metric.

    bench runs list                       id, method, dataset, protocol, seed, status, images, frbench version
    bench runs ids RUN [--status ok]      the run's sample ids, in its seeded order (one per line)
    bench runs show RUN                   the run's identity, configuration and metrics (JSON)
    bench runs remove RUN [--metric M]    delete a run (or one metric's values of it); asks for --yes

``RUN`` is a run id or an unambiguous prefix of one.  Removing refuses while a live process writes the run.
"""
from __future__ import annotations

import argparse
import json

from bench.core.defaults import DEFAULTS


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("runs", help="list the runs of a store, list a run's sample ids, remove a run or a metric",
                       description="What a results store holds, run by run: list the runs, show one, list its "
                                   "sample ids in its seeded order, remove a run or one metric's values. RUN is a "
                                   "run id or an unambiguous prefix of one.")
    rsub = p.add_subparsers(dest="runs_command", metavar="ACTION")
    ls = rsub.add_parser("list", help="one line per run: id, method, dataset, protocol, seed, status, counts")
    ids = rsub.add_parser("ids", help="the sample ids of a run in its seeded order")
    ids.add_argument("run", help="run id (or an unambiguous prefix)")
    ids.add_argument("--status", choices=["ok", "error"], default=None, help="only ok or failed samples")
    show = rsub.add_parser("show", help="identity, configuration and metric configurations of a run (JSON)")
    show.add_argument("run", help="run id (or an unambiguous prefix)")
    rm = rsub.add_parser("remove", help="delete a run, or one metric's values of it (--metric)")
    rm.add_argument("run", help="run id (or an unambiguous prefix)")
    rm.add_argument("--metric", default=None, help="remove only this metric's values (they are recomputed by the "
                                                   "next `bench run` that asks for it)")
    rm.add_argument("--yes", action="store_true", help="do it (without it, only say what would be removed)")
    for q in (ls, ids, show, rm):
        q.add_argument("--store", default=DEFAULTS["store"], help="SQLite results store")
    ls.set_defaults(handler=_cmd_list)
    ids.set_defaults(handler=_cmd_ids)
    show.set_defaults(handler=_cmd_show)
    rm.set_defaults(handler=_cmd_remove)
    p.set_defaults(handler=lambda args: (p.print_help(), 2)[1])


def _cmd_list(args: argparse.Namespace) -> int:
    from bench.api import runs

    rows = runs(args.store)
    if not rows:
        print(f"no runs in {args.store}")
        return 0
    print(f"{'run id':<16}  {'method':<20} {'dataset':<12} {'protocol':<10} {'seed':>4} {'status':<11} "
          f"{'ok':>6} {'failed':>6} {'planned':>7}  frbench")
    for r in rows:
        print(f"{r['run_id']:<16}  {r['method'][:20]:<20} {r['dataset'][:12]:<12} {r['protocol'][:10]:<10} "
              f"{r['seed']:>4} {r['status']:<11} {r['n_ok']:>6} {r['n_error']:>6} {r['n_planned'] or 0:>7}  "
              f"{r.get('frbench_version') or '?'}" + (f"  [{r['holder']}]" if r.get("holder") else ""))
    return 0


def _cmd_ids(args: argparse.Namespace) -> int:
    from bench.api import run_ids

    for sample_id in run_ids(args.run, args.store, args.status):
        print(sample_id)
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from bench.api import resolve_run
    from bench.harness.store import ResultStore

    with ResultStore(args.store, readonly=True) as db:
        run_id = resolve_run(db, args.run)
        run = next(r for r in db.runs() if r["run_id"] == run_id)
        run["metrics"] = db.run_metrics(run_id)
        print(json.dumps(run, indent=1, sort_keys=True, default=str))
    return 0


def _cmd_remove(args: argparse.Namespace) -> int:
    from bench.api import remove_run, resolve_run
    from bench.harness.store import ResultStore

    with ResultStore(args.store, readonly=True) as db:
        run_id = resolve_run(db, args.run)
        run = next(r for r in db.runs() if r["run_id"] == run_id)
    what = f"metric {args.metric!r} of run {run_id}" if args.metric else f"run {run_id}"
    desc = f"{what} ({run['method']} on {run['dataset']}, {run['protocol']}, {run['n_ok']} ok / {run['n_error']} failed)"
    if not args.yes:
        print(f"would remove {desc}; add --yes to remove it")
        return 1
    counts = remove_run(run_id, args.store, metric=args.metric)
    print(f"removed {desc}: " + ", ".join(f"{n} {t}" for t, n in counts.items() if n))
    return 0
