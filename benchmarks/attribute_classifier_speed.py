"""Speed of the default attribute classifier: faces per second including alignment (CPU).

    .venv/bin/python benchmarks/attribute_classifier_speed.py [N] [--threads 1,2]

Decodes N real UTKFace 200x200 faces first (decoding is not timed), then times
``DlibOnnxClassifier.predict`` (chip extraction + onnxruntime age and gender networks + post-processing)
with the known alignment (template) and with detection alignment (dlib HOG + 5 landmarks), best of 3
passes, batches of 32.  Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
from PIL import Image

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "utkface" / "images"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", nargs="?", type=int, default=512)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    from reference_models.shared.attribute_classifiers.dlib_onnx import DlibOnnxClassifier

    files = sorted(SHARED.glob("*.jpg"))[: args.n]
    images = [np.asarray(Image.open(f).convert("RGB")) for f in files]
    print(f"{len(images)} UTKFace faces 200x200, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs visible (shared with other jobs)")
    print("| alignment | onnxruntime threads | faces/s | ms/face |")
    print("|---|---|---|---|")
    for align in ("template", "detect"):
        try:
            import dlib  # noqa: F401
        except ImportError:
            if align == "detect":
                print("| detect | - | dlib not installed | - |")
                continue
        for threads in [int(t) for t in args.threads.split(",")]:
            clf = DlibOnnxClassifier(align=align, threads=threads, batch=args.batch)
            best = float("inf")
            for _ in range(3):
                t0 = time.perf_counter()
                for start in range(0, len(images), args.batch):
                    clf.predict(images[start:start + args.batch])
                best = min(best, time.perf_counter() - t0)
            print(f"| {align} | {threads} | {len(images) / best:.0f} | {1000 * best / len(images):.2f} |", flush=True)


if __name__ == "__main__":
    main()
