"""What limits blind DebiasFR: its low-resolution (LR) attribute predictor (issue 20, part 1).

    python benchmarks/debiasfr_predictor_study.py --debiasfr RUN/debiasfr.safetensors \\
        [--ablation RUN_NOATTR/debiasfr.safetensors] --out docs/debiasfr_utkface/predictor_study

Held-out real UTKFace faces (``split=test``, the 20 % hash split never seen by training, the critic or
the LR predictor), PIL-bicubic x16, everything through the harness (``bench.api.run``) into one store,
metrics ``attr, attr_pred, psnr, ssim``; the evaluator is the suite's default (dlib-models ONNX
networks), which no DebiasFR training touches.

1. **The predictor on the evaluation LQ.**  The model's own LR predictor (exported with it) is run on
   the same x16 LQ the harness restores: gender and age-bin accuracy against the labels, for its argmax
   (``predicted``) and the weight its top-2 soft vector puts on the right class (``top2``).
2. **Restoration error against fed-attribute accuracy.**  ``-M label_fraction=q`` gives a seeded share
   ``q`` of the faces their labels instead of the prediction (:func:`reference_models.debiasfr.method.label_draw`),
   so the attributes the generator gets are right on ``q + (1 − q)·acc`` of the faces.  The sweep
   ``q = 0, 0.25, 0.5, 0.75, 1`` traces the evaluator's gender / age-bin error (restored vs HQ
   prediction) against that accuracy; a least-squares line gives the accuracy at which blind DebiasFR
   would match its ablation.
3. **Paired tests** (bootstrap 95 % interval of the difference, exact McNemar): predicted vs top-2,
   each vs the ablation, predicted vs oracle labels.
"""
from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from debiasfr_utkface_experiment import _paired, _per_image  # noqa: E402

FRACTIONS = (0.25, 0.5, 0.75)


@functools.lru_cache(maxsize=4)
def test_lq(root: str, degradation: str, seed: int = 0) -> tuple[list, list]:
    """The labelled held-out faces and their LQ, decoded and degraded once per process (shared by every predictor)."""
    from bench.core.imageio import read_image
    from bench.core.registry import DEGRADATIONS
    from bench.data.datasets.utkface import UTKFace

    degrade = DEGRADATIONS.create(degradation)
    samples = [s for s in UTKFace(root, split="test").samples
               if s.attributes.gender is not None and s.attributes.age_bin is not None]
    lq = []
    for s in samples:
        hq = read_image(s.hq)
        lq.append(degrade.render(hq, degrade.draw(seed, s.id, hq.shape[:2])))
    return samples, lq


def predictor_accuracy(weights: str, root: str, degradation: str, seed: int = 0,
                       predictor_weights: str | None = None, fractions: tuple[float, ...] = FRACTIONS) -> dict[str, float]:
    """Accuracy of the model's LR predictor (exported, or ``predictor_weights``) on the LQ of the held-out faces."""
    import torch

    from reference_models.debiasfr.method import DebiasFRMethod, label_draw, top2_soft_np
    from reference_models.shared.aligned_io import to_network_input

    method = DebiasFRMethod(weights=weights, predictor_weights=predictor_weights)
    samples, all_lq = test_lq(root, degradation, seed)
    rows = {"gender_argmax": [], "age_argmax": [], "gender_top2_weight": [], "age_top2_weight": [], "draw": []}
    for start in range(0, len(samples), 64):
        chunk, lq = samples[start:start + 64], all_lq[start:start + 64]
        lq_t = torch.stack([torch.from_numpy(np.asarray(x)).permute(2, 0, 1).float() / 255 for x in lq])
        x01 = to_network_input(lq_t, method.size, method.device, round_input=True)
        with torch.no_grad():
            lb, lg = method.predictor(x01 * 2 - 1)
        yb = torch.tensor([int(s.attributes.age_bin) for s in chunk])
        yg = torch.tensor([int(s.attributes.gender) for s in chunk])
        rows["gender_argmax"] += (lg.argmax(1) == yg).float().tolist()
        rows["age_argmax"] += (lb.argmax(1) == yb).float().tolist()
        rows["gender_top2_weight"] += top2_soft_np(lg)[torch.arange(len(chunk)), yg].tolist()
        rows["age_top2_weight"] += top2_soft_np(lb)[torch.arange(len(chunk)), yb].tolist()
        rows["draw"] += [label_draw(torch.round(x01[i] * 255).to(torch.uint8), method.seed) for i in range(len(chunk))]
    r = {k: np.asarray(v) for k, v in rows.items()}
    out = {"n": int(len(samples)), "gender_acc": float(r["gender_argmax"].mean()),
           "age_bin_acc": float(r["age_argmax"].mean()),
           "gender_top2_weight_on_label": float(r["gender_top2_weight"].mean()),
           "age_top2_weight_on_label": float(r["age_top2_weight"].mean())}
    for q in fractions:  # fed accuracy of each mixture: labelled faces are right, the others as predicted
        fed = r["draw"] < q
        out[f"fed_gender_acc@{q:g}"] = float(np.where(fed, 1.0, r["gender_argmax"]).mean())
        out[f"fed_age_bin_acc@{q:g}"] = float(np.where(fed, 1.0, r["age_argmax"]).mean())
    return out


