"""Benchmark: images/s of ``stlpips``, ``lpips`` (AlexNet and VGG), ``identity`` and ``lmd`` beside ``psnr``, CPU.

On ``--n-images`` real UTKFace faces (200x200, ../shared/data/utkface) paired with their bicubic x8 down-up
version, uint8 tensors as the runner passes them, in batches of ``--batch-size``.  ``identity`` (dlib
descriptor) and ``lmd`` (68 landmarks) are timed cold (HQ face detection and HQ descriptor/landmarks
included; the in-process HQ cache cleared before each repeat) and warm (HQ side cached, as for the second
method or degradation of a study).  ``stlpips`` uses the
released networks (asset manager, PyPI, sha256-checked).  ``lpips`` uses the REAL v0.1 heads but a seeded
RANDOM torchvision backbone (the ImageNet files cannot be downloaded here): its cost is the same as with the
ImageNet weights, its values are not LPIPS.  Prints the best of ``--repeat`` timings per metric.

Usage: python benchmarks/perceptual_speed.py [--n-images 64] [--batch-size 16] [--repeat 2] [--threads 0]
"""
from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def faces(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    folder = Path(__file__).resolve().parents[2] / "shared" / "data" / "utkface" / "images"
    files = sorted(folder.glob("*.jpg"))[:n]
    if len(files) < n:
        raise SystemExit(f"needs {n} UTKFace images in {folder}")
    hq = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])
    ups = [np.asarray(Image.fromarray(h).resize((25, 25), Image.BICUBIC).resize(h.shape[1::-1], Image.BICUBIC))
           for h in hq]
    to_t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2).contiguous()
    return to_t(np.stack(ups)), to_t(hq)


def random_backbone(net: str, folder: Path) -> str:
    from torchvision.models import alexnet
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(0)
    features = alexnet(weights=None).features if net == "alex" else make_layers(cfgs["D"])
    path = folder / f"{net}.pth"
    torch.save({f"features.{k}": v for k, v in features.state_dict().items()}, path)
    return str(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    if args.threads:
        torch.set_num_threads(args.threads)
    from bench.core.assets import AssetManager
    from metrics.identity import HQ_CACHE, IdentityDistance
    from metrics.landmark_distance import LandmarkDistance
    from metrics.lpips import LPIPS
    from metrics.psnr import PSNR
    from metrics.stlpips import STLPIPS

    restored, reference = faces(args.n_images)
    manager = AssetManager()
    with tempfile.TemporaryDirectory() as tmp:
        metrics = {
            "psnr": PSNR(),
            "stlpips (alex)": STLPIPS(batch_size=args.batch_size),
            "stlpips (vgg)": STLPIPS(net="vgg", batch_size=args.batch_size),
            "lpips (alex, random backbone)": LPIPS(backbone=random_backbone("alex", Path(tmp)), batch_size=args.batch_size,
                                                   heads=str(manager.path("lpips_alex_v0_1"))),
            "lpips (vgg, random backbone)": LPIPS(net="vgg", backbone=random_backbone("vgg", Path(tmp)),
                                                  heads=str(manager.path("lpips_vgg_v0_1")), batch_size=args.batch_size),
            "identity (dlib descriptor), cold": IdentityDistance(),
            "identity (dlib descriptor), warm": IdentityDistance(),
            "lmd (68 landmarks), cold": LandmarkDistance(),
            "lmd (68 landmarks), warm": LandmarkDistance(),
        }
        print(f"{args.n_images} faces 200x200, batch {args.batch_size}, {torch.get_num_threads()} torch threads, CPU")
        for name, metric in metrics.items():
            if hasattr(metric, "prepare"):
                metric.prepare()
            best = float("inf")
            if name.endswith("warm"):
                metric(restored, reference)  # fills the HQ cache
            for _ in range(args.repeat):
                if name.endswith("cold"):
                    HQ_CACHE.clear()
                start = time.perf_counter()
                for i in range(0, args.n_images, args.batch_size):
                    values = metric(restored[i:i + args.batch_size], reference[i:i + args.batch_size])
                best = min(best, time.perf_counter() - start)
            print(f"  {name:32s} {args.n_images / best:9.1f} images/s   ({best:.2f} s; last batch mean "
                  f"{values.mean().item():.4f})")


if __name__ == "__main__":
    main()
