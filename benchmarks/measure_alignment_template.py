"""Measure a known-alignment chip template on real aligned faces (median dlib chip rectangle).

    .venv/bin/python benchmarks/measure_alignment_template.py utkface [N]
    .venv/bin/python benchmarks/measure_alignment_template.py ffhq

Runs the detection path (dlib HOG + 5 landmarks, padding 0.2) on HQ images of an aligned dataset and
prints the median chip centre and side as fractions of the image size, which become the entries of
``reference_models.shared.face_alignment.TEMPLATES``.  Needs dlib (extra ``[dlib]``) and ``../shared``.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from reference_models.shared.face_alignment import DlibDetectionAligner

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def main(argv: list[str]) -> None:
    which = argv[0] if argv else "utkface"
    n = int(argv[1]) if len(argv) > 1 else 400
    if which == "utkface":
        files = sorted((SHARED / "utkface" / "images").glob("*.jpg"))
        files = [files[i] for i in np.random.default_rng(0).choice(len(files), min(n, len(files)), replace=False)]
    elif which == "ffhq":
        files = sorted((SHARED / "ffhq-samples" / "hq1024").glob("*.png"))
    else:
        raise SystemExit(f"unknown dataset {which!r}")
    aligner = DlibDetectionAligner()
    rows, failed, started = [], 0, time.perf_counter()
    for path in files:
        image = np.asarray(Image.open(path).convert("RGB"))
        found = aligner.chip_details(image)
        if found is None:
            failed += 1
            continue
        (left, top, right, bottom), angle = found
        h, w = image.shape[:2]
        rows.append(((left + right) / 2 / w, (top + bottom) / 2 / h, (right - left) / w, angle))
    rows = np.array(rows)
    med = np.median(rows, axis=0)
    q1, q3 = np.percentile(rows, [25, 75], axis=0)
    print(f"{which}: {len(rows)} faces measured, {failed} without a detection, {time.perf_counter() - started:.1f} s")
    print(f"  median centre ({med[0]:.4f}, {med[1]:.4f}), side {med[2]:.4f}, angle {med[3]:.4f} rad")
    print(f"  IQR centre x [{q1[0]:.4f}, {q3[0]:.4f}] y [{q1[1]:.4f}, {q3[1]:.4f}] side [{q1[2]:.4f}, {q3[2]:.4f}]")


if __name__ == "__main__":
    main(sys.argv[1:])
