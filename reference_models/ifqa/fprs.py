"""Facial Primary Region Swap (FPRS) and the face-mask (F-Mask) targets of IFQA training.

Provenance: ``docs/protocols/ifqa.md`` §3.2-§3.3 (from the paper's slides; no official training code).
The project's own implementation.

FPRS (spec §3.2)
    ``I_mix = M ⊙ I_HQ + (1 − M) ⊙ I_LQ/RF`` where ``M`` is a binary mask of some of the primary regions
    (eyes, nose, mouth) and ``I_LQ/RF`` the LQ input or the generator's restoration.  Regions are swapped
    "randomly between the HQ and the LQ/RF versions", so here each swap also draws a **direction**:
    ``"hq_into_fake"`` (HQ regions pasted into the fake image, the formula above) or ``"fake_into_hq"``
    (fake regions pasted into the HQ image: ``I_mix = M ⊙ I_fake + (1 − M) ⊙ I_HQ``).  **[SUITE]** choices
    (unverified in the spec): each region is picked with p = 0.5, at least one region per swap; the two
    directions with p = 0.5.

Targets (spec §3.2-§3.4)
    the discriminator's per-pixel target is the provenance map (1 where the pixel comes from the HQ image)
    **intersected with the face mask** ``M_FACE``: a real HQ image has target ``M_FACE`` (F-Mask), a fake one
    0, a mixed one ``provenance ⊙ M_FACE``.

Where the masks come from
    No face-parsing network is available offline (see the asset manifest, ``bench/core/assets/manifest.yaml``), so, as the spec's offline note
    says, every mask comes from 68-point landmarks (:mod:`.regions`): the primary regions are
    :func:`reference_models.ifqa.regions.region_masks`; the face mask (F-Mask) is
    :func:`face_mask_from_landmarks` -- the convex hull of the jaw line (points 0-16) and of the brows
    (17-26) lifted by 0.3 × the inter-ocular distance (a strip of forehead), so it covers the face from the
    forehead to the chin and leaves hair, ears, neck and background out.  Training on an aligned dataset
    uses the **template landmarks** of its layout (``"ffhq"`` or ``"utkface"``,
    :data:`reference_models.ifqa.regions.TEMPLATE_LANDMARKS`): the same masks for every image, not a
    per-image parse.  This is recorded in the training record (:func:`describe_masks`).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np
import torch

PRIMARY_REGIONS = ("eyes", "nose", "mouth")
LAYOUTS = ("ffhq", "utkface")
DIRECTIONS = ("hq_into_fake", "fake_into_hq")
JAW, BROWS = tuple(range(17)), tuple(range(17, 27))
EYE_A, EYE_B = tuple(range(36, 42)), tuple(range(42, 48))
#: how far above the brows the face mask reaches, in units of the inter-ocular distance
FOREHEAD = 0.3


def face_mask_from_landmarks(landmarks: np.ndarray, size) -> np.ndarray:
    """F-Mask: boolean ``[H, W]`` hull of the jaw and the lifted brows of ``(68, 2)`` landmarks (pixels)."""
    from PIL import Image, ImageDraw
    from scipy.spatial import ConvexHull

    h, w = (int(size), int(size)) if np.isscalar(size) else (int(size[0]), int(size[1]))
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.shape != (68, 2):
        raise ValueError(f"the face mask needs 68-point landmarks of shape (68, 2), got {pts.shape}")
    d = float(np.hypot(*(pts[list(EYE_B)].mean(0) - pts[list(EYE_A)].mean(0))))
    brows = pts[list(BROWS)] - np.array([0.0, FOREHEAD * d])
    points = np.concatenate([pts[list(JAW)], brows])
    hull = points[ConvexHull(points).vertices]
    img = Image.new("L", (w, h), 0)
    ImageDraw.Draw(img).polygon([tuple(p) for p in hull], fill=1)
    return np.asarray(img, dtype=bool)


@lru_cache(maxsize=8)
def template_masks(layout: str, size: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """``(regions, face)`` boolean ``[size, size]`` masks of an aligned ``layout`` (cached; read-only)."""
    from reference_models.ifqa.regions import region_masks, template_landmarks

    if layout not in LAYOUTS:
        raise ValueError(f"unknown face layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    masks = region_masks(None, size, template=layout)
    regions = {r: np.asarray(masks[r], dtype=bool) for r in PRIMARY_REGIONS}
    face = face_mask_from_landmarks(template_landmarks(layout, size), size)
    for r, m in regions.items():
        if not m.any():
            raise ValueError(f"region {r!r} is empty at {size} px in layout {layout!r}")
    for m in (*regions.values(), face):
        m.setflags(write=False)
    return regions, face


def describe_masks(layout: str) -> dict:
    return {"layout": layout, "source": f"template 68-point landmarks ({layout}), not a face parser",
            "regions": "reference_models.ifqa.regions.region_masks(None, template=layout)",
            "face_mask": f"convex hull of jaw + brows lifted {FOREHEAD} x inter-ocular distance",
            "p_region": 0.5, "directions": list(DIRECTIONS)}


def draw_swap(rng: np.random.Generator, regions: Sequence[str] = PRIMARY_REGIONS,
              p_region: float = 0.5) -> tuple[tuple[str, ...], str]:
    """A random non-empty subset of ``regions`` (each with ``p_region``) and a direction (p = 0.5 each)."""
    while True:
        chosen = tuple(r for r in regions if rng.random() < p_region)
        if chosen:
            break
    direction = DIRECTIONS[int(rng.random() < 0.5)]
    return chosen, direction


def swap_mask(regions: dict[str, np.ndarray], chosen: Sequence[str]) -> np.ndarray:
    out = np.zeros(next(iter(regions.values())).shape, dtype=bool)
    for r in chosen:
        out |= regions[r]
    return out


def fprs_mix(hq: torch.Tensor, fake: torch.Tensor, mask: torch.Tensor,
             direction: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Swap the masked pixels between ``hq`` and ``fake`` (``[B, 3, H, W]``); ``mask`` ``[B or 1, 1, H, W]``.

    Returns ``(mixed, provenance)`` where ``provenance`` ``[B, 1, H, W]`` is 1 where ``mixed`` holds HQ pixels.
    ``direction``: ``"hq_into_fake"`` -> ``M ⊙ hq + (1 − M) ⊙ fake``;
    ``"fake_into_hq"`` -> ``M ⊙ fake + (1 − M) ⊙ hq``.
    """
    m = mask.to(hq.dtype)
    if direction == "hq_into_fake":
        prov = m
    elif direction == "fake_into_hq":
        prov = 1.0 - m
    else:
        raise ValueError(f"unknown FPRS direction {direction!r}; choose one of {DIRECTIONS}")
    prov = prov.expand(hq.shape[0], 1, *hq.shape[-2:])
    mixed = torch.where(prov.bool().expand_as(hq), hq, fake)
    return mixed, prov.contiguous()


def fprs_target(provenance: torch.Tensor, face: torch.Tensor) -> torch.Tensor:
    """Discriminator target of a mixed image: HQ provenance intersected with the face mask (float 0/1)."""
    return provenance * face.to(provenance.dtype)
