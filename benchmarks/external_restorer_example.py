"""A restorer OUTSIDE frbench (plain Pillow + numpy): Lanczos upscaling followed by an unsharp mask.

It stands for any external restoration code: it imports nothing from frbench, reads the LQ faces that
``bench lq`` wrote and writes one restored PNG per input, under the same relative name, so that
``bench run --method external`` can score the folder::

    bench lq --dataset utkface --root R --degradation x8 --limit 100 --out lq/
    python benchmarks/external_restorer_example.py lq/ restored/ --scale 8
    bench run --method external -M folder=restored -M name=lanczos-usm --dataset utkface --root R \\
              --degradation x8 --limit 100 --metrics psnr,ssim
    bench run --method bicubic --dataset utkface --root R --degradation x8 --limit 100 --metrics psnr,ssim
    bench leaderboard --dataset utkface

Restoration of one ``h x w`` LQ image: ``Image.resize((w * scale, h * scale), Image.LANCZOS)`` (Lanczos-3
windowed sinc), then ``ImageFilter.UnsharpMask(radius, percent, threshold)`` (adds ``percent``/100 times the
difference with a Gaussian blur of ``radius``, where that difference exceeds ``threshold`` levels).  Inputs
are every ``*.png`` under the LQ folder (sub-folders kept); ``manifest.csv`` and other files are ignored.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image, ImageFilter


def restore(image: Image.Image, scale: int, radius: float, percent: int, threshold: int) -> Image.Image:
    """Lanczos upscaling by ``scale``, then an unsharp mask (module documentation)."""
    rgb = image.convert("RGB")
    up = rgb.resize((rgb.width * scale, rgb.height * scale), Image.LANCZOS)
    return up.filter(ImageFilter.UnsharpMask(radius=radius, percent=percent, threshold=threshold))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Lanczos x scale + unsharp mask on every PNG of a `bench lq` folder.")
    parser.add_argument("lq", type=Path, help="folder written by `bench lq`")
    parser.add_argument("out", type=Path, help="folder for the restored PNGs (same relative names)")
    parser.add_argument("--scale", type=int, default=8, help="upscaling factor (x8 protocol: 8)")
    parser.add_argument("--radius", type=float, default=2.0, help="unsharp mask: Gaussian radius (pixels)")
    parser.add_argument("--percent", type=int, default=80, help="unsharp mask: strength (percent)")
    parser.add_argument("--threshold", type=int, default=2, help="unsharp mask: minimal difference (levels)")
    args = parser.parse_args(argv)
    inputs = sorted(args.lq.rglob("*.png"))
    if not inputs:
        print(f"no PNG files under {args.lq}", file=sys.stderr)
        return 2
    for path in inputs:
        target = args.out / path.relative_to(args.lq)
        target.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(path) as image:
            restore(image, args.scale, args.radius, args.percent, args.threshold).save(target, format="PNG")
    print(f"restored {len(inputs)} image(s) from {args.lq} into {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