def flips(per_image: dict, which: str) -> dict[str, float]:
    """Per face: 1 when the evaluator's prediction on the restored face differs from that on the HQ face."""
    key, ref = ("attr_pred", "attr_pred.hq_gender") if which == "gender" else ("attr_pred.age_bin", "attr_pred.hq_age_bin")
    out = {}
    for sid, row in per_image.items():
        a, b = row.get(key, np.nan), row.get(ref, np.nan)
        if np.isfinite(a) and np.isfinite(b):
            out[sid] = float(a != b)
    return out


def paired(per_image: dict, first: str, second: str, which: str) -> dict[str, float]:
    a, b = flips(per_image[first], which), flips(per_image[second], which)
    ids = sorted(set(a) & set(b))
    return _paired(np.array([a[i] for i in ids]), np.array([b[i] for i in ids]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default="../shared/data/utkface")
    ap.add_argument("--debiasfr", required=True, help="a bench train debiasfr result (debiasfr.safetensors)")
    ap.add_argument("--ablation", default=None, help="the same recipe trained without attribute input")
    ap.add_argument("--predictor", default=None,
                    help="another LR predictor for the blind modes (benchmarks/debiasfr_lr_predictor.py output)")
    ap.add_argument("--degradation", default="x16")
    ap.add_argument("--fractions", default=",".join(f"{q:g}" for q in FRACTIONS),
                    help="label fractions of the sweep besides 0 (predicted) and 1 (labels), comma-separated")
    ap.add_argument("--limit", type=int, default=None,
                    help="seeded random subset of the test faces (smoke runs; predictor accuracy uses all of them)")
    ap.add_argument("--store", default="frbench-results/debiasfr_predictor_study.sqlite")
    ap.add_argument("--out", default="docs/debiasfr_utkface/predictor_study")
    args = ap.parse_args()

    from bench.api import run
    from bench.harness.store import ResultStore

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fractions = tuple(float(q) for q in args.fractions.split(",") if q.strip())
    accuracy = predictor_accuracy(args.debiasfr, args.root, args.degradation, fractions=fractions)
    retrained = (predictor_accuracy(args.debiasfr, args.root, args.degradation, predictor_weights=args.predictor)
                 if args.predictor else None)
    print(json.dumps({"exported": accuracy, "retrained": retrained}, indent=1), flush=True)
    common = dict(dataset="utkface", root=args.root, dataset_options={"split": "test"}, degradation=args.degradation,
                  limit=args.limit, metrics="psnr,ssim,attr,attr_pred", store=args.store, progress=True)
    model = {"weights": args.debiasfr}
    settings = {"bicubic": ("bicubic", {}, None),
                "predicted (blind)": ("debiasfr", model, accuracy["gender_acc"]),
                "top2 (blind)": ("debiasfr", {**model, "attributes": "top2"}, accuracy["gender_top2_weight_on_label"])}
    for q in fractions:
        settings[f"predicted, labels on {q:.0%}"] = ("debiasfr", {**model, "label_fraction": q},
                                                     accuracy[f"fed_gender_acc@{q:g}"])
    settings["labels (oracle)"] = ("debiasfr", {**model, "attributes": "labels"}, 1.0)
    if args.predictor:
        better = {**model, "predictor_weights": args.predictor}
        settings["predicted, retrained LR predictor"] = ("debiasfr", better, retrained["gender_acc"])
        settings["top2, retrained LR predictor"] = ("debiasfr", {**better, "attributes": "top2"},
                                                    retrained["gender_top2_weight_on_label"])
    if args.ablation:
        settings["ablation (no attribute input)"] = ("debiasfr", {"weights": args.ablation}, None)
    rows, per_image = [], {}
    for label, (method, options, fed) in settings.items():
        t0 = time.perf_counter()
        summary = run(method=method, method_options=options, **common)
        with ResultStore(Path(args.store)) as store:
            attr = store.set_results(summary.run_id).get("attr", {})
            stats = store.metric_summary(summary.run_id)
        per_image[label] = _per_image(Path(args.store), summary.run_id)
        g, a = flips(per_image[label], "gender"), flips(per_image[label], "age")
        rows.append({"setting": label, "fed gender acc": fed, "n": len(g),
                     "gender err vs HQ": float(np.mean(list(g.values()))), "age-bin err vs HQ": float(np.mean(list(a.values()))),
                     "gender err vs label": attr.get("gender_err_label"), "age-bin err vs label": attr.get("age_err_label"),
                     "PSNR": stats.get("psnr", {}).get("mean"), "SSIM": stats.get("ssim", {}).get("mean"),
                     "seconds": round(time.perf_counter() - t0, 1), "run_id": summary.run_id})
        print(rows[-1], flush=True)

    sweep = [r for r in rows if r["fed gender acc"] is not None and not r["setting"].startswith("top2")
             and "retrained" not in r["setting"]]
    x = np.array([r["fed gender acc"] for r in sweep])
    y = np.array([r["gender err vs HQ"] for r in sweep])
    slope, intercept = np.polyfit(x, y, 1)
    fit = {"gender_err_vs_fed_acc_slope": float(slope), "intercept": float(intercept),
           "points": len(sweep), "residual_max": float(np.abs(slope * x + intercept - y).max())}
    tests = {}
    names = [r["setting"] for r in rows]
    pairs = [("top2 (blind)", "predicted (blind)"), ("predicted (blind)", "labels (oracle)"),
             ("predicted, retrained LR predictor", "predicted (blind)"), ("top2, retrained LR predictor", "top2 (blind)"),
             ("predicted, retrained LR predictor", "bicubic"), ("predicted (blind)", "bicubic")]
    if args.ablation:
        pairs += [("predicted (blind)", "ablation (no attribute input)"), ("top2 (blind)", "ablation (no attribute input)"),
                  ("predicted, labels on 50%", "ablation (no attribute input)")]
        abl = next(r for r in rows if r["setting"].startswith("ablation"))
        fit["fed_gender_acc_to_match_ablation"] = float((abl["gender err vs HQ"] - intercept) / slope) if slope else None
    for first, second in pairs:
        if first in names and second in names:
            for which in ("gender", "age"):
                tests[f"{which}: {first} - {second}"] = paired(per_image, first, second, which)
    result = {"predictor": accuracy, "retrained_predictor": retrained, "settings": rows, "fit": fit, "paired": tests,
              "protocol": {"dataset": "utkface split=test", "degradation": args.degradation,
                           "evaluator": "dlib-models age/gender ONNX (suite default; not used in training)",
                           "debiasfr": args.debiasfr, "ablation": args.ablation, "predictor": args.predictor}}
    (out / "results.json").write_text(json.dumps(result, indent=1, default=str))
    write_markdown(result, out / "results.md")
    print((out / "results.md").read_text())


def write_markdown(result: dict, path: Path) -> None:
    p, acc = result["protocol"], result["predictor"]
    lines = ["# What limits blind DebiasFR: the low-resolution attribute predictor", "",
             f"Protocol: {p['dataset']}, {p['degradation']}, evaluator {p['evaluator']}. Model `{p['debiasfr']}`"
             + (f", ablation `{p['ablation']}`" if p["ablation"] else "") + " (trained here: small CPU models).", "",
             f"LR predictor on the same x16 LQ ({acc['n']} labelled faces): gender accuracy {acc['gender_acc']:.1%}, "
             f"age-bin accuracy {acc['age_bin_acc']:.1%}; top-2 soft weight on the right class: gender "
             f"{acc['gender_top2_weight_on_label']:.1%}, age bin {acc['age_top2_weight_on_label']:.1%}."]
    if result.get("retrained_predictor"):
        r2 = result["retrained_predictor"]
        lines += ["", f"Retrained LR predictor (`{p['predictor']}`): gender {r2['gender_acc']:.1%}, age bin "
                  f"{r2['age_bin_acc']:.1%}; top-2 weight on the right class: gender "
                  f"{r2['gender_top2_weight_on_label']:.1%}, age bin {r2['age_top2_weight_on_label']:.1%}."]
    lines += ["",
             "| setting | fed gender acc | n | gender err vs HQ | age-bin err vs HQ | gender err vs label | "
             "age-bin err vs label | PSNR dB | SSIM |", "|---|---|---|---|---|---|---|---|---|"]
    fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
    for r in result["settings"]:
        lines.append(f"| {r['setting']} | {fmt(r['fed gender acc'], '.1%')} | {r['n']} | {r['gender err vs HQ']:.1%} | "
                     f"{r['age-bin err vs HQ']:.1%} | {fmt(r['gender err vs label'], '.1%')} | "
                     f"{fmt(r['age-bin err vs label'], '.1%')} | {fmt(r['PSNR'], '.2f')} | {fmt(r['SSIM'], '.4f')} |")
    f = result["fit"]
    lines += ["", f"Least-squares line over the label-fraction sweep ({f['points']} points): gender error vs HQ = "
              f"{f['intercept']:.3f} {f['gender_err_vs_fed_acc_slope']:+.3f} x fed gender accuracy "
              f"(largest residual {f['residual_max']:.3f})."]
    if f.get("fed_gender_acc_to_match_ablation") is not None:
        lines.append(f"Fed gender accuracy at which DebiasFR's gender error equals the ablation's: "
                     f"{f['fed_gender_acc_to_match_ablation']:.1%}.")
    lines += ["", "## Paired differences (restored vs HQ prediction), percentage points", "",
              "| comparison | diff | 95 % CI | n | only first wrong | only second wrong | McNemar p |",
              "|---|---|---|---|---|---|---|"]
    for name, d in result["paired"].items():
        lines.append(f"| {name} | {100 * d['diff']:+.2f} | [{100 * d['lo']:+.2f}, {100 * d['hi']:+.2f}] | {d['n']} | "
                     f"{d['a_only']} | {d['b_only']} | {d['p_mcnemar']:.2g} |")
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
