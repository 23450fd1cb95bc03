"""Training data from any registered dataset: a seeded choice of its readable HQ faces, decoded once.

Used by every ``bench train`` pipeline (attribute classifier, DebiasFR, IFQA): the samples that pass
``keep`` (e.g. "has age and gender labels") are shuffled with ``numpy.random.default_rng(seed)``, read in
that order until ``limit`` readable faces are collected, and each decoded image goes through ``prepare``
(a resize, a face chip) once.  Unreadable files are recorded with their cause, never fatal.

:func:`open_training_dataset` opens the dataset of every ``bench train`` pipeline: a ``split`` it cannot
honour is an error, never silently dropped (training would otherwise see the test faces).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from bench.core.types import Sample


@dataclass
class HQFaces:
    """``images[i]`` is ``prepare(decoded HQ of samples[i])``."""

    images: list[Any] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)   # (source, cause)
    skipped: int = 0                                                 # samples rejected by ``keep``


def open_training_dataset(name: str, root, split: str, options: dict[str, Any] | None = None):
    """Dataset ``name`` at ``root`` restricted to ``split`` (``"all"``: every sample, no ``split`` option).

    A dataset that has no ``split`` option raises :class:`ValueError` unless ``split == "all"``; any
    other error of the dataset propagates unchanged (there is no retry without ``split``).
    """
    import inspect

    from bench.core.registry import DATASETS

    options = dict(options or {})
    if split != "all":
        try:
            parameters = inspect.signature(DATASETS.get(name)).parameters
        except (TypeError, ValueError):  # no signature: let the factory decide
            parameters = {}
        takes_split = not parameters or "split" in parameters or any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
        if not takes_split:
            raise ValueError(f"dataset {name!r} has no train/test split, so training would see its test faces; "
                             f"pass --split all to train on every sample deliberately")
        options["split"] = split
    return DATASETS.build(name, root=root, **options)


def seeded_hq_faces(dataset, *, seed: int, limit: int | None = None,
                    keep: Callable[[Sample], bool] = lambda s: True,
                    prepare: Callable[[np.ndarray], Any] = lambda image: image) -> HQFaces:
    """Up to ``limit`` readable HQ faces of ``dataset`` in a seeded order (see module docstring)."""
    from bench.core.imageio import read_image

    candidates = [s for s in dataset.samples if s.hq is not None and keep(s)]
    out = HQFaces(skipped=len(dataset.samples) - len(candidates))
    for i in np.random.default_rng(seed).permutation(len(candidates)):
        if limit is not None and len(out.images) >= limit:
            break
        sample = candidates[int(i)]
        try:
            image = read_image(sample.hq, name=sample.describe_source("hq"))
        except Exception as exc:  # noqa: BLE001 - one bad image never stops training
            out.unreadable.append((sample.describe_source("hq"), str(exc)))
            continue
        out.images.append(prepare(image))
        out.samples.append(sample)
    return out
