"""``bench train debiasfr``: train DebiasFR (:mod:`reference_models.debiasfr.training`).

    bench train debiasfr --dataset utkface --root ../shared/data/utkface --split train \\
        --config small64 --out frbench-results/debiasfr_small64
    bench train debiasfr ... --set attribute_input=false --out .../ablation   # no attribute input
    bench train debiasfr --config small64 --config-file my.yaml --set train.iterations=2000 ...

Run again with the same ``--out`` to resume from ``checkpoint.safetensors``.  ``--config`` names a preset
(``official``: the released recipe; ``small64``: the small CPU configuration; ``tiny``); ``--config-file``
(YAML, safe_load) and ``--set key.sub=value`` override it.  The result ``OUT/debiasfr.safetensors`` is used
with ``bench run --method debiasfr -M weights=OUT/debiasfr.safetensors``.
"""
from __future__ import annotations

import argparse
import json


def add_parser(tsub: argparse._SubParsersAction) -> None:
    d = tsub.add_parser("debiasfr", help="DebiasFR with the pseudo-pair strategy (presets official, small64, tiny)",
                        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("--dataset", default="utkface", help="registered dataset with age and gender labels")
    d.add_argument("--root", default=None, help="dataset folder")
    d.add_argument("--split", default="train", help="dataset split option ('all' for datasets without splits)")
    d.add_argument("--dataset-option", "-D", action="append", default=[], metavar="KEY=VALUE",
                   help="dataset option, repeatable (e.g. -D n=2048 -D size=64 for synthetic)")
    d.add_argument("--config", default="small64", help="preset: official, small64, tiny")
    d.add_argument("--config-file", default=None, help="YAML file merged over the preset")
    d.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a configuration value, e.g. train.iterations=500 or attribute_input=false")
    d.add_argument("--iterations", type=int, default=None, help="total iterations (default: the configuration's)")
    d.add_argument("--limit", type=int, default=None, help="at most N training faces (seeded choice)")
    d.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    d.add_argument("--no-resume", action="store_true", help="start again even if OUT has a checkpoint")
    d.add_argument("--no-progress", action="store_true", help="no progress bar")
    d.add_argument("--out", required=True, help="output folder (checkpoints, log, inference weights)")
    d.set_defaults(handler=_cmd_train_debiasfr)


def _cmd_train_debiasfr(args: argparse.Namespace) -> int:
    from bench.cli.options import key_value as _key_value
    from bench.data.training_faces import open_training_dataset
    from reference_models.debiasfr.config import load_config
    from reference_models.debiasfr.training import train_debiasfr

    overrides = dict(_key_value(text) for text in args.overrides)
    if args.threads:
        overrides["train.threads"] = args.threads
    cfg = load_config(args.config, args.config_file, overrides)
    options = dict(_key_value(text) for text in args.dataset_option)
    dataset = open_training_dataset(args.dataset, args.root, args.split, options)
    record = train_debiasfr(dataset, cfg, args.out, limit=args.limit, iterations=args.iterations,
                            resume=not args.no_resume, progress=not args.no_progress)
    print(json.dumps({k: record[k] for k in ("label", "iteration", "seconds", "attribute_input")}, indent=1))
    return 0
