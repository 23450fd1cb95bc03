"""Second opinion on attribute errors: dlib-models ONNX vs a classifier trained here, bicubic x16 on UTKFace.

    .venv/bin/python benchmarks/attribute_agreement_utkface.py [--limit 600] [--train-limit 6000] [--epochs 8]

1. Trains (or reuses) the suite's small attribute CNN (``bench train attribute-classifier``;
   :mod:`reference_models.shared.attribute_classifiers.trained`) on the UTKFace **train** split (the
   seeded 80 % hash split; ``--train-limit`` images of its seeded order, ``--epochs``, CPU).  Weights go
   to ``frbench-results/attr_agreement/`` (never into the repository).  **Trained here on N UTKFace
   train images, CPU, E epochs -- not a reference evaluator.**
2. Runs bicubic x16 on the UTKFace **test** split (the first ``--limit`` faces of the run's seeded
   permutation) with ``attr`` (dlib-models ONNX, known alignment) and ``attr_agreement`` (first = the
   same dlib classifier, second = the trained one): the agreement reuses attr's stored dlib predictions.
3. A second store runs ``attr`` with the trained classifier on the same faces (its error against the
   UTKFace labels on HQ: how good the second opinion is; its ``gender_err`` must equal
   ``gender_err_second``).
4. Prints (and writes to ``frbench-results/attr_agreement/attr_agreement_utkface.md``) a Markdown table:
   Cohen's kappa on HQ and restored faces and on the flips, each classifier's error vs HQ, with 95 % CIs.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "utkface"
OUT = ROOT / "frbench-results" / "attr_agreement"


def ci(r, key, scale=1.0, digits=3) -> str:
    v, lo, hi = r.get(key), r.get(key + "_lo"), r.get(key + "_hi")
    if v is None or v != v:
        return "–"
    f = f"{{:.{digits}f}}"
    if lo is None or lo != lo:
        return f.format(scale * v)
    return f"{f.format(scale * v)} [{f.format(scale * lo)}, {f.format(scale * hi)}]"


def train_or_reuse(args) -> tuple[Path, dict, float]:
    from safetensors import safe_open

    weights = OUT / f"attr_small_utkface_train{args.train_limit}_e{args.epochs}_s{args.seed}.safetensors"
    seconds = 0.0
    if not weights.exists():
        from bench.data.training_faces import open_training_dataset
        from reference_models.shared.attribute_classifiers.trained import train_attribute_classifier

        t0 = time.perf_counter()
        dataset = open_training_dataset("utkface", str(SHARED), "train")
        train_attribute_classifier(dataset, weights, epochs=args.epochs, limit=args.train_limit,
                                   seed=args.seed, threads=args.threads)
        seconds = time.perf_counter() - t0
    with safe_open(str(weights), framework="pt") as fh:
        record = json.loads(fh.metadata()["frbench_record"])
    return weights, record, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=600, help="test faces (seeded permutation of the test split)")
    parser.add_argument("--train-limit", type=int, default=6000, help="training images (seeded, train split)")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0, help="training seed")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--scale", type=int, default=16)
    parser.add_argument("--replicates", type=int, default=1000)
    args = parser.parse_args()

    from bench.harness.runner import Runner

    if not SHARED.exists():
        raise SystemExit(f"{SHARED} is absent: this benchmark needs ../shared/data/utkface")
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    weights, record, train_seconds = train_or_reuse(args)
    label = (f"trained here on {record['n_train']} UTKFace train images, CPU, {record['epochs']} epochs "
             "-- not a reference evaluator")
    print(f"second classifier: {weights.name} ({label}); validation {record['validation']}", flush=True)

    common = dict(degradation=f"x{args.scale}", limit=args.limit, out=str(OUT), batch_size=32, progress=False,
                  dataset_options={"split": "test"})
    t0 = time.perf_counter()
    runner = Runner("bicubic", "utkface", root=str(SHARED), metrics="attr,attr_agreement",
                    store=str(OUT / "attr_agreement_utkface.sqlite"),
                    metric_options={"attr": {"replicates": args.replicates},
                                    "attr_agreement": {"first": "dlib_onnx", "second": "trained",
                                                       "second_weights": str(weights),
                                                       "replicates": args.replicates}}, **common)
    summary = runner.run()
    run_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    trained_attr = Runner("bicubic", "utkface", root=str(SHARED), metrics="attr",
                          store=str(OUT / "attr_trained_utkface.sqlite"),
                          metric_options={"attr": {"classifier": "trained", "weights": str(weights),
                                                   "replicates": args.replicates}}, **common).run()
    trained_seconds = time.perf_counter() - t0
    total = time.perf_counter() - started
    a, dlib, small = (summary.set_results["attr_agreement"], summary.set_results["attr"],
                      trained_attr.set_results["attr"])
    n = int(a["n"])
    lines = [
        f"# Two classifiers, one run: bicubic x{args.scale} on UTKFace test ({n} faces)", "",
        f"Generated by `benchmarks/attribute_agreement_utkface.py`: UTKFace test split (20 % hash split), the first "
        f"{args.limit} faces of the run's seeded permutation; degradation PIL bicubic antialiased down x{args.scale}, "
        "bicubic up to 200x200.  First classifier (A): dlib-models age-v1 + gender-v1 ONNX (known UTKFace "
        f"alignment).  Second (B): `{weights.name}`, **{label}** (validation on {record['validation']['n']} held-out "
        f"train-split images: gender acc {record['validation']['gender_acc']:.3f}, age-bin acc "
        f"{record['validation']['age_bin_acc']:.3f}).  95 % intervals: image bootstrap, {args.replicates} replicates.",
        "",
        "| | gender | age bin (10 bins) | age bin, linear-weighted |", "|---|---|---|---|",
        f"| Cohen's kappa A vs B, HQ faces | {ci(a, 'kappa_gender_hq')} | {ci(a, 'kappa_age_hq')} "
        f"| {ci(a, 'kappa_age_hq_linear')} |",
        f"| Cohen's kappa A vs B, restored faces | {ci(a, 'kappa_gender_restored')} | {ci(a, 'kappa_age_restored')} "
        f"| {ci(a, 'kappa_age_restored_linear')} |",
        f"| raw agreement A vs B, HQ / restored (%) | {ci(a, 'agree_gender_hq', 100, 1)} / "
        f"{ci(a, 'agree_gender_restored', 100, 1)} | {ci(a, 'agree_age_hq', 100, 1)} / "
        f"{ci(a, 'agree_age_restored', 100, 1)} | |",
        f"| kappa of the flip decisions (restored != HQ) | {ci(a, 'kappa_gender_flip')} | {ci(a, 'kappa_age_flip')} | |",
        f"| error vs HQ, A = dlib (%) | {ci(a, 'gender_err_first', 100, 1)} | {ci(a, 'age_err_first', 100, 1)} | |",
        f"| error vs HQ, B = trained here (%) | {ci(a, 'gender_err_second', 100, 1)} | "
        f"{ci(a, 'age_err_second', 100, 1)} | |",
        f"| classifier on HQ vs UTKFace label, A (%) | {ci(dlib, 'hq_gender_err_label', 100, 1)} | "
        f"{ci(dlib, 'hq_age_err_label', 100, 1)} | |",
        f"| classifier on HQ vs UTKFace label, B (%) | {ci(small, 'hq_gender_err_label', 100, 1)} | "
        f"{ci(small, 'hq_age_err_label', 100, 1)} | |",
        "",
        f"Faces in each kappa: gender HQ {a['n_gender_hq']:.0f}, restored {a['n_gender_restored']:.0f}, flips "
        f"{a['n_gender_flip']:.0f}.  Check: attr's gender_err with A = {dlib['gender_err']:.4f} (agreement "
        f"{a['gender_err_first']:.4f}), with B = {small['gender_err']:.4f} (agreement {a['gender_err_second']:.4f}).",
        f"Time: training {train_seconds:.0f} s (0 = reused; recorded {record['seconds']} s), run with attr + "
        f"attr_agreement {run_seconds:.0f} s, attr with B {trained_seconds:.0f} s, total {total:.0f} s (2 CPUs).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    (OUT / "attr_agreement_utkface.md").write_text(text)
    (OUT / "attr_agreement_utkface.json").write_text(json.dumps(
        {"agreement": a, "attr_dlib": dlib, "attr_trained": small, "training": record,
         "seconds": {"train": train_seconds, "run": run_seconds, "trained_attr": trained_seconds, "total": total}},
        indent=1, default=float))


if __name__ == "__main__":
    main()
