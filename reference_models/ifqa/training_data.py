"""Training data of ``bench train ifqa``: the HQ faces and the batches of one iteration.

* :func:`load_faces`: a seeded choice of a dataset's HQ faces, resized once to the training size;
* :func:`make_batch`: everything random of iteration ``i`` -- batch choice, flips, LQ synthesis
  (:mod:`reference_models.ifqa.lq_synthesis`), FPRS draws (:mod:`reference_models.ifqa.fprs`) -- from
  ``numpy.random.default_rng([seed, i])``, so that a resumed run draws exactly what an uninterrupted one would;
* :func:`to_tensor`: ``uint8`` faces -> the discriminator's ``[-1, 1]`` input.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from reference_models.ifqa.fprs import draw_swap, swap_mask
from reference_models.ifqa.lq_synthesis import synthesize_lq
from reference_models.ifqa.training_config import IFQATrainConfig


def load_faces(dataset, size: int, limit: int | None, seed: int, log: Callable[[str], None] = print
               ) -> tuple[np.ndarray, list[str], int]:
    """``(faces uint8 [N, size, size, 3], ids, unreadable)``: a seeded choice of the dataset's HQ faces,
    resized with Pillow bicubic (antialiased)."""
    from PIL import Image

    from bench.data.training_faces import seeded_hq_faces

    def resize(image: np.ndarray) -> np.ndarray:
        if image.shape[:2] != (size, size):
            image = np.asarray(Image.fromarray(image).resize((size, size), Image.BICUBIC), dtype=np.uint8)
        return image

    chosen = seeded_hq_faces(dataset, seed=seed, limit=limit, prepare=resize)
    faces, ids, unreadable = chosen.images, [s.id for s in chosen.samples], len(chosen.unreadable)
    if not faces:
        raise ValueError(f"no readable HQ faces in dataset {dataset.name!r}")
    return np.stack(faces), ids, unreadable


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """``uint8 [B, H, W, 3]`` -> float ``[B, 3, H, W]`` in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


@dataclass
class Batch:
    hq: torch.Tensor
    lq: torch.Tensor
    swap_masks: torch.Tensor                 # [B, 1, H, W] float 0/1
    directions: list[str]
    use_lq: torch.Tensor                     # [B] bool: swap with the LQ instead of RF
    indices: list[int]
    lq_params: list[dict] = field(default_factory=list)


def make_batch(faces: np.ndarray, iteration: int, cfg: IFQATrainConfig, regions: dict[str, np.ndarray]) -> Batch:
    """Everything random of iteration ``iteration``, from ``default_rng([seed, iteration])``."""
    rng = np.random.default_rng([int(cfg.seed), int(iteration)])
    n = len(faces)
    idx = rng.choice(n, size=cfg.batch_size, replace=n < cfg.batch_size)
    hqs, lqs, masks, dirs, use_lq, params = [], [], [], [], [], []
    for i in idx:
        hq = faces[int(i)]
        if rng.random() < 0.5:
            hq = hq[:, ::-1]
        hq = np.ascontiguousarray(hq)
        lq, p = synthesize_lq(hq, rng)
        chosen, direction = draw_swap(rng)
        hqs.append(hq); lqs.append(lq); params.append({**p, "regions": list(chosen), "direction": direction})
        masks.append(swap_mask(regions, chosen)); dirs.append(direction)
        use_lq.append(bool(rng.random() < cfg.p_lq_in_swap))
    return Batch(to_tensor(np.stack(hqs)), to_tensor(np.stack(lqs)),
                 torch.from_numpy(np.stack(masks)).float().unsqueeze(1), dirs, torch.tensor(use_lq),
                 [int(i) for i in idx], params)
