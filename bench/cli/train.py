"""``bench train attribute-classifier``: train the suite's small attribute classifier on a labelled dataset.

    bench train attribute-classifier --dataset utkface --root ../shared/data/utkface --split train \\
        --limit 2000 --epochs 3 --out frbench-results/attr_small.safetensors

The result is labelled everywhere as trained here (small CPU model, few images); use it with the
``trained`` attribute backend (``reference_models.shared.attribute_classifiers.make_classifier('trained', weights=...)``).
"""
from __future__ import annotations

import argparse

from bench.cli.options import HelpFormatter
import json

from bench.cli import train_debiasfr


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model of the suite (attribute-classifier, ifqa)")
    tsub = p.add_subparsers(dest="what", metavar="WHAT")
    a = tsub.add_parser("attribute-classifier", help="small age/gender CNN on a labelled dataset (CPU)",
                        formatter_class=HelpFormatter)
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
    q = tsub.add_parser("ifqa", help="IFQA per-pixel discriminator vs a plain restoration generator (CPU preset)",
                        formatter_class=HelpFormatter)
    q.add_argument("--dataset", default="utkface", help="registered dataset with HQ faces")
    q.add_argument("--root", default=None, help="dataset folder")
    q.add_argument("--split", default="train", help="dataset split option (datasets that have one)")
    q.add_argument("--config", default="small", help="preset: small (CPU), tiny (smoke test), paper")
    q.add_argument("--iterations", type=int, default=400, help="total iterations (a resumed run continues)")
    q.add_argument("--limit", type=int, default=None, help="at most N training faces (default: from the preset)")
    q.add_argument("--perceptual", default=None, help="fid-inception, vgg19 or random-vgg19 (default: from the preset)")
    q.add_argument("--batch-size", type=int, default=None)
    q.add_argument("--seed", type=int, default=None)
    q.add_argument("--heldout", type=int, default=0,
                   help="after training, score N held-out faces (split=test) and their bicubic x4/x8/x16")
    q.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    q.add_argument("--no-resume", action="store_true", help="start again even if OUT has a checkpoint")
    q.add_argument("--out", required=True, help="output folder (checkpoints, log)")
    q.set_defaults(handler=_cmd_train_ifqa)
    train_debiasfr.add_parser(tsub)
    p.set_defaults(handler=lambda args: (p.print_help(), 2)[1])


def _cmd_train_attribute(args: argparse.Namespace) -> int:
    from bench.data.training_faces import open_training_dataset
    from reference_models.shared.attribute_classifiers.trained import train_attribute_classifier

    dataset = open_training_dataset(args.dataset, args.root, args.split)
    record = train_attribute_classifier(dataset, args.out, epochs=args.epochs, limit=args.limit,
                                        batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                                        template=args.template, threads=args.threads)
    print(json.dumps(record["validation"], indent=1))
    return 0


def _cmd_train_ifqa(args: argparse.Namespace) -> int:
    from reference_models.ifqa.training import train_ifqa_cli

    return train_ifqa_cli(args)
