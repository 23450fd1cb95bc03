"""Does a `bench train ifqa` discriminator rank bicubic x4 > x8 > x16 faces? (figures of docs/ifqa_small_training.md)

    .venv/bin/python benchmarks/ifqa_small_ranking.py frbench-results/ifqa_small/ifqa_discriminator.safetensors \\
        --root ../shared/data/utkface --n 200

Scores ``n`` held-out faces (the dataset's ``test`` split, seeded choice; training used ``train``) and their
bicubic x4 / x8 / x16 round trips (the ``x{s}`` protocol + the ``bicubic`` method) with the trained
discriminator and, as a control, with the same network at its seeded initialisation (iteration 0).
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace

from reference_models.ifqa.heldout import heldout_faces, ranking_check
from reference_models.ifqa.training_config import CONFIGS, IFQATrainConfig
from reference_models.ifqa.training_state import build_models, load_trained_discriminator


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights")
    ap.add_argument("--dataset", default="utkface")
    ap.add_argument("--root", default="../shared/data/utkface")
    ap.add_argument("--n", type=int, default=200)
    args = ap.parse_args()
    d, record = load_trained_discriminator(args.weights)
    size = int(record["input_size"])
    faces, described = heldout_faces(args.dataset, args.root, args.n)
    known = set(IFQATrainConfig.__dataclass_fields__)
    cfg = replace(CONFIGS["small"], **{k: v for k, v in record["config"].items() if k in known and k != "betas"})
    _, d0 = build_models(cfg)
    d0.eval()
    out = {"heldout": described, "trained": {"iterations": record.get("iterations"), **ranking_check(d, faces, size)},
           "initialisation": ranking_check(d0, faces, size)}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
