"""Benchmark: peak memory of a run with and without one huge image (the pixel limit of bench.core.imageio).

Builds a folder of ``--n`` small faces (128x128 PNGs rendered from the built-in synthetic dataset), then
measures the peak resident set size of ``bench run`` (bicubic, x8, psnr+ssim, a fresh store each time):

  1. on the small faces only;
  2. on the same faces plus one solid 12000x12000 PNG (about 0.4 MB on disk, 144 megapixels: more than
     6 GB if decoded and pushed through a run), which the default ``--max-pixels`` (40 MP) refuses from
     its header, before decoding.

Each ``bench run`` is the only child of a small wrapper process, which reports
``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` after waiting for it: the peak RSS of that one run
(``RUSAGE_CHILDREN`` is a maximum over waited-for children, so each measurement needs its own wrapper).
Prints both peaks, their ratio and the error row of the huge image.

Usage: python benchmarks/pixel_limit_memory.py [--n 16] [--size 128] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

#: runs ``argv[1:]`` as its only child and prints the child's return code and peak RSS (kB on Linux)
WRAPPER = """
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"rc": done.returncode, "maxrss_kb": peak, "stdout": done.stdout, "stderr": done.stderr[-2000:]}))
"""


def solid_png(path: Path, width: int, height: int, rgb: tuple[int, int, int]) -> None:
    """A solid 8-bit RGB PNG written row by row (never holds the image in memory)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    compressor = zlib.compressobj(9)
    line = b"\x00" + bytes(rgb) * width
    idat = b"".join(compressor.compress(line) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def make_faces(folder: Path, n: int, size: int) -> None:
    from PIL import Image

    from bench.core.imageio import read_image
    from bench.data.datasets.synthetic import SyntheticFaces

    folder.mkdir(parents=True, exist_ok=True)
    for sample in SyntheticFaces(n=n, size=size).samples:
        Image.fromarray(read_image(sample.hq)).save(folder / f"{sample.id}.png")


def peak_rss(folder: Path, store: Path) -> dict:
    command = [sys.executable, "-m", "bench", "run", "--method", "bicubic", "--dataset", "folder", "--root",
               str(folder), "-D", "kind=hq", "--degradation", "x8", "--metrics", "psnr,ssim", "--store", str(store),
               "--out", str(store.parent / "out"), "--no-progress"]
    done = subprocess.run([sys.executable, "-c", WRAPPER, *command], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["rc"] != 0:
        raise SystemExit(f"bench run failed (exit {result['rc']}):\n{result['stderr']}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=16, help="small faces in the folder")
    parser.add_argument("--size", type=int, default=128, help="side of the small faces (pixels)")
    parser.add_argument("--keep", default=None, help="work folder to keep (default: a temporary one)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as temporary:
        work = Path(args.keep or temporary)
        small, mixed = work / "small", work / "with_huge"
        make_faces(small, args.n, args.size)
        make_faces(mixed, args.n, args.size)
        solid_png(mixed / "huge_12000x12000.png", 12000, 12000, (120, 80, 60))
        huge_bytes = (mixed / "huge_12000x12000.png").stat().st_size

        base = peak_rss(small, work / "small.sqlite")
        with_huge = peak_rss(mixed, work / "with_huge.sqlite")
        ratio = with_huge["maxrss_kb"] / base["maxrss_kb"]
        print(f"{args.n} faces of {args.size}x{args.size}, bicubic x8, psnr+ssim, default --max-pixels")
        print(f"  peak RSS without the huge image: {base['maxrss_kb'] / 1024:8.1f} MiB")
        print(f"  peak RSS with one 12000x12000 PNG ({huge_bytes / 1e6:.2f} MB on disk): "
              f"{with_huge['maxrss_kb'] / 1024:8.1f} MiB")
        print(f"  ratio with / without: {ratio:.3f}")
        for line in with_huge["stdout"].splitlines():
            if "huge_12000x12000" in line and "[decode]" in line:
                print("  error row:", line.strip())


if __name__ == "__main__":
    main()
