"""The degradation interface and its seeding: :class:`Degradation`, the per-sample random streams, and
the trivial protocol :class:`Identity` (see :mod:`bench.data.degradation`).

Everything random is drawn from a :class:`numpy.random.SeedSequence` built from the run seed and the
SHA-256 digest of the UTF-8 sample id (:func:`sample_seed_sequence`), one child stream per random component.

Minimum sizes: each protocol declares the smallest HQ side it degrades (:meth:`Degradation.min_hq_side`,
pixels, for both H and W) and ``apply`` refuses a smaller HQ with a ``ValueError`` naming the size and the
minimum (the runner records it as the sample's error).  The rule: the LQ keeps at least
:data:`MIN_LQ_SIDE` = 4 pixels a side at the protocol's largest scale — 4 is the support of the cubic
kernel the methods start with (bicubic upsampling: fewer samples than taps is mostly edge replication), and
it keeps the documented tracks (a 200-pixel UTKFace face at x32 gives a 6-pixel LQ); plus what the
protocol's own filters need (DebiasFR's reflect-padded 41x41 blur: a side above the padding, as torch's
``reflect`` requires).  A 3x5000 HQ is thus refused by ``x8`` instead of becoming a 1x625 LQ.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar, Mapping

import numpy as np

#: Version of the pipelines' behaviour; bump it whenever the same params would give other bytes.
PIPELINE_VERSION = 1

_MAX_SEED = 2 ** 64

#: Smallest LQ side (pixels) a protocol may produce at its largest scale (see the module documentation).
MIN_LQ_SIDE = 4


# -- seeding ----------------------------------------------------------------------------------------
def id_digest(sample_id: str) -> bytes:
    """SHA-256 of the UTF-8 encoding of ``sample_id`` (stable across processes, unlike ``hash``)."""
    if not isinstance(sample_id, str):
        raise TypeError(f"sample_id must be a str, got {type(sample_id).__name__}")
    return hashlib.sha256(sample_id.encode("utf-8")).digest()


def sample_seed_sequence(seed: int, sample_id: str) -> np.random.SeedSequence:
    """The per-sample root :class:`~numpy.random.SeedSequence` of ``(run seed, sample id)``.

    Its entropy is the fixed-length word sequence ``[seed low 32 bits, seed high 32 bits, 8 big-endian
    32-bit words of sha256(id)]`` — fixed length, so two different (seed, id) pairs can never give the
    same entropy.  ``seed`` must be an integer in ``[0, 2**64)``.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
    seed = int(seed)
    if not 0 <= seed < _MAX_SEED:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    words = [seed & 0xFFFFFFFF, seed >> 32]
    words += [int(w) for w in np.frombuffer(id_digest(sample_id), dtype=">u4")]
    return np.random.SeedSequence(entropy=words)


def _streams(seed: int, sample_id: str, names: tuple[str, ...]) -> dict[str, np.random.Generator]:
    children = sample_seed_sequence(seed, sample_id).spawn(len(names))
    return {name: np.random.default_rng(child) for name, child in zip(names, children)}


# -- checks and records ------------------------------------------------------------------------------
def _check_hq(hq: np.ndarray) -> tuple[int, int]:
    if not isinstance(hq, np.ndarray) or hq.dtype != np.uint8 or hq.ndim != 3 or hq.shape[2] != 3:
        shape = getattr(hq, "shape", None)
        raise ValueError(f"HQ image must be a uint8 array [H, W, 3], got {getattr(hq, 'dtype', type(hq))} {shape}")
    if hq.shape[0] < 1 or hq.shape[1] < 1:
        raise ValueError(f"HQ image is empty: {hq.shape}")
    return int(hq.shape[0]), int(hq.shape[1])


def _check_min_size(size: tuple[int, int], minimum: int, name: str, rule: str) -> None:
    if min(size) < minimum:
        raise ValueError(f"HQ image {size[0]}x{size[1]} (HxW) is smaller than the minimum {minimum}x{minimum} of "
                         f"degradation {name!r} ({rule})")


