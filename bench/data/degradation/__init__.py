"""Synthesising the low-quality (LQ) input from the HQ face: seeded, recorded, replayable.

Interface
---------
A :class:`Degradation` maps an HQ ``uint8 [H, W, 3]`` RGB array to an LQ ``uint8 [h, w, 3]`` array kept at
its **native small size** (methods do their own upsampling), plus a JSON-serialisable ``params`` dict::

    lq, params = degradation.apply(hq, seed, sample_id)

Everything random is drawn from a :class:`numpy.random.SeedSequence` built from the run seed and the
SHA-256 digest of the UTF-8 sample id (never Python's salted ``hash``), so the LQ depends on
``(seed, sample_id)`` only: not on the order of samples, the batch, the thread or the process.  Each
random component (kernel, scale, noise, JPEG quality, greyscale) has its own child stream
(``SeedSequence.spawn``), so fixing one of them (e.g. the scale in ``debiasfr-x16``) leaves the others
unchanged: ``debiasfr-x16`` and ``debiasfr-x32`` use the same kernel, noise level and JPEG quality for a
given image.

``params`` holds every drawn value and every constant needed to redo the work
(:func:`degradation_from_params` replays it to the same LQ bytes), the pipeline name and version,
and — for information — the seed and sample id it was drawn from.

Protocols (registry names in brackets; see ``pyproject.toml (entry points)``)
-------------------------------------------------------------------
* ``bicubic_x4/x8/x16/x32`` [``x4`` … ``x32``]: bicubic downsampling only (:mod:`.bicubic`).
* ``debiasfr_random`` [``debiasfr``], ``debiasfr_x16``, ``debiasfr_x32`` [``debiasfr-x16``, ``debiasfr-x32``]:
  DebiasFR's degradation with a random or a fixed scale (:mod:`.debiasfr`; its ranges:
  :data:`~bench.data.degradation.debiasfr.DEBIASFR_RANGES`).
* ``identity`` [``none``]: LQ = HQ (a copy).

Modules: :mod:`.base` (the interface, seeding, :class:`Identity`), :mod:`.ops` (the image operations),
:mod:`.bicubic`, :mod:`.debiasfr`, :mod:`.replay` (:func:`degradation_from_params`).
"""
from bench.data.degradation.base import (
    MIN_LQ_SIDE,
    PIPELINE_VERSION,
    Degradation,
    Identity,
    id_digest,
    identity,
    sample_seed_sequence,
)
from bench.data.degradation.bicubic import (
    BicubicDownsample,
    bicubic_lq_size,
    bicubic_x4,
    bicubic_x8,
    bicubic_x16,
    bicubic_x32,
)
from bench.data.degradation.debiasfr import (
    DEBIASFR_RANGES,
    DebiasFRDegradation,
    debiasfr_lq_size,
    debiasfr_random,
    debiasfr_x16,
    debiasfr_x32,
)
from bench.data.degradation.ops import blur_reflect, gaussian_kernel, jpeg_codec, jpeg_roundtrip, resize_bilinear_torch
from bench.data.degradation.replay import degradation_from_params

__all__ = ["MIN_LQ_SIDE", "PIPELINE_VERSION", "DEBIASFR_RANGES", "Degradation", "Identity", "BicubicDownsample",
           "DebiasFRDegradation", "id_digest", "sample_seed_sequence", "gaussian_kernel", "blur_reflect",
           "resize_bilinear_torch", "jpeg_roundtrip", "jpeg_codec", "bicubic_lq_size", "debiasfr_lq_size",
           "degradation_from_params", "bicubic_x4", "bicubic_x8", "bicubic_x16", "bicubic_x32", "debiasfr_random",
           "debiasfr_x16", "debiasfr_x32", "identity"]
