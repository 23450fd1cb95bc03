"""Benchmark: a full PSNR+SSIM run against a decode-only pass over the same UTKFace images.

Measures, in one process and on the same files:
  1. decode only: every image read and decoded once (``bench.core.imageio.read_image``), sequentially;
  2. the frbench run: ``bench.api.run(method="bicubic", degradation="x8", metrics="psnr,ssim")`` into a
     fresh store (decode + x8 degradation + bicubic restore + 8-bit quantisation + PSNR + SSIM + SQLite);
  3. the same work done with the reference libraries, image by image: PIL decode and resize, torch
     bicubic, scikit-image ``peak_signal_noise_ratio`` and ``structural_similarity``.
Prints the wall times, images/s and the ratios run/decode and reference/run.

Usage: python benchmarks/psnr_ssim_run_vs_decode.py [--root ../shared/data/utkface/images] [--n 1000]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def main() -> None:
    here = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=str(here.parent / "shared" / "data" / "utkface" / "images"))
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="repetitions; the best time is reported")
    args = parser.parse_args()

    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from bench.api import run
    from bench.data.datasets.utkface import UTKFace
    from bench.core.imageio import read_image

    dataset = UTKFace(args.root)
    paths = [s.hq for s in dataset.samples[: args.n]]
    n = len(paths)
    print(f"{n} UTKFace images from {args.root}; torch threads {torch.get_num_threads()}")

    def decode_only() -> float:
        start = time.perf_counter()
        for p in paths:
            read_image(p)
        return time.perf_counter() - start

    def frbench_run(metrics="psnr,ssim") -> float:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            summary = run(method="bicubic", dataset=dataset, degradation="x8", metrics=metrics, limit=n,
                          store=Path(tmp) / "r.sqlite", progress=False)
            elapsed = time.perf_counter() - start
        assert summary.n_ok == n, summary.format()
        return elapsed

    def reference() -> float:
        start = time.perf_counter()
        for p in paths:
            hq = np.asarray(Image.open(p).convert("RGB"))
            h, w = hq.shape[:2]
            lq = np.array(Image.fromarray(hq).resize((round(w / 8), round(h / 8)), Image.BICUBIC))
            t = torch.from_numpy(lq).permute(2, 0, 1)[None].float() / 255
            out = F.interpolate(t, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)
            out = (out[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
            peak_signal_noise_ratio(hq, out, data_range=255)
            structural_similarity(hq, out, channel_axis=2, gaussian_weights=True, sigma=1.5,
                                  use_sample_covariance=False, data_range=255)
        return time.perf_counter() - start

    results = {}
    for name, fn in (("decode only", decode_only), ("frbench run (bicubic x8, psnr+ssim)", frbench_run),
                     ("reference libs (PIL+torch+skimage, per image)", reference),
                     ("  breakdown: frbench run, no metric", lambda: frbench_run([])),
                     ("  breakdown: frbench run, psnr only", lambda: frbench_run("psnr"))):
        times = [fn() for _ in range(args.repeat)]
        results[name] = min(times)
        print(f"{name:<48} best {min(times):7.2f} s  ({n / min(times):7.1f} img/s)  all: "
              + ", ".join(f"{t:.2f}" for t in times))
    decode, ours, ref = list(results.values())[:3]
    print(f"ratio run / decode-only        : {ours / decode:.2f}x")
    print(f"ratio reference libs / run     : {ref / ours:.2f}x (higher = frbench faster)")


if __name__ == "__main__":
    main()
