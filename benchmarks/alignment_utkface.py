"""UTKFace through the FFHQ alignment protocol step: where the eyes land, and scores in both frames.

Part 1 (``--faces``, default 320 real UTKFace faces drawn with ``--seed``): each HQ face is re-aligned to the
FFHQ 512 template (:class:`bench.data.alignment.FFHQAligner`: dlib HOG + 5 landmarks, least-squares
similarity, bilinear warp), then dlib's landmarks are found again **on the aligned output** (an
independent detection, upsampling 0) and the eye centres (mean of each eye's two corners) and the
inter-ocular distance are compared with the template: the measured dlib template the fit targets
(:data:`~bench.data.alignment.DLIB5_TEMPLATE_512`) and facexlib's eye centres
(:data:`~bench.data.alignment.FACEXLIB_TEMPLATE_512`, RetinaFace's eye centres: about 5 px higher than
dlib's corner line by construction).

Part 2 (``--score-faces``, default 20): ``bicubic`` and ``debiasfr`` (the shipped ``small`` preset, trained
here on synthetic faces: a trained-here baseline, not the official weights) through the runner on the
same faces, ``--align none`` (UTKFace's own 200 px frame) and ``--align ffhq`` (512 FFHQ frame), x8
degradation, PSNR / SSIM / attribute error (the evaluator's chip template follows the frame).

    .venv/bin/python benchmarks/alignment_utkface.py [--faces 320] [--score-faces 20] [--seed 1]

Not a timed test; prints two tables.  Needs dlib (extra ``[dlib]``), the ``dlib_shape_predictor_5`` asset
and ``../shared/data/utkface/images``.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.core.imageio import read_image
from bench.data.alignment import (DLIB5_TEMPLATE_512, FACEXLIB_TEMPLATE_512, AlignmentError, FFHQAligner,
                                  eye_centres)

UTKFACE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "utkface" / "images"


def eye_positions(files: list[Path]) -> dict:
    aligner, checker = FFHQAligner(), FFHQAligner(upsample=0)
    eyes, failures = [], {"align": 0, "re-detect": 0}
    for path in files:
        try:
            aligned, _ = aligner.align(read_image(path))
        except AlignmentError:
            failures["align"] += 1
            continue
        try:
            eyes.append(eye_centres(checker.landmarks(aligned)[0]))
        except AlignmentError:
            failures["re-detect"] += 1
    return {"eyes": np.array(eyes), "failures": failures, "n": len(files)}


def print_eye_table(result: dict) -> None:
    eyes = result["eyes"]
    targets = {"dlib template (fit target)": eye_centres(DLIB5_TEMPLATE_512),
               "facexlib template": FACEXLIB_TEMPLATE_512[:2]}
    print(f"\nUTKFace -> FFHQ 512: {result['n']} faces, {len(eyes)} aligned and re-detected; failures: "
          f"{result['failures']}")
    print(f"{'':28s} {'left eye x,y':>16s} {'right eye x,y':>16s} {'inter-ocular':>13s}")
    mean, iod = eyes.mean(axis=0), np.diff(eyes[:, :, 0], axis=1).ravel()
    sd = eyes.std(axis=0)
    print(f"{'aligned, re-detected (mean)':28s} {mean[0, 0]:7.1f},{mean[0, 1]:7.1f}  {mean[1, 0]:7.1f},"
          f"{mean[1, 1]:7.1f}  {iod.mean():12.1f}")
    print(f"{'  (sd)':28s} {sd[0, 0]:7.1f},{sd[0, 1]:7.1f}  {sd[1, 0]:7.1f},{sd[1, 1]:7.1f}  {iod.std():12.1f}")
    for name, target in targets.items():
        print(f"{name:28s} {target[0, 0]:7.1f},{target[0, 1]:7.1f}  {target[1, 0]:7.1f},{target[1, 1]:7.1f}  "
              f"{target[1, 0] - target[0, 0]:12.1f}")
    for name, target in targets.items():
        distance = np.linalg.norm(eyes - target, axis=2)  # [faces, 2 eyes]
        print(f"eye distance to {name}: mean {distance.mean():.2f} px, median {np.median(distance):.2f}, "
              f"95th pct {np.percentile(distance, 95):.2f}; mean offset (x, y) "
              f"{(eyes - target).mean(axis=(0, 1)).round(2).tolist()}")


def score_both_frames(n: int, seed: int) -> None:
    from bench import api
    from bench.harness.store import ResultStore

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "frames.sqlite"
        for method in ("bicubic", "debiasfr"):
            for align in ("none", "ffhq"):
                started = time.perf_counter()
                summary = api.run(method, "utkface", root=str(UTKFACE), metrics="psnr,ssim,attr", align=align,
                                  degradation="x8", limit=n, subset_seed=seed, store=store, out=tmp, progress=False)
                with ResultStore(store) as opened:
                    entry = opened.run_metrics(summary.run_id)["attr"]
                template = entry["config"]["describe"].get("classifier_options", {})
                attr = summary.set_results.get("attr", {})
                rows.append((method, align, summary.n_ok, summary.metric_means.get("psnr", {}).get("mean"),
                             summary.metric_means.get("ssim", {}).get("mean"), attr.get("gender_err"), attr.get("age_err"),
                             template.get("template", "?"), time.perf_counter() - started))
    print(f"\nScores in both frames ({n} UTKFace faces, subset seed {seed}, x8; debiasfr = shipped small preset, "
          f"trained here on synthetic faces)")
    print(f"{'method':10s} {'frame':16s} {'ok':>3s} {'PSNR':>7s} {'SSIM':>6s} {'gender_err':>10s} {'age_err':>8s} "
          f"{'attr chips':>10s} {'s':>5s}")
    for method, align, ok, psnr, ssim, gerr, aerr, template, seconds in rows:
        frame = "native 200 px" if align == "none" else "FFHQ 512 aligned"

        def f(v, p):
            return "–" if v is None else f"{v:.{p}f}"
        print(f"{method:10s} {frame:16s} {ok:3d} {f(psnr, 2):>7s} {f(ssim, 3):>6s} {f(gerr, 3):>10s} "
              f"{f(aerr, 3):>8s} {template:>10s} {seconds:5.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=320)
    parser.add_argument("--score-faces", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if not UTKFACE.is_dir():
        raise SystemExit(f"{UTKFACE} is absent: this benchmark needs the shared UTKFace images")
    files = sorted(UTKFACE.glob("*.jpg"))
    chosen = [files[i] for i in np.random.default_rng(args.seed).choice(len(files), args.faces, replace=False)]
    started = time.perf_counter()
    print_eye_table(eye_positions(chosen))
    print(f"({time.perf_counter() - started:.0f} s)")
    score_both_frames(args.score_faces, args.seed)


if __name__ == "__main__":
    main()
