"""DebiasFR against its ablation over several training seeds, with paired tests (issue 20, part 2).

    python benchmarks/debiasfr_seeds_study.py \\
        --seed-run 0:RUNS/dbfr_s0:RUNS/dbfr_s0_noattr --seed-run 1:RUNS/dbfr_s1:RUNS/dbfr_s1_noattr ... \\
        [--predictor RUNS/lrpred/lr_predictor.safetensors] [--degradations x16,x8] \\
        --store frbench-results/debiasfr_seeds.sqlite --out docs/debiasfr_utkface/seeds

Each ``--seed-run SEED:DEBIASFR_DIR:ABLATION_DIR`` is one training seed: a ``bench train debiasfr`` output and
the same recipe trained with ``--set attribute_input=false`` (same seed, same critic and LR predictor).  A
missing ablation (``SEED:DEBIASFR_DIR:``) is allowed and reported as such.

Everything goes through the study runner (``bench.api.study``; the generated study file is written to
``OUT/study.yaml``): held-out UTKFace faces (``split=test``, the 20 % hash split no training touched), each
degradation, the cells ``bicubic``, per seed ``DebiasFR`` blind with its exported LR predictor, blind with
``--predictor`` swapped in (when given) and the ablation.  Metrics: PSNR, SSIM, the evaluator's attribute
error (``attr``, ``attr_pred``: dlib-models ONNX networks, never used by any training), identity distance,
ST-LPIPS (AlexNet), NIQE and FID; ``--metrics ...,lpips`` adds LPIPS where its ImageNet AlexNet backbone is
in the asset cache (it cannot be fetched on a machine without internet access).

Statistics (restored-vs-HQ attribute errors, 0/1 per face):

* **per seed**: paired difference DebiasFR − ablation, 95 % bootstrap interval over faces, exact McNemar p;
  PSNR difference with the Wilcoxon signed-rank p;
* **pooled over seeds**: per face, the mean over the seeds of ``wrong_DebiasFR − wrong_ablation``
  (``d_i``); the mean of ``d_i`` with a bootstrap interval over faces and the two-sided sign-flip
  (Wilcoxon signed-rank) p on ``d_i``: faces are the unit, so the three seeds' repeated faces are not
  counted as independent;
* **between seeds**: the per-seed differences, their mean and standard deviation (three seeds cannot give
  a seed-level test at 5 %; they show whether the sign is stable).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from debiasfr_predictor_study import flips, predictor_accuracy  # noqa: E402
from debiasfr_utkface_experiment import _paired, _per_image  # noqa: E402

METRICS = ("psnr", "ssim", "attr", "attr_pred", "identity", "stlpips", "niqe", "fid")  # + lpips with its backbone
REPLICATES = 2000


def parse_seed_run(text: str) -> tuple[int, Path, Path | None]:
    seed, debiasfr, ablation = (text.split(":") + ["", ""])[:3]
    found = Path(debiasfr) / "debiasfr.safetensors"
    if not found.is_file():
        raise SystemExit(f"--seed-run {text}: {found} does not exist")
    abl = Path(ablation) / "debiasfr.safetensors" if ablation else None
    if abl is not None and not abl.is_file():
        raise SystemExit(f"--seed-run {text}: {abl} does not exist")
    return int(seed), found, abl


def study_file(seed_runs, predictor: str | None, root: str, degradations: list[str], metrics: list[str],
               limit: int | None) -> dict:
    methods = [{"name": "bicubic"}]
    for seed, debiasfr, ablation in seed_runs:
        methods.append({"name": "debiasfr", "label": f"debiasfr-s{seed}", "options": {"weights": str(debiasfr)}})
        if predictor:
            methods.append({"name": "debiasfr", "label": f"debiasfr-s{seed}-lrpred",
                            "options": {"weights": str(debiasfr), "predictor_weights": predictor}})
        if ablation:
            methods.append({"name": "debiasfr", "label": f"ablation-s{seed}", "options": {"weights": str(ablation)}})
    spec = {"name": "debiasfr-utkface-seeds",
            "description": "DebiasFR vs its no-attribute ablation over training seeds, UTKFace test split",
            "seed": 0, "datasets": [{"name": "utkface", "root": root, "options": {"split": "test"},
                                     "degradations": degradations}],
            "methods": methods, "metrics": metrics}
    if limit:
        spec["limit"] = limit
    return spec


def pooled(per_seed_a: list[dict[str, float]], per_seed_b: list[dict[str, float]], seed: int = 0) -> dict[str, float]:
    """Faces as the unit: d_i = mean over seeds of (a − b); mean, bootstrap 95 % interval, Wilcoxon p."""
    from scipy.stats import wilcoxon

    ids = sorted(set.intersection(*[set(x) for x in per_seed_a + per_seed_b]))
    d = np.array([np.mean([a[i] - b[i] for a, b in zip(per_seed_a, per_seed_b)]) for i in ids])
    rng = np.random.default_rng(seed)
    boot = d[rng.integers(0, len(d), size=(REPLICATES, len(d)))].mean(1)
    nonzero = d[d != 0]
    p = float(wilcoxon(nonzero).pvalue) if len(nonzero) else 1.0
    return {"diff": float(d.mean()), "lo": float(np.quantile(boot, 0.025)), "hi": float(np.quantile(boot, 0.975)),
            "n_faces": len(ids), "seeds": len(per_seed_a), "p_wilcoxon": p}


def psnr_values(per_image: dict) -> dict[str, float]:
    return {k: v["psnr"] for k, v in per_image.items() if np.isfinite(v.get("psnr", np.nan))}


def analyse(summary, store: Path, seed_runs, predictor: str | None) -> dict:
    from bench.harness.store import ResultStore

    cells = {(r.cell.degradation, r.cell.method.label): r.run_id for r in summary.results if r.run_id}
    result: dict = {"rows": [], "per_seed": [], "pooled": [], "between_seeds": []}
    degradations = sorted({d for d, _ in cells}, key=lambda d: int(d.lstrip("x")) if d.lstrip("x").isdigit() else 0)
    per_image = {key: _per_image(store, run_id) for key, run_id in cells.items()}
    # A run stored earlier with more faces keeps them: per-image means are taken over the faces every cell of
    # the degradation has, so two numbers in one column are always on the same faces.
    common = {(deg, m): sorted(set.intersection(*[{i for i, v in per_image[k].items() if np.isfinite(v.get(m, np.nan))}
                                                 for k in cells if k[0] == deg]))
              for deg in degradations for m in ("psnr", "ssim", "identity", "lpips", "stlpips", "niqe")}
    with ResultStore(store) as st:
        for (deg, label), run_id in cells.items():
            fid = st.set_results(run_id).get("fid") or {}
            per = per_image[(deg, label)]
            g, a = flips(per, "gender"), flips(per, "age")
            means = {m: float(np.mean([per[i][m] for i in common[(deg, m)]])) if common[(deg, m)] else None
                     for m in ("psnr", "ssim", "identity", "lpips", "stlpips", "niqe")}
            result["rows"].append({
                "degradation": deg, "setting": label, "n": len(g),
                "gender err vs HQ": float(np.mean(list(g.values()))), "age-bin err vs HQ": float(np.mean(list(a.values()))),
                **means, **{f"n {m}": len(common[(deg, m)]) for m in means},
                "fid": fid.get("value"), "n fid": int(fid["n"]) if fid.get("n") is not None else None, "run_id": run_id})
    variants = ["debiasfr"] + (["debiasfr-lrpred"] if predictor else [])
    for deg in degradations:
        for variant in variants:
            for baseline in ("ablation", "bicubic"):
                seeds = [s for s, _, abl in seed_runs if (abl or baseline == "bicubic")
                         and (deg, f"{variant.replace('debiasfr', f'debiasfr-s{s}', 1)}") in per_image]
                if not seeds:
                    continue
                firsts = [per_image[(deg, variant.replace("debiasfr", f"debiasfr-s{s}", 1))] for s in seeds]
                seconds = [per_image[(deg, f"ablation-s{s}" if baseline == "ablation" else "bicubic")] for s in seeds]
                for which in ("gender", "age"):
                    fa, fb = [flips(x, which) for x in firsts], [flips(x, which) for x in seconds]
                    diffs = []
                    for s, a, b in zip(seeds, fa, fb):
                        ids = sorted(set(a) & set(b))
                        t = _paired(np.array([a[i] for i in ids]), np.array([b[i] for i in ids]))
                        diffs.append(t["diff"])
                        result["per_seed"].append({"degradation": deg, "comparison": f"{variant} - {baseline}",
                                                   "metric": f"{which} err", "seed": s, **t})
                    result["pooled"].append({"degradation": deg, "comparison": f"{variant} - {baseline}",
                                             "metric": f"{which} err", **pooled(fa, fb)})
                    result["between_seeds"].append({"degradation": deg, "comparison": f"{variant} - {baseline}",
                                                    "metric": f"{which} err", "diffs": diffs,
                                                    "mean": float(np.mean(diffs)), "sd": float(np.std(diffs, ddof=1))
                                                    if len(diffs) > 1 else None})
                pa, pb = [psnr_values(x) for x in firsts], [psnr_values(x) for x in seconds]
                result["pooled"].append({"degradation": deg, "comparison": f"{variant} - {baseline}",
                                         "metric": "psnr dB", **pooled(pa, pb)})
                diffs = [float(np.mean([a[i] - b[i] for i in sorted(set(a) & set(b))])) for a, b in zip(pa, pb)]
                result["between_seeds"].append({"degradation": deg, "comparison": f"{variant} - {baseline}",
                                                "metric": "psnr dB", "diffs": diffs, "mean": float(np.mean(diffs)),
                                                "sd": float(np.std(diffs, ddof=1)) if len(diffs) > 1 else None})
    return result


def predictor_accuracies(seed_runs, predictor: str | None, root: str, degradations: list[str]) -> list[dict]:
    """Accuracy of the LR attribute predictor each blind cell was fed, on the same test LQ (labels, not the evaluator)."""
    rows = []
    for deg in degradations:
        for seed, debiasfr, _ in seed_runs:
            rows.append({"degradation": deg, "predictor": f"exported with debiasfr-s{seed}",
                         **predictor_accuracy(str(debiasfr), root, deg, fractions=())})
        if predictor:  # the swapped-in predictor does not depend on the generator: measured once
            rows.append({"degradation": deg, "predictor": f"swapped in ({Path(predictor).parent.name})",
                         **predictor_accuracy(str(seed_runs[0][1]), root, deg, predictor_weights=predictor,
                                              fractions=())})
    return rows


def write_markdown(result: dict, path: Path) -> None:
    p = result["protocol"]
    fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
    lines = ["# DebiasFR vs its ablation over training seeds (UTKFace test split)", "",
             f"Small CPU models trained here (`small64`), not the released model. {p['faces']}; evaluator "
             f"{p['evaluator']}; store `{p['store']}`; study file `{p['study_file']}`.", "",
             "Attribute errors are over the n faces of each row; PSNR, SSIM, identity, (ST-)LPIPS and NIQE are means "
             "over the faces every cell of the degradation has (`n per-image` below); FID is over `n FID` faces "
             "and FIDs on different numbers of faces are not comparable.", "",
             "| degradation | setting | n | gender err vs HQ | age-bin err vs HQ | PSNR dB | SSIM | identity | "
             "LPIPS | ST-LPIPS | NIQE | n per-image (PSNR / identity / ST-LPIPS / NIQE) | FID | n FID |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['degradation']} | {r['setting']} | {r['n']} | {r['gender err vs HQ']:.1%} | "
                     f"{r['age-bin err vs HQ']:.1%} | {fmt(r['psnr'], '.2f')} | {fmt(r['ssim'], '.4f')} | "
                     f"{fmt(r['identity'], '.4f')} | {fmt(r['lpips'], '.4f')} | {fmt(r['stlpips'], '.4f')} | "
                     f"{fmt(r['niqe'], '.2f')} | {r['n psnr']} / {r['n identity']} / {r['n stlpips']} / {r['n niqe']} | "
                     f"{fmt(r['fid'], '.2f')} | {fmt(r['n fid'], 'd')} |")
    if result.get("predictor_accuracy"):
        lines += ["", "## LR attribute predictor accuracy on the test LQ (what the blind cells were fed)", "",
                  "| degradation | predictor | n | gender acc | age-bin acc |", "|---|---|---|---|---|"]
        for r in result["predictor_accuracy"]:
            lines.append(f"| {r['degradation']} | {r['predictor']} | {r['n']} | {r['gender_acc']:.1%} | "
                         f"{r['age_bin_acc']:.1%} |")
    lines += ["", "## Pooled over seeds (faces as the unit; attribute errors in percentage points)", "",
              "| degradation | comparison | metric | seeds | diff | 95 % CI | Wilcoxon p |", "|---|---|---|---|---|---|---|"]
    for t in result["pooled"]:
        k = 1 if t["metric"] == "psnr dB" else 100
        lines.append(f"| {t['degradation']} | {t['comparison']} | {t['metric']} | {t['seeds']} | {k * t['diff']:+.2f} | "
                     f"[{k * t['lo']:+.2f}, {k * t['hi']:+.2f}] | {t['p_wilcoxon']:.2g} |")
    lines += ["", "## Between seeds: the per-seed differences (attribute errors in percentage points, PSNR in dB)", "",
              "| degradation | comparison | metric | per seed | mean | sd |", "|---|---|---|---|---|---|"]
    for t in result["between_seeds"]:
        k = 1 if t["metric"] == "psnr dB" else 100
        lines.append(f"| {t['degradation']} | {t['comparison']} | {t['metric']} | "
                     f"{', '.join(f'{k * d:+.2f}' for d in t['diffs'])} | {k * t['mean']:+.2f} | "
                     f"{'-' if t['sd'] is None else format(k * t['sd'], '.2f')} |")
    lines += ["", "## Per seed (exact McNemar), percentage points", "",
              "| degradation | comparison | metric | seed | diff | 95 % CI | only first wrong | only second wrong | p |",
              "|---|---|---|---|---|---|---|---|---|"]
    for t in result["per_seed"]:
        lines.append(f"| {t['degradation']} | {t['comparison']} | {t['metric']} | {t['seed']} | {100 * t['diff']:+.2f} | "
                     f"[{100 * t['lo']:+.2f}, {100 * t['hi']:+.2f}] | {t['a_only']} | {t['b_only']} | {t['p_mcnemar']:.2g} |")
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed-run", action="append", required=True, metavar="SEED:DEBIASFR_DIR:ABLATION_DIR")
    ap.add_argument("--predictor", default=None, help="a retrained LR predictor (benchmarks/debiasfr_lr_predictor.py)")
    ap.add_argument("--root", default="../shared/data/utkface")
    ap.add_argument("--degradations", default="x16")
    ap.add_argument("--metrics", default=",".join(METRICS))
    ap.add_argument("--limit", type=int, default=None, help="seeded random subset of the test faces (smoke runs)")
    ap.add_argument("--store", default="frbench-results/debiasfr_seeds.sqlite")
    ap.add_argument("--out", default="docs/debiasfr_utkface/seeds")
    args = ap.parse_args()

    import yaml

    from bench.api import study

    seed_runs = [parse_seed_run(x) for x in args.seed_run]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    spec = study_file(seed_runs, args.predictor, str(Path(args.root).resolve()), args.degradations.split(","),
                      args.metrics.split(","), args.limit)
    (out / "study.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    summary = study(out / "study.yaml", store=args.store, out=str(out / "report"), report=False)
    print(summary.table().to_string(), flush=True)
    if summary.exit_code:
        raise SystemExit(f"the study did not finish (exit {summary.exit_code}); rerun to resume")
    result = analyse(summary, Path(args.store), seed_runs, args.predictor)
    result["predictor_accuracy"] = predictor_accuracies(seed_runs, args.predictor, args.root, args.degradations.split(","))
    result["protocol"] = {"faces": f"held-out UTKFace split=test{f', seeded subset of {args.limit}' if args.limit else ''}",
                          "evaluator": "dlib-models age/gender ONNX (suite default; never used in training)",
                          "store": args.store, "study_file": str(out / "study.yaml"),
                          "seed_runs": [[s, str(d), str(a) if a else None] for s, d, a in seed_runs],
                          "predictor": args.predictor}
    (out / "results.json").write_text(json.dumps(result, indent=1, default=str))
    write_markdown(result, out / "results.md")
    print((out / "results.md").read_text())


if __name__ == "__main__":
    main()
