"""DebiasFR vs its no-attribute ablation vs bicubic on held-out real UTKFace faces (issue 6 experiment).

    python benchmarks/debiasfr_utkface_experiment.py --root ../shared/data/utkface \\
        --debiasfr frbench-results/dbfr_utk_small64/debiasfr.safetensors \\
        --ablation frbench-results/dbfr_utk_small64_noattr/debiasfr.safetensors --out docs/debiasfr_utkface

All runs go through the harness (``bench.api.run``) into one store: UTKFace ``split=test`` (the 20 %
hash split never seen by training, the critic or the low-resolution predictor), PIL-bicubic ×16
(200 px -> 12 px LQ), metrics ``psnr, ssim, niqe, attr, attr_pred``.  The attribute evaluator is the
suite's default (dlib-models ONNX age/gender networks, known alignment): independent of the critic the
models were trained against.  Methods: bicubic; DebiasFR with predicted attributes (blind, the official
default); DebiasFR with the UTKFace labels (oracle); the ablation (same network and losses, no attribute
input).  Then, from the per-image predictions, paired differences of the gender and age-bin error
rates (vs the HQ prediction) with a paired bootstrap 95 % interval and an exact McNemar test; and the
human-interaction control: the same LQ restored with every age bin (and each gender) as user weights,
the evaluator's mean predicted age / female share per requested value, and a figure.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

REPLICATES = 2000


def _per_image(store_path: Path, run_id: str) -> dict[str, dict[str, float]]:
    from bench.harness.store import ResultStore

    out: dict[str, dict[str, float]] = {}
    with ResultStore(store_path) as store:
        for _, sample, metric, value, _err in store.scores(run_id):
            out.setdefault(sample, {})[metric] = np.nan if value is None else float(value)
    return out


def _paired(a: np.ndarray, b: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Difference of the means of two paired 0/1 vectors, bootstrap 95 % interval, exact McNemar p."""
    from scipy.stats import binomtest

    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a), size=(REPLICATES, len(a)))
    diffs = a[idx].mean(1) - b[idx].mean(1)
    n01, n10 = int(((a == 0) & (b == 1)).sum()), int(((a == 1) & (b == 0)).sum())
    p = binomtest(n10, n10 + n01, 0.5).pvalue if n10 + n01 else 1.0
    return {"diff": float(a.mean() - b.mean()), "lo": float(np.quantile(diffs, 0.025)),
            "hi": float(np.quantile(diffs, 0.975)), "n": int(len(a)), "a_only": n10, "b_only": n01, "p_mcnemar": float(p)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default="../shared/data/utkface")
    ap.add_argument("--debiasfr", required=True)
    ap.add_argument("--ablation", required=True)
    ap.add_argument("--degradation", default="x16")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--store", default="frbench-results/debiasfr_utkface.sqlite")
    ap.add_argument("--out", default="docs/debiasfr_utkface")
    ap.add_argument("--control-faces", type=int, default=200)
    ap.add_argument("--figure-faces", type=int, default=6)
    args = ap.parse_args()

    from bench.api import run

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    store = Path(args.store)
    common = dict(dataset="utkface", root=args.root, dataset_options={"split": "test"}, degradation=args.degradation,
                  limit=args.limit, metrics="psnr,ssim,niqe,attr,attr_pred", store=store, progress=True)
    settings = {
        "bicubic": ("bicubic", {}),
        "ablation (no attribute input)": ("debiasfr", {"weights": args.ablation}),
        "debiasfr (predicted attributes)": ("debiasfr", {"weights": args.debiasfr, "attributes": "predicted"}),
        "debiasfr (oracle labels)": ("debiasfr", {"weights": args.debiasfr, "attributes": "labels"}),
    }
    summaries, timings = {}, {}
    for label, (method, options) in settings.items():
        t0 = time.perf_counter()
        summaries[label] = run(method=method, method_options=options, **common)
        timings[label] = round(time.perf_counter() - t0, 1)
        print(summaries[label].format(), flush=True)

    from bench.harness.store import ResultStore

    rows, per_image = [], {}
    with ResultStore(store) as s:
        set_results = {label: s.set_results(summ.run_id) for label, summ in summaries.items()}
        summary_stats = {label: s.metric_summary(summ.run_id) for label, summ in summaries.items()}
    for label, summ in summaries.items():
        per_image[label] = _per_image(store, summ.run_id)
        attr = set_results[label].get("attr", {})
        stats = summary_stats[label]

        def ci(key, scale=100.0, digits=1):
            v, lo, hi = attr.get(key), attr.get(f"{key}_lo"), attr.get(f"{key}_hi")
            if v is None:
                return "-"
            if lo is None or hi is None:
                return f"{v * scale:.{digits}f}"
            return f"{v * scale:.{digits}f} [{lo * scale:.{digits}f}, {hi * scale:.{digits}f}]"

        def mean(metric, fmt):
            st = stats.get(metric)
            if not st:
                return "-"
            half = 1.96 * st["std"] / np.sqrt(st["n"]) if st["n"] > 1 else float("nan")
            return f"{st['mean']:{fmt}} ± {half:{fmt}}"

        rows.append({"setting": label, "n": stats.get("psnr", {}).get("n"),
                     "gender err vs HQ %": ci("gender_err"), "age-bin err vs HQ %": ci("age_err"),
                     "gender err vs label %": ci("gender_err_label"), "age-bin err vs label %": ci("age_err_label"),
                     "age MAE vs label (y)": ci("age_mae", 1.0, 2), "FD gender vs HQ": ci("fd_gender_ref", 1.0, 3),
                     "PSNR (dB)": mean("psnr", ".2f"), "SSIM": mean("ssim", ".4f"), "NIQE": mean("niqe", ".2f"),
                     "seconds": timings[label], "set_results": attr})

    # paired comparisons on the per-image predictions (restored vs HQ prediction)
    def flips(label: str, which: str) -> tuple[list[str], np.ndarray]:
        data = per_image[label]
        ids = sorted(data)
        if which == "gender":
            v = [float(data[i].get("attr_pred", np.nan) != data[i].get("attr_pred.hq_gender", np.nan))
                 if np.isfinite(data[i].get("attr_pred", np.nan)) and np.isfinite(data[i].get("attr_pred.hq_gender", np.nan))
                 else np.nan for i in ids]
        else:
            v = [float(data[i].get("attr_pred.age_bin", np.nan) != data[i].get("attr_pred.hq_age_bin", np.nan))
                 if np.isfinite(data[i].get("attr_pred.age_bin", np.nan)) and np.isfinite(data[i].get("attr_pred.hq_age_bin", np.nan))
                 else np.nan for i in ids]
        return ids, np.asarray(v)

    paired = {}
    target = "debiasfr (predicted attributes)"
    for other in ("ablation (no attribute input)", "bicubic", "debiasfr (oracle labels)"):
        for which in ("gender", "age"):
            ids_a, a = flips(target, which)
            ids_b, b = flips(other, which)
            common_ids = sorted(set(ids_a) & set(ids_b))
            ia, ib = {k: j for j, k in enumerate(ids_a)}, {k: j for j, k in enumerate(ids_b)}
            paired[f"{which}: {target} - {other}"] = _paired(a[[ia[k] for k in common_ids]], b[[ib[k] for k in common_ids]])
    _, abl_g = flips("ablation (no attribute input)", "gender")
    _, bic_g = flips("bicubic", "gender")
    _, abl_a = flips("ablation (no attribute input)", "age")
    _, bic_a = flips("bicubic", "age")
    paired["gender: ablation - bicubic"] = _paired(abl_g, bic_g)
    paired["age: ablation - bicubic"] = _paired(abl_a, bic_a)

    control = human_interaction(args, out)
    result = {"settings": rows, "paired": paired, "control": control,
              "protocol": {"dataset": "utkface split=test", "degradation": args.degradation, "limit": args.limit,
                           "evaluator": "dlib-models age-v1/gender-v1 ONNX, known alignment (attr default)",
                           "debiasfr": args.debiasfr, "ablation": args.ablation}}
    (out / "results.json").write_text(json.dumps(result, indent=1, default=str))
    write_markdown(result, out / "results.md")
    print((out / "results.md").read_text())


