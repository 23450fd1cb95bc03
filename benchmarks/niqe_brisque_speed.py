"""Benchmark: images/s of frbench's NIQE and BRISQUE against pyiqa's, on real faces at 512x512, in one run.

Inputs: the first ``--n-images`` (default 500) UTKFace faces of ``../shared/data/utkface/images`` (200x200
JPEG), resized to 512x512 with PIL bicubic (real content at the usual restoration output size).
Both implementations get the same batches (``--batch-sizes``, default 16 — the runner's usual batches — and
1, each measured on all images) and the same torch threads
(``--threads``, default 1: this machine's cores are shared, one thread per process gives stable numbers):

* frbench: the registered metrics ``NIQE()`` and ``BRISQUE()`` called as the runner calls them
  (``uint8 [B, 3, 512, 512]``), float64, parameters from the asset manager;
* pyiqa: ``pyiqa.create_metric("niqe" | "brisque")`` offline with the same provisioned parameter files
  (``metrics/pyiqa_reference.py``), fed float32 RGB in [0, 1] (its default).

Timings are interleaved batch by batch (frbench NIQE, pyiqa NIQE, frbench BRISQUE, pyiqa BRISQUE) so that
load changes hit both alike; one warm-up batch is not timed.  Also printed: the agreement of the values
(relative difference to pyiqa: median and 95th percentile; the conventions behind it are explained in
docs/calibration-niqe-brisque.md).  Writes Markdown to stdout.

Usage: python benchmarks/niqe_brisque_speed.py [--n-images 500] [--batch-sizes 16,1] [--threads 1]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from metrics.brisque import BRISQUE  # noqa: E402
from metrics.niqe import NIQE  # noqa: E402
from metrics.nr_params import brisque_parameters, niqe_parameters  # noqa: E402
from tests.metrics.pyiqa_reference import pyiqa_metrics  # noqa: E402


def load_faces(n: int, size: int) -> torch.Tensor:
    folder = ROOT.parent / "shared" / "data" / "utkface" / "images"
    files = sorted(folder.glob("*.jpg"))[:n]
    if len(files) < n:
        sys.exit(f"needs {n} UTKFace images in {folder}, found {len(files)}")
    faces = [np.asarray(Image.open(f).convert("RGB").resize((size, size), Image.BICUBIC)) for f in files]
    return torch.from_numpy(np.stack(faces)).permute(0, 3, 1, 2).contiguous()


def measure(images: torch.Tensor, batch_size: int, ours: dict, theirs: dict) -> dict:
    """Interleaved timings and values of both implementations over ``images`` in batches of ``batch_size``."""
    warm = images[:batch_size]
    for name in ours:
        ours[name](warm)
        theirs[name](warm.float() / 255)
    seconds = {(impl, name): 0.0 for impl in ("frbench", "pyiqa") for name in ours}
    values = {(impl, name): [] for impl in ("frbench", "pyiqa") for name in ours}
    for start in range(0, images.shape[0], batch_size):
        batch = images[start:start + batch_size]
        for name in ("niqe", "brisque"):
            t0 = time.perf_counter()
            out = ours[name](batch)
            seconds[("frbench", name)] += time.perf_counter() - t0
            values[("frbench", name)].append(out.double())
            t0 = time.perf_counter()
            ref = theirs[name](batch.float() / 255).reshape(-1)
            seconds[("pyiqa", name)] += time.perf_counter() - t0
            values[("pyiqa", name)].append(ref.double())
    return {"seconds": seconds, "values": values}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-images", type=int, default=500)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--batch-sizes", default="16,1",
                        help="comma-separated batch sizes, each measured on all images (default 16,1)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sizes = [int(b) for b in args.batch_sizes.split(",") if b.strip()]
    images = load_faces(args.n_images, args.size)
    ours = {"niqe": NIQE(), "brisque": BRISQUE()}
    with tempfile.TemporaryDirectory(prefix="frbench-pyiqa-") as folder:
        theirs = pyiqa_metrics(folder, niqe_parameters(), brisque_parameters())
        results = {bs: measure(images, bs, ours, theirs) for bs in sizes}
    import pyiqa

    n = images.shape[0]
    print(f"# NIQE and BRISQUE speed: frbench against pyiqa {pyiqa.__version__}\n")
    print(f"Produced by `python benchmarks/niqe_brisque_speed.py --n-images {n} --batch-sizes {args.batch_sizes} "
          f"--threads {args.threads}`: {n} real UTKFace faces resized to {args.size}x{args.size}, torch threads "
          f"{args.threads}, CPU, one process, timings interleaved batch by batch (the machine's 2 cores are shared "
          "with other work, so absolute numbers vary from run to run; the ratios are stable to about ±10%).\n")
    print("| metric | batch size | frbench images/s | pyiqa images/s | ratio | rel. difference to pyiqa: median | p95 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for bs, res in results.items():
        for name in ("niqe", "brisque"):
            mine = torch.cat(res["values"][("frbench", name)])
            ref = torch.cat(res["values"][("pyiqa", name)])
            rel = ((mine - ref) / ref.abs()).abs()
            ips_mine = n / res["seconds"][("frbench", name)]
            ips_ref = n / res["seconds"][("pyiqa", name)]
            print(f"| {name.upper()} | {bs} | {ips_mine:.1f} | {ips_ref:.1f} | {ips_mine / ips_ref:.2f}x | "
                  f"{float(rel.median()):.3%} | {float(torch.quantile(rel, 0.95)):.3%} |")
    print("\nThe values are the same metric with the same LIVE parameters; their small differences are pyiqa's "
          "conventions (float32 Gaussian window, grey conversion, no exact zeros in flat windows, float32 BRISQUE), "
          "explained in docs/calibration-niqe-brisque.md. frbench processes a batch image by image on CPU, so its "
          "per-image cost does not depend on the batch size (differences between its rows are load changes "
          "on the shared machine); pyiqa's batched calls are slower per image than its one-image calls, so the "
          "ratio is larger at batch 16 (the runner's usual batches) than at batch 1.")


if __name__ == "__main__":
    main()
