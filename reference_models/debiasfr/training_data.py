"""DebiasFR training data: the labelled HQ training faces and their freshly degraded LQ batches.

* :func:`load_training_faces` decodes the labelled HQ faces of a dataset once, at the training size: the
  8-bit image as float32 in [0, 1] resized with torch bilinear (``align_corners=False``), *not rounded*, and
  without antialias by default -- the official ``cv2.resize(img_gt, (512, 512), interpolation=cv2.INTER_LINEAR)``
  of the float32 image (``ffhq_degradation_dataset.py``; cv2's linear resize uses half-pixel centres and no
  low-pass filter, as torch's); the small presets ask for antialias (``train.hq_antialias``);
* :func:`hq_batch` returns a batch of those float HQ faces (the generator's ground truth);
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


def resize_hq01(image: np.ndarray, size: int, antialias: bool = False) -> torch.Tensor:
    """``uint8 [H, W, 3]`` -> float32 ``[3, size, size]`` in [0, 1]: ``image / 255`` then torch bilinear
    (``align_corners=False``, ``antialias`` as asked), not rounded; unchanged (exact) at its own size."""
    t = torch.from_numpy(np.array(image, copy=True)).permute(2, 0, 1)[None].float() / 255
    if t.shape[-2:] != (size, size):
        t = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False, antialias=bool(antialias))
    return t[0].clamp(0, 1)


def load_training_faces(dataset, size: int, limit: int | None = None, seed: int = 0,
                        log: Callable[[str], None] = print_flush, antialias: bool = False) -> dict[str, Any]:
    """Decode the labelled HQ faces of ``dataset`` once, resized to ``size`` (:func:`resize_hq01`).

    Returns ``{"images": uint8 [N, 3, size, size], "hq01": float32 [N, 3, size, size] or None, "age_bin":
    int64 [N], "gender": int64 [N], "ids": [...], "skipped_unlabelled": int, "unreadable": [(source,
    reason)], "hq_resize": str}``.  ``hq01`` holds the unrounded float faces when at least one face was
    resized (else ``images / 255`` is exact and ``hq01`` is ``None``); ``images`` is its 8-bit rounding, which
    the suite's small auxiliary CNNs train on.  Unreadable files are reported, not fatal.
    """
    from bench.data.training_faces import seeded_hq_faces

    resized = []

    def prepare(image: np.ndarray) -> torch.Tensor:
        resized.append(image.shape[:2] != (size, size))
        return resize_hq01(image, size, antialias)

    faces = seeded_hq_faces(dataset, seed=seed, limit=limit, prepare=prepare,
                            keep=lambda s: s.attributes.gender is not None and s.attributes.age_bin is not None)
    images, unreadable, skipped = faces.images, faces.unreadable, faces.skipped
    bins = [int(s.attributes.age_bin) for s in faces.samples]
    genders = [int(s.attributes.gender) for s in faces.samples]
    ids = [s.id for s in faces.samples]
    if len(images) < 2:
        raise ValueError(f"dataset {dataset.name!r} has only {len(images)} readable labelled faces: cannot train")
    if unreadable:
        log(f"{len(unreadable)} unreadable image(s) skipped, first: {unreadable[0][0]}: {unreadable[0][1]}")
    hq01 = torch.stack(images)
    return {"images": (hq01 * 255).round().clamp(0, 255).to(torch.uint8), "hq01": hq01 if any(resized) else None,
            "age_bin": torch.tensor(bins), "gender": torch.tensor(genders), "ids": ids,
            "skipped_unlabelled": skipped, "unreadable": unreadable,
            "hq_resize": f"float bilinear to {size} px, align_corners=False, antialias={bool(antialias)}, not rounded"}


def hq_batch(faces: Mapping[str, Any], idx: torch.Tensor) -> torch.Tensor:
    """Float32 ``[B, 3, S, S]`` HQ faces in [0, 1]: the unrounded resize when there is one, else ``images / 255``."""
    if faces.get("hq01") is not None:
        return faces["hq01"][idx].float()
    return faces["images"][idx].float() / 255


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