def human_interaction(args, out: Path) -> dict:
    """Restore the same LQ faces with each age bin / gender as user weights; evaluator response + figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from bench.data.datasets.utkface import UTKFace
    from bench.core.imageio import read_image
    from bench.core.types import AGE_BIN_LABELS
    from reference_models.shared.attribute_classifiers import make_classifier
    from reference_models.debiasfr.method import DebiasFRMethod

    ds = UTKFace(args.root, split="test")
    samples = [s for s in ds.samples if s.attributes.age is not None][: args.control_faces]
    from bench.core.registry import DEGRADATIONS

    degrade = DEGRADATIONS.create(args.degradation)
    hq = [read_image(s.hq) for s in samples]
    lq = [degrade.render(im, degrade.draw(0, s.id, im.shape[:2])) for s, im in zip(samples, hq)]
    lq_t = torch.stack([torch.from_numpy(np.asarray(x)).permute(2, 0, 1).float() / 255 for x in lq])
    method = DebiasFRMethod(weights=args.debiasfr)
    clf = make_classifier("dlib_onnx", align="template", template="utkface")
    hq_size = hq[0].shape[:2]
    female = np.eye(2)[0]
    male = np.eye(2)[1]
    results = {"n_faces": len(samples), "age_sweep": {}, "gender": {}}
    restored_by_bin = {}
    for b, name in enumerate(AGE_BIN_LABELS):
        ages = []
        outs = []
        for gvec in (female, male):
            o = method.restore(lq_t, out_size=hq_size, age=torch.eye(10)[b], gender=torch.as_tensor(gvec, dtype=torch.float32))
            u8 = (o.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
            outs.append(u8)
            pred = clf.predict(list(u8))
            ages.append(pred.age_years)
        restored_by_bin[b] = outs
        results["age_sweep"][name] = {"mean_predicted_age": float(np.nanmean(np.concatenate(ages))),
                                      "sd": float(np.nanstd(np.concatenate(ages)))}
    for gname, gvec in (("female", female), ("male", male)):
        o = method.restore(lq_t, out_size=hq_size, gender=torch.as_tensor(gvec, dtype=torch.float32))
        u8 = (o.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        pred = clf.predict(list(u8))
        results["gender"][gname] = {"female_share": float(np.mean(pred.gender == 0))}
    hq_pred = clf.predict(hq)
    results["hq_female_share"] = float(np.mean(hq_pred.gender == 0))
    results["hq_mean_predicted_age"] = float(np.nanmean(hq_pred.age_years))

    # figure: faces x (HQ, LQ, age bins 1..9 as female/male per label)
    k = min(args.figure_faces, len(samples))
    bins = [1, 3, 5, 6, 7, 8, 9]
    fig, axes = plt.subplots(k, 2 + len(bins), figsize=(1.6 * (2 + len(bins)), 1.7 * k))
    for r in range(k):
        g = samples[r].attributes.gender or 0
        row = [hq[r], np.asarray(lq[r])] + [restored_by_bin[b][int(g)][r] for b in bins]
        titles = ["HQ", "LQ x16"] + [f"age {AGE_BIN_LABELS[b]}" for b in bins]
        for c, (im, t) in enumerate(zip(row, titles)):
            ax = axes[r, c] if k > 1 else axes[c]
            ax.imshow(im, interpolation="nearest" if c == 1 else "bilinear")
            ax.set_xticks([]); ax.set_yticks([])
            if r == 0:
                ax.set_title(t, fontsize=8)
    fig.suptitle("DebiasFR (small, trained here on UTKFace train split): same LQ, user age weights (one-hot), "
                 "labelled gender", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "age_control.png", dpi=76)   # ~1100 px wide, < 1 MB
    plt.close(fig)
    results["figure"] = str(out / "age_control.png")
    return results


def write_markdown(result: dict, path: Path) -> None:
    lines = ["# DebiasFR vs ablation vs bicubic on held-out UTKFace (x16)", ""]
    p = result["protocol"]
    lines += [f"Protocol: {p['dataset']}, degradation {p['degradation']}, evaluator {p['evaluator']}.", ""]
    cols = ["setting", "n", "gender err vs HQ %", "age-bin err vs HQ %", "gender err vs label %", "age-bin err vs label %",
            "age MAE vs label (y)", "FD gender", "PSNR (dB)", "SSIM", "NIQE", "seconds"]
    lines.append("| " + " | ".join(cols) + " |")
    lines.append("|" + "---|" * len(cols))
    for row in result["settings"]:
        lines.append("| " + " | ".join(str(row[c]) for c in cols) + " |")
    lines += ["", "## Paired differences of error rates (vs HQ prediction), percentage points", "",
              "| comparison | diff | 95 % CI | n | only first wrong | only second wrong | McNemar p |", "|---|---|---|---|---|---|---|"]
    for name, d in result["paired"].items():
        lines.append(f"| {name} | {100 * d['diff']:+.2f} | [{100 * d['lo']:+.2f}, {100 * d['hi']:+.2f}] | {d['n']} | "
                     f"{d['a_only']} | {d['b_only']} | {d['p_mcnemar']:.2g} |")
    c = result["control"]
    lines += ["", f"## Human-interaction control ({c['n_faces']} test faces, same LQ, user weights)", "",
              "| requested age bin | evaluator mean age (y) | sd |", "|---|---|---|"]
    for name, v in c["age_sweep"].items():
        lines.append(f"| {name} | {v['mean_predicted_age']:.1f} | {v['sd']:.1f} |")
    lines += ["", f"HQ mean predicted age {c['hq_mean_predicted_age']:.1f} y; female share on HQ "
              f"{100 * c['hq_female_share']:.1f} %; with gender=female {100 * c['gender']['female']['female_share']:.1f} %, "
              f"with gender=male {100 * c['gender']['male']['female_share']:.1f} %.", "",
              f"![age control]({Path(c['figure']).name})", ""]
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
