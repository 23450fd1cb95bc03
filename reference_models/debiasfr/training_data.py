"""DebiasFR training data: the labelled HQ training faces and their freshly degraded LQ batches.

* :func:`load_training_faces` decodes the labelled HQ faces of a dataset once, at the training size;
* :func:`degrade_batch` applies the §5 degradation chain of :mod:`reference_models.debiasfr.degradation`
  with freshly sampled ``(k, s, n, q)`` from a seeded generator, non-differentiable JPEG, grey with
  ``gray_prob``, quantised to 8 bits.

Used by the training loop (:mod:`reference_models.debiasfr.training`) and by the auxiliary networks
(:mod:`reference_models.debiasfr.auxiliary_networks`: the low-resolution predictor learns on degraded faces).
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np
import torch
import torch.nn.functional as F

from reference_models.debiasfr.degradation import sample_degradation_params, degrade_with


def print_flush(message: str) -> None:
    """Default ``log`` of the DebiasFR training functions: print and flush."""
    print(message, flush=True)


def load_training_faces(dataset, size: int, limit: int | None = None, seed: int = 0,
                        log: Callable[[str], None] = print_flush) -> dict[str, Any]:
    """Decode the labelled HQ faces of ``dataset`` once, resized to ``size`` (bilinear, antialiased).

    Returns ``{"images": uint8 [N, 3, size, size], "age_bin": int64 [N], "gender": int64 [N], "ids": [...],
    "skipped_unlabelled": int, "unreadable": [(source, reason)]}``.  Unreadable files are reported, not fatal.
    """
    from bench.data.training_faces import seeded_hq_faces

    def resize(image: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(np.array(image, copy=True)).permute(2, 0, 1)[None].float()
        if t.shape[-2:] != (size, size):
            t = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        return t.round().clamp(0, 255).to(torch.uint8)[0]

    faces = seeded_hq_faces(dataset, seed=seed, limit=limit, prepare=resize,
                            keep=lambda s: s.attributes.gender is not None and s.attributes.age_bin is not None)
    images, unreadable, skipped = faces.images, faces.unreadable, faces.skipped
    bins = [int(s.attributes.age_bin) for s in faces.samples]
    genders = [int(s.attributes.gender) for s in faces.samples]
    ids = [s.id for s in faces.samples]
    if len(images) < 2:
        raise ValueError(f"dataset {dataset.name!r} has only {len(images)} readable labelled faces: cannot train")
    if unreadable:
        log(f"{len(unreadable)} unreadable image(s) skipped, first: {unreadable[0][0]}: {unreadable[0][1]}")
    return {"images": torch.stack(images), "age_bin": torch.tensor(bins), "gender": torch.tensor(genders),
            "ids": ids, "skipped_unlabelled": skipped, "unreadable": unreadable}


def degrade_batch(hq01: torch.Tensor, deg: Mapping[str, Any], generator: torch.Generator):
    """``(lq01, params)``: the §5 chain on ``hq01 [B, 3, S, S]`` in [0, 1], 8-bit quantised, grey with ``gray_prob``."""
    size = hq01.shape[-1]
    params = sample_degradation_params(generator, batch=hq01.shape[0], size=size,
                                       kernel_size=int(deg["kernel_size"]), iso_prob=float(deg["iso_prob"]),
                                       sigma_range=tuple(deg["sigma_range"]), scale_range=tuple(deg["scale_range"]),
                                       noise_range=tuple(deg["noise_range"]), jpeg_range=tuple(deg["jpeg_range"]))
    with torch.no_grad():
        lq = degrade_with(hq01, params, differentiable=False, out_size=size)
        gray = torch.rand(hq01.shape[0], generator=generator) < float(deg.get("gray_prob", 0.0))
        if gray.any():
            y = (0.299 * lq[:, 0] + 0.587 * lq[:, 1] + 0.114 * lq[:, 2])[:, None].expand(-1, 3, -1, -1)
            lq = torch.where(gray.view(-1, 1, 1, 1), y, lq)
        lq = (lq * 255).round().clamp(0, 255) / 255
    return lq, params
