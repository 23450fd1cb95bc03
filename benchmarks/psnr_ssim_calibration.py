"""Calibration table of PSNR and SSIM against the official values (TID2013 pairs of ../shared).

Official values: rows ``psnr`` and ``ssim`` of ``../shared/data/iqa-calibration/results_official.csv``
(PSNR: scikit-image ``peak_signal_noise_ratio`` on RGB uint8; SSIM: Z. Wang's MATLAB ``ssim.m`` on
MATLAB ``rgb2gray``, without its downsampling — pyiqa ResultsCalibra notes).  Also prints scikit-image
on the same pairs.  Writes Markdown to stdout (``> docs/calibration-psnr-ssim.md``).
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from metrics.color import rgb_to_gray_matlab
from metrics.psnr import psnr
from metrics.ssim import ssim


def main() -> None:
    root = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "iqa-calibration"
    if not root.exists():
        sys.exit(f"needs {root}")
    with open(root / "results_official.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    names = rows[0][1:]
    official = {row[0]: [float(v) for v in row[1:]] for row in rows[1:]}
    print("# PSNR and SSIM against the official values\n")
    print("Produced by `python benchmarks/psnr_ssim_calibration.py` on the five TID2013 pairs of "
          "`../shared/data/iqa-calibration` (distorted vs reference, 512x384). Official: rows `psnr` "
          "(scikit-image, RGB) and `ssim` (MATLAB `ssim.m` on `rgb2gray`, no downsampling) of "
          "`results_official.csv`, printed there to 4 significant digits. Tolerance of the tests: 0.05%.\n")
    print("| image | PSNR official | PSNR frbench (rgb) | residual | PSNR skimage | SSIM official | "
          "SSIM frbench (gray) | residual | SSIM skimage (on rgb2gray) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for i, name in enumerate(names):
        dist = np.array(Image.open(root / "dist_dir" / name).convert("RGB"))
        ref = np.array(Image.open(root / "ref_dir" / name).convert("RGB"))
        d = torch.from_numpy(dist).permute(2, 0, 1)[None].contiguous()
        r = torch.from_numpy(ref).permute(2, 0, 1)[None].contiguous()
        p = float(psnr(d, r, channel="rgb")[0])
        s = float(ssim(d, r, channel="gray")[0])
        p_sk = peak_signal_noise_ratio(ref, dist, data_range=255)
        gd = rgb_to_gray_matlab(d)[0, 0].numpy()
        gr = rgb_to_gray_matlab(r)[0, 0].numpy()
        s_sk = structural_similarity(gr, gd, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                     data_range=255)
        po, so = official["psnr"][i], official["ssim"][i]
        print(f"| {name} | {po} | {p:.4f} | {100 * (p - po) / po:+.3f}% | {p_sk:.4f} | {so} | {s:.5f} | "
              f"{100 * (s - so) / so:+.4f}% | {s_sk:.5f} |")


if __name__ == "__main__":
    main()
