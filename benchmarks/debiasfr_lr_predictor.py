"""Train DebiasFR's low-resolution (LR) attribute predictor longer / with clean-resize augmentation (issue 20).

    python benchmarks/debiasfr_lr_predictor.py --debiasfr RUN/debiasfr.safetensors --epochs 12 \\
        --clean-resize-prob 0.5 --out RUN_lrpred_e12_clean/lr_predictor.safetensors

The predictor is the suite's small CNN (``SmallAttributeNet``), trained as ``bench train debiasfr`` trains it
(:func:`reference_models.debiasfr.auxiliary_networks.train_auxiliary_classifier`: the UTKFace ``train``
split at the model's size, degraded afresh each epoch with the model's training degradation, labels from
the dataset, never the evaluator), with the model's configuration except ``auxiliary.epochs`` and
``auxiliary.clean_resize_prob`` (a share of the LQ made by a clean bicubic down-up resize, as the ``xN``
benchmarks degrade).  It prints its accuracy on the held-out x16 LQ (``split=test``) next to the exported
predictor's; use it with ``bench run --method debiasfr -M weights=RUN/debiasfr.safetensors -M
predictor_weights=OUT``.  Small CPU model, trained here.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from debiasfr_predictor_study import predictor_accuracy  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default="../shared/data/utkface")
    ap.add_argument("--debiasfr", required=True, help="the model whose configuration (size, degradation) to follow")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--clean-resize-prob", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--degradation", default="x16", help="benchmark degradation of the held-out accuracy")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    from safetensors import safe_open
    from safetensors.torch import save_file

    from bench.data.training_faces import open_training_dataset
    from reference_models.debiasfr.auxiliary_networks import train_auxiliary_classifier
    from reference_models.debiasfr.training_data import load_training_faces

    with safe_open(args.debiasfr, framework="pt") as fh:
        meta = fh.metadata() or {}
    cfg = json.loads(meta["frbench_debiasfr"])["config"]
    cfg["auxiliary"] = {**cfg["auxiliary"], "epochs": args.epochs, "clean_resize_prob": args.clean_resize_prob}
    dataset = open_training_dataset("utkface", args.root, "train", {})
    t0 = time.perf_counter()
    faces = load_training_faces(dataset, int(cfg["network"]["out_size"]), seed=args.seed,
                                antialias=bool(cfg["train"].get("hq_antialias", False)))
    model, record = train_auxiliary_classifier(faces, cfg, degraded=True, seed=args.seed)
    record.update(seconds=round(time.perf_counter() - t0, 1), config_of=args.debiasfr,
                  clean_resize_prob=args.clean_resize_prob)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out),
              metadata={"frbench_record": json.dumps(record)})
    exported = predictor_accuracy(args.debiasfr, args.root, args.degradation)
    retrained = predictor_accuracy(args.debiasfr, args.root, args.degradation, predictor_weights=str(out))
    result = {"record": record, "held_out": {"exported": exported, "retrained": retrained}}
    out.with_suffix(".json").write_text(json.dumps(result, indent=1))
    for name, acc in result["held_out"].items():
        print(f"{name:10s} gender {acc['gender_acc']:.1%}  age bin {acc['age_bin_acc']:.1%}  "
              f"(top-2 weight on the label: gender {acc['gender_top2_weight_on_label']:.1%})")


if __name__ == "__main__":
    main()
