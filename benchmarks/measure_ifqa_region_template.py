"""Measure the mean 68-point landmark layout of an aligned dataset (the IFQA region templates).

    .venv/bin/python benchmarks/measure_ifqa_region_template.py ffhq
    .venv/bin/python benchmarks/measure_ifqa_region_template.py utkface [N]

Runs dlib's HOG detector + the 68-point shape predictor (asset ``dlib_shape_predictor_68``) on the HQ
images of an aligned dataset, normalises every landmark by the image width/height and prints the
per-point median (robust to the odd mis-fit) with the spread, as the table that becomes
``reference_models.ifqa.regions.TEMPLATE_LANDMARKS[<name>]``.  Needs dlib (extra ``[dlib]``) and ``../shared``.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from reference_models.ifqa.regions import Dlib68Landmarker

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def main(argv: list[str]) -> None:
    which = argv[0] if argv else "ffhq"
    n = int(argv[1]) if len(argv) > 1 else 400
    if which == "utkface":
        files = sorted((SHARED / "utkface" / "images").glob("*.jpg"))
        files = [files[i] for i in np.random.default_rng(0).choice(len(files), min(n, len(files)), replace=False)]
    elif which == "ffhq":
        files = sorted((SHARED / "ffhq-samples" / "hq1024").glob("*.png"))
    else:
        raise SystemExit(f"unknown dataset {which!r}")
    landmarker = Dlib68Landmarker()
    rows, started = [], time.perf_counter()
    for path in files:
        image = np.asarray(Image.open(path).convert("RGB"))
        pts = landmarker(image)
        if pts is not None:
            rows.append(pts / np.array([image.shape[1], image.shape[0]], dtype=np.float64))
    pts = np.stack(rows)
    med = np.median(pts, axis=0)
    iqr = np.percentile(pts, 75, axis=0) - np.percentile(pts, 25, axis=0)
    print(f"# {which}: {len(rows)} of {len(files)} faces detected, {time.perf_counter() - started:.1f} s; "
          f"median inter-quartile range {np.median(iqr):.4f}")
    print("(" + ",\n ".join(f"({x:.4f}, {y:.4f})" for x, y in med) + ")")


if __name__ == "__main__":
    main(sys.argv[1:])
