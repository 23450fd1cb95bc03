"""Replaying a recorded ``params`` dict (any pipeline) to the same LQ bytes."""
from __future__ import annotations

import warnings
from typing import Any, Mapping

import numpy as np

from bench.data.degradation.base import PIPELINE_VERSION, Degradation, Identity
from bench.data.degradation.bicubic import BicubicDownsample
from bench.data.degradation.debiasfr import DebiasFRDegradation
from bench.data.degradation.ops import jpeg_codec

_PIPELINES: dict[str, type[Degradation]] = {c.pipeline: c for c in (Identity, BicubicDownsample, DebiasFRDegradation)}


def degradation_from_params(hq: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
    """Replay a recorded ``params`` dict on ``hq``: the same LQ bytes as the original ``apply``.

    Uses only the recorded values (not the seed or sample id).  Raises ``ValueError`` for an unknown
    pipeline, a params dict written by another pipeline version, or an HQ of another size.  The JPEG step
    is exact only with the same codec build (``params["jpeg_codec"]``).
    """
    pipeline = params.get("pipeline")
    if pipeline not in _PIPELINES:
        raise ValueError(f"unknown degradation pipeline {pipeline!r}; known: {', '.join(sorted(_PIPELINES))}")
    if int(params.get("version", -1)) != PIPELINE_VERSION:
        raise ValueError(f"params were written by {pipeline} version {params.get('version')!r}; this is version "
                         f"{PIPELINE_VERSION}, which may not reproduce them")
    codec = params.get("jpeg_codec")
    if codec is not None and codec != jpeg_codec():
        warnings.warn(f"params were recorded with JPEG codec {codec!r}, replaying with {jpeg_codec()!r}: "
                      "the LQ may differ in a few 8-bit levels", RuntimeWarning, stacklevel=2)
    cls = _PIPELINES[pipeline]
    return cls.from_params(params).render(hq, params)
