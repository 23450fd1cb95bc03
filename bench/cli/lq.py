"""``bench lq``: write the LQ inputs a run would give a method, as PNG files, for a restorer outside frbench.

    bench lq --dataset utkface --root R --degradation x8 --limit 100 --out lq/
    (restore lq/*.png elsewhere into restored/, one file per input, same name)
    bench run --method external -M folder=restored -M name=MyRestorer --dataset utkface --root R \\
              --degradation x8 --limit 100

What is written and how (the runner's own code path, ``manifest.csv``): :mod:`bench.harness.lq_export`.
"""
from __future__ import annotations

import argparse
import sys

from bench.cli.options import HelpFormatter, PARSERS, key_value
from bench.core.defaults import DEFAULTS

def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lq", help="write the LQ inputs of a dataset + protocol as PNG (for restorers outside frbench)",
                       description="Write <out>/<sample_id>.png: exactly the LQ images `bench run` gives a method "
                                   "with the same options, and <out>/manifest.csv (id, file, protocol, seed, sha256).",
                       formatter_class=HelpFormatter)
    p.add_argument("--dataset", default=DEFAULTS["dataset"], help="dataset (see `bench list datasets`)")
    p.add_argument("--root", default=DEFAULTS["root"], help="folder holding the dataset's files")
    p.add_argument("-D", "--dataset-option", dest="dataset_options", action="append", type=key_value, default=[],
                   metavar="KEY=VALUE", help="dataset option (as in bench run)")
    p.add_argument("--degradation", default=None,
                   help=f"degradation protocol (None: {DEFAULTS['degradation']}; unused for captured-LQ datasets)")
    p.add_argument("--seed", default=DEFAULTS["seed"], type=PARSERS["seed"], help="run seed (seeds the degradation)")
    p.add_argument("--limit", default=DEFAULTS["limit"], type=PARSERS["positive"],
                   help="only the first N samples of the run's order (same as bench run --limit)")
    p.add_argument("--subset", default=DEFAULTS["subset"], choices=("random", "first"), help="as bench run --subset")
    p.add_argument("--subset-seed", default=None, type=PARSERS["seed"], metavar="SEED",
                   help="as bench run --subset-seed (None: --seed)")
    p.add_argument("--workers", default=DEFAULTS["workers"], type=PARSERS["positive"], help="decoding threads")
    p.add_argument("--max-pixels", default=DEFAULTS["max_pixels"], type=PARSERS["positive"],
                   help="refuse larger input images (as bench run)")
    p.add_argument("--out", required=True, help="folder for <sample_id>.png and manifest.csv")
    p.set_defaults(handler=lq_command)


def lq_command(args: argparse.Namespace) -> int:
    from bench.api import write_lq_inputs

    done = write_lq_inputs(args.dataset, args.out, root=args.root, dataset_options=dict(args.dataset_options),
                           degradation=args.degradation, seed=args.seed, limit=args.limit, subset=args.subset,
                           subset_seed=args.subset_seed, workers=args.workers, max_pixels=args.max_pixels)
    for sample_id, error in done["errors"]:
        print(f"bench lq: {sample_id}: {error}", file=sys.stderr)
    print(f"wrote {done['written']} LQ image(s) of {done['planned']} planned ({done['dataset']}, {done['total']} "
          f"samples; protocol {done['protocol']}, seed {args.seed}) to {args.out}; manifest {done['manifest']}"
          + (f"; {len(done['errors'])} error(s)" if done["errors"] else ""))
    same = (f"--dataset {args.dataset}" + (f" --root {args.root}" if args.root else "")
            + "".join(f" -D {key}={value}" for key, value in args.dataset_options)
            + (f" --degradation {done['protocol']}" if done["protocol"] != "captured" else "")
            + f" --seed {args.seed}" + (f" --limit {args.limit}" if args.limit else "")
            + (f" --subset {args.subset}" if args.subset != DEFAULTS["subset"] else "")
            + (f" --subset-seed {args.subset_seed}" if args.subset_seed is not None else ""))
    print(f"score restorations of these files with: bench run --method external -M folder=RESTORED -M name=NAME {same}")
    return 0
