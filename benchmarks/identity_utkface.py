"""Identity distance and landmark distance vs resolution: bicubic x4, x8, x16, x32 on real UTKFace faces.

For each scale, ``Runner("bicubic", "utkface", metrics="identity,lmd", degradation="xS", limit=N)`` (the
first N faces of the dataset's seeded permutation, seed 0; PIL bicubic antialiased down, bicubic up to
200x200).  Reported per scale: mean ``identity`` (dlib ResNet descriptor distance, HQ chip transform on
both) and the verification-failure share (distance > 0.6), mean ``lmd`` (px at 200x200) and ``lmd.nme``,
each with a percentile image-bootstrap 95 % interval (1000 replicates, seed 20200), the share of HQ faces
without a detection (per-image errors of the metrics), a per-group table (label age bin x gender, groups of
at least 30 faces) of the identity distance, and the wall time.  Output: ``frbench-results/identity_utkface.md``
(or ``--out``).  Needs ``../shared/data/utkface`` and the dlib extra.
"""
from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "utkface"
AGE_EDGES = (0, 20, 40, 60, 200)


def bootstrap_mean(values: np.ndarray, replicates: int = 1000, seed: int = 20200) -> tuple[float, float, float]:
    values = np.asarray(values, np.float64)
    if len(values) == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (replicates, len(values)))].mean(axis=1)
    return float(values.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def _group(sample_id: str) -> str | None:
    parts = sample_id.split("_")
    try:
        age, gender = int(parts[0]), int(parts[1])
    except (ValueError, IndexError):
        return None
    for lo, hi in zip(AGE_EDGES[:-1], AGE_EDGES[1:]):
        if lo <= age < hi:
            return f"{lo}-{hi - 1 if hi < 200 else '+'} {'male' if gender == 0 else 'female'}"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--scales", default="4,8,16,32")
    parser.add_argument("--out", default=None, help="folder of the store and report (default frbench-results)")
    parser.add_argument("--min-group", type=int, default=30)
    args = parser.parse_args()

    from bench.harness.runner import Runner
    from bench.harness.store import ResultStore

    if not SHARED.exists():
        raise SystemExit(f"{SHARED} is absent: this benchmark needs ../shared/data/utkface")
    out = Path(args.out or Path(__file__).resolve().parents[1] / "frbench-results")
    out.mkdir(parents=True, exist_ok=True)
    store_path = out / "identity_utkface.sqlite"
    rows, groups = [], []
    for scale in [int(s) for s in args.scales.split(",")]:
        t0 = time.perf_counter()
        summary = Runner("bicubic", "utkface", root=str(SHARED), metrics="identity,lmd", degradation=f"x{scale}",
                         limit=args.limit, store=str(store_path), progress=False).run()
        seconds = time.perf_counter() - t0
        per = defaultdict(dict)
        errors = {}
        with ResultStore(store_path, readonly=True) as store:
            for _, sid, metric, value, error in store.scores(summary.run_id):
                if error is not None:
                    errors[(sid, metric)] = error
                elif value is not None:
                    per[metric][sid] = value
        ids = sorted(set().union(*[set(v) for v in per.values()]) | {s for s, _ in errors})
        n = len(ids)
        no_face = sum(1 for (s, m), e in errors.items() if m == "identity" and "no face" in e)
        ident = np.array(list(per["identity"].values()))
        row = {"scale": scale, "n": n, "n_identity": len(ident), "hq_no_face_share": no_face / max(n, 1),
               "identity": bootstrap_mean(ident), "fail": bootstrap_mean(np.array(list(per["identity.fail"].values()))),
               "lmd": bootstrap_mean(np.array(list(per["lmd"].values()))),
               "nme": bootstrap_mean(np.array(list(per["lmd.nme"].values()))), "seconds": seconds,
               "other_errors": sorted({e for (s, m), e in errors.items() if "no face" not in e})}
        rows.append(row)
        by_group = defaultdict(list)
        for sid, v in per["identity"].items():
            by_group[_group(sid)].append(v)
        for g, vals in sorted(by_group.items(), key=lambda kv: str(kv[0])):
            if g is not None and len(vals) >= args.min_group:
                fails = (np.array(vals) > 0.6).astype(float)
                groups.append((scale, g, len(vals), bootstrap_mean(np.array(vals)), bootstrap_mean(fails)))
        print(f"x{scale}: n={n} identity {row['identity']} fail {row['fail']} lmd {row['lmd']} "
              f"no-face {row['hq_no_face_share']:.3f} ({seconds:.1f} s)", flush=True)

    def ci(t, f="{:.3f}"):
        return f"{f.format(t[0])} [{f.format(t[1])}, {f.format(t[2])}]"

    lines = ["# Identity and landmark distance vs resolution: bicubic on UTKFace", "",
             f"Generated by `benchmarks/identity_utkface.py`: first {args.limit} faces of the seeded permutation "
             "(seed 0) of UTKFace (200x200 aligned crops), bicubic down xS and up to 200x200.  identity = dlib "
             "ResNet descriptor distance with the HQ face's chip transform on both images; fail = distance > 0.6; "
             "lmd in px at 200x200; nme = lmd / outer inter-ocular distance.  95 % percentile image-bootstrap "
             "intervals (1000 replicates).  HQ without a HOG face = per-image error (share below).", "",
             "| scale | n | HQ no face | identity | fail share | lmd (px) | lmd.nme | time (s) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| x{r['scale']} | {r['n']} | {r['hq_no_face_share']:.3f} | {ci(r['identity'])} | {ci(r['fail'])} "
                     f"| {ci(r['lmd'], '{:.2f}')} | {ci(r['nme'], '{:.4f}')} | {r['seconds']:.1f} |")
    lines += ["", f"Per group (label age bin x gender, groups >= {args.min_group}): identity distance and fail share", "",
              "| scale | group | n | identity | fail share |", "|---|---|---|---|---|"]
    lines += [f"| x{s} | {g} | {k} | {ci(m)} | {ci(f)} |" for s, g, k, m, f in groups]
    other = sorted({e for r in rows for e in r["other_errors"]})
    if other:
        lines += ["", "Other per-image errors: " + "; ".join(other[:5])]
    report = out / "identity_utkface.md"
    report.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"report: {report}")


if __name__ == "__main__":
    main()
