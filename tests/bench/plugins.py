"""Small plug-ins used by the harness tests (so they test the harness, not a particular metric)."""
from __future__ import annotations

import numpy as np
import torch

from bench.core.types import Attributes, Dataset, PerImageMetric, Sample, SetMetric, as_float01


class ArrayDataset(Dataset):
    """In-memory faces: HQ arrays of a few sizes, plus a sample whose file is missing."""

    name = "arrays"

    def __init__(self, root=None, n=10, missing=True, **options):
        super().__init__(root, n=n, missing=missing, **options)
        self.n, self.missing = n, missing

    def index(self):
        rng = np.random.default_rng(0)
        samples = []
        for i in range(self.n):
            size = 16 if i % 3 else 20
            image = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
            samples.append(Sample(id=f"s{i:03d}", hq=image, attributes=Attributes(age=10 + i, gender=i % 2)))
        if self.missing:
            samples.append(Sample(id="zz-missing", hq=__import__("pathlib").Path("/nonexistent/face.png")))
        return samples


class HalfDegradation:
    """Keeps every second pixel; records the seed and id it saw."""

    name = "half"

    def apply(self, hq, seed, sample_id):
        return np.ascontiguousarray(hq[::2, ::2]), {"protocol": "half", "seed": seed, "id": sample_id}

    def describe(self):
        return {"name": "half"}


class MeanAbsError(PerImageMetric):
    """Mean absolute error in 8-bit units; refuses 20x20 images to exercise per-metric errors."""

    name = "mae"
    higher_is_better = False

    def __call__(self, restored, reference=None):
        if restored.shape[-1] == 20:
            raise ValueError("20-pixel images are refused by this test metric")
        return (as_float01(restored, torch.float64) - as_float01(reference, torch.float64)).abs().mul(255).mean(dim=(1, 2, 3))


class PixelSum(SetMetric):
    """Set-level: mean restored intensity over all images (per-image sums and counts, summed)."""

    name = "pixelsum"

    def restored_vectors(self, restored, samples):
        x = as_float01(restored, torch.float64)
        return {"v": np.stack([x.sum(dim=(1, 2, 3)).numpy(), np.full(len(x), float(x[0, 0].numel()))], axis=1)}

    def fold(self, vectors, samples):
        v = np.asarray(vectors["v"], np.float64)
        return {"sum": np.array(v[:, 0].sum()), "count": np.array(v[:, 1].sum()), "images": np.array(len(samples))}

    def compute(self, state):
        return {"mean": float(state["sum"] / (3 * state["count"])), "images": int(state["images"])}