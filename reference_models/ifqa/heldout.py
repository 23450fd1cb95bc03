"""Held-out checks of a trained IFQA discriminator: scores of faces and of their bicubic round trips.

* :func:`score_faces`: mean of the per-pixel map of each face, resized to the training resolution (the
  harness ``ifqa`` metric scores a trained file the same way);
* :func:`ranking_check`: does the discriminator rank ``HQ > x4 > x8 > x16`` (:func:`bicubic_round_trip`)?
* :func:`heldout_faces`: faces of a dataset's ``test`` split (training used ``train``).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from reference_models.ifqa.discriminator import IFQADiscriminator
from reference_models.ifqa.training_data import to_tensor


@torch.no_grad()
def score_faces(d: IFQADiscriminator, images: np.ndarray, size: int, batch: int = 32) -> np.ndarray:
    """Mean of the per-pixel map of each ``uint8 [N, H, W, 3]`` face, resized to ``size`` (bilinear, as
    the official test-time resize) -> float64 ``[N]``."""
    from PIL import Image

    out = []
    for start in range(0, len(images), batch):
        chunk = images[start:start + batch]
        if chunk.shape[1:3] != (size, size):
            chunk = np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.BILINEAR)) for im in chunk])
        out.append(d(to_tensor(chunk)).mean(dim=(1, 2, 3)).double().numpy())
    return np.concatenate(out)


def bicubic_round_trip(image: np.ndarray, scale: int) -> np.ndarray:
    """The ``x{scale}`` protocol + the ``bicubic`` method: PIL bicubic down to ``floor(N/s + 1/2)``, back up."""
    from PIL import Image

    from bench.data.degradation import bicubic_lq_size

    h, w = image.shape[:2]
    small = Image.fromarray(image).resize((bicubic_lq_size(w, scale), bicubic_lq_size(h, scale)), Image.BICUBIC)
    return np.asarray(small.resize((w, h), Image.BICUBIC), dtype=np.uint8)


def ranking_check(d: IFQADiscriminator, faces: np.ndarray, size: int, scales: Sequence[int] = (4, 8, 16)
                  ) -> dict[str, Any]:
    """Scores of held-out ``faces`` (full resolution ``uint8``) and of their bicubic x4/x8/x16 round trips;
    the share of faces ranked ``HQ > x4 > x8 > x16`` (and pairwise)."""
    scores = {"hq": score_faces(d, faces, size)}
    for s in scales:
        scores[f"x{s}"] = score_faces(d, np.stack([bicubic_round_trip(f, s) for f in faces]), size)
    keys = [f"x{s}" for s in scales]
    chain = np.ones(len(faces), dtype=bool)
    pairwise = {}
    for a, b in zip(["hq"] + keys[:-1], keys):
        ok = scores[a] > scores[b]
        pairwise[f"{a}>{b}"] = float(ok.mean())
        if a != "hq":
            chain &= ok
    return {"n": int(len(faces)), "mean": {k: float(v.mean()) for k, v in scores.items()},
            "std": {k: float(v.std()) for k, v in scores.items()}, "pairwise": pairwise,
            "share_" + ">".join(keys): float(chain.mean()),
            "mean_order_correct": bool(all(scores[a].mean() > scores[b].mean() for a, b in zip(keys[:-1], keys[1:])))}


def heldout_faces(name: str, root, n: int, seed: int = 1) -> tuple[np.ndarray, dict[str, Any]]:
    """``n`` faces of the dataset's ``test`` split at their own resolution (seeded choice)."""
    from bench.core.imageio import read_image
    from bench.data.training_faces import open_training_dataset

    dataset = open_training_dataset(name, root, "test")
    samples = [s for s in dataset.samples if s.hq is not None]
    faces, shape = [], None
    for i in np.random.default_rng(seed).permutation(len(samples)):
        if len(faces) >= n:
            break
        try:
            image = read_image(samples[int(i)].hq)
        except Exception:
            continue
        if shape is None:
            shape = image.shape
        if image.shape == shape:
            faces.append(image)
    return np.stack(faces), dataset.describe()
