"""``bench train attribute-classifier``: train the suite's small attribute classifier on a labelled dataset.

    bench train attribute-classifier --dataset utkface --root ../shared/data/utkface --split train \\
        --limit 2000 --epochs 3 --out frbench-results/attr_small.safetensors

The result is labelled everywhere as trained here (small CPU model, few images); use it with the
``trained`` attribute backend (``reference_models.attribute_classifiers.make_classifier('trained', weights=...)``).
"""
from __future__ import annotations

import argparse
import json


def add_subparser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model of the suite (attribute-classifier)")
    tsub = p.add_subparsers(dest="what", metavar="WHAT")
    a = tsub.add_parser("attribute-classifier", help="small age/gender CNN on a labelled dataset (CPU)",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    a.add_argument("--dataset", default="utkface", help="registered dataset with age and gender labels")
    a.add_argument("--root", default=None, help="dataset folder")
    a.add_argument("--split", default="train", help="dataset split option (datasets that have one)")
    a.add_argument("--limit", type=int, default=2000, help="at most N labelled images (seeded choice)")
    a.add_argument("--epochs", type=int, default=3)
    a.add_argument("--batch-size", type=int, default=64)
    a.add_argument("--lr", type=float, default=2e-3)
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--template", default="utkface", help="known-alignment chip template (utkface, ffhq, full)")
    a.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    a.add_argument("--out", required=True, help="output .safetensors file")
    a.set_defaults(handler=_cmd_train_attribute)
    p.set_defaults(handler=lambda args: (p.print_help(), 2)[1])


def _cmd_train_attribute(args: argparse.Namespace) -> int:
    from bench.registries import DATASETS
    from bench.runner import _create
    from reference_models.attribute_classifiers.trained import train_attribute_classifier

    options = {"split": args.split} if args.split and args.split != "all" else {}
    try:
        dataset = _create(DATASETS, args.dataset, root=args.root, **options)
    except Exception:
        if not options:
            raise
        dataset = _create(DATASETS, args.dataset, root=args.root)  # a dataset without splits
    record = train_attribute_classifier(dataset, args.out, epochs=args.epochs, limit=args.limit,
                                        batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                                        template=args.template, threads=args.threads)
    print(json.dumps(record["validation"], indent=1))
    return 0