def _check_replay_size(hq: np.ndarray, params: Mapping[str, Any]) -> None:
    size = _check_hq(hq)
    recorded = params.get("hq_size")
    if recorded is not None and [int(v) for v in recorded] != list(size):
        raise ValueError(f"HQ image is {size[0]}x{size[1]} but the params were drawn for "
                         f"{recorded[0]}x{recorded[1]} (HxW)")


def _jsonable(params: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON round trip (tuples -> lists, numpy scalars refused early) — what a store would keep."""
    return json.loads(json.dumps(params, allow_nan=False))


# -- the interface -------------------------------------------------------------------------------------
class Degradation:
    """Base class: ``apply(hq, seed, sample_id) -> (lq, params)``.

    Subclasses implement :meth:`draw` (all random choices, from ``(seed, sample_id)`` and the HQ size,
    into a params dict) and :meth:`render` (the deterministic image processing given the params), and
    :meth:`from_params` (the object able to replay a params dict).  ``apply`` is ``render(hq, draw(...))``,
    so a replay from the recorded params runs the very same code.
    """

    #: Pipeline family written into ``params["pipeline"]`` and used by :func:`degradation_from_params`.
    pipeline: ClassVar[str] = "base"
    version: ClassVar[int] = PIPELINE_VERSION

    def __init__(self, name: str) -> None:
        self.name = name

    # to implement
    def draw(self, seed: int, sample_id: str, hq_size: tuple[int, int]) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def render(self, hq: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "Degradation":  # pragma: no cover
        raise NotImplementedError

    def reference(self, hq: np.ndarray) -> np.ndarray:
        """The HQ the protocol degrades and the metrics compare with: ``hq`` itself here; a protocol with a
        working resolution (DebiasFR's 512 px) returns it resized.  Idempotent; the runner calls it first."""
        return hq

    def min_hq_side(self) -> int:
        """Smallest HQ side (pixels, H and W) the protocol degrades; ``apply`` refuses smaller images."""
        return 1

    def min_size_rule(self) -> str:
        """Why :meth:`min_hq_side` is what it is (one phrase, quoted in the refusal)."""
        return "an image needs one pixel"

    # shared behaviour
    def _header(self, seed: int, sample_id: str, hq_size: tuple[int, int]) -> dict[str, Any]:
        return {"pipeline": self.pipeline, "version": self.version, "degradation": self.name,
                "seed": int(seed), "sample_id": sample_id, "hq_size": [int(hq_size[0]), int(hq_size[1])]}

    def apply(self, hq: np.ndarray, seed: int, sample_id: str) -> tuple[np.ndarray, dict[str, Any]]:
        """Degrade ``hq`` (``uint8 [H, W, 3]``) -> ``(lq uint8 [h, w, 3], params)``, deterministic in (seed, id)."""
        hq_size = _check_hq(hq)
        _check_min_size(hq_size, self.min_hq_side(), self.name, self.min_size_rule())
        params = _jsonable(self.draw(seed, sample_id, hq_size))
        lq = self.render(hq, params)
        params["lq_size"] = [int(lq.shape[0]), int(lq.shape[1])]
        return lq, params

    __call__ = apply

    def describe(self) -> dict[str, Any]:
        """What identifies the protocol in a run record (name, pipeline, version, options, software)."""
        import PIL
        import scipy
        import torch

        return {"name": self.name, "pipeline": self.pipeline, "version": self.version,
                "options": self.options(), "software": {"numpy": np.__version__, "scipy": scipy.__version__,
                                                        "torch": torch.__version__, "pillow": PIL.__version__}}

    def options(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, {self.options()})"


class Identity(Degradation):
    """No degradation: LQ = HQ (a copy)."""

    pipeline = "identity"

    def __init__(self, name: str = "none") -> None:
        super().__init__(name)

    def draw(self, seed, sample_id, hq_size):
        return self._header(seed, sample_id, hq_size)

    def render(self, hq, params):
        _check_replay_size(hq, params)
        return hq.copy()

    @classmethod
    def from_params(cls, params):
        return cls(params.get("degradation", "none"))


def identity() -> Identity:
    """No degradation: LQ = HQ (or the dataset's captured LQ)."""
    return Identity()
