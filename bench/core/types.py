"""The small interfaces every part of the suite speaks: samples, attributes, methods, metrics.

Conventions used everywhere in frbench
--------------------------------------
* Images handed between the harness and plug-ins are ``torch.Tensor`` batches ``[B, 3, H, W]``,
  ``float32``, RGB, values in ``[0, 1]``.  Decoded files are ``numpy.uint8`` arrays ``[H, W, 3]``.
* Gender is coded ``0 = female, 1 = male`` (the FFHQ-Aging / DebiasFR label convention,
  ``docs/protocols/evaluation.md`` §1.1).  Datasets with another convention (UTKFace: 0 = male)
  convert when they parse.
* Age bins are the ten FFHQ-Aging groups used by DebiasFR, in this index order:
  ``0-2, 3-6, 7-9, 10-14, 15-19, 20-29, 30-39, 40-49, 50-69, 70-120``
  (LATS ``datasets/create_dataset.py``; DebiasFR ``ffhq_degradation_dataset.py``).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, Mapping, Protocol, Sequence, Union, runtime_checkable

import numpy as np

#: Age-bin edges (inclusive lower, inclusive upper, in whole years) of the FFHQ-Aging groups.
AGE_BINS: tuple[tuple[int, int], ...] = (
    (0, 2), (3, 6), (7, 9), (10, 14), (15, 19), (20, 29), (30, 39), (40, 49), (50, 69), (70, 120),
)
AGE_BIN_LABELS: tuple[str, ...] = tuple(f"{lo}-{hi}" for lo, hi in AGE_BINS)
GENDER_LABELS: tuple[str, ...] = ("female", "male")


def age_to_bin(age_years: float) -> int:
    """Index (0..9) of the FFHQ-Aging age group holding ``age_years``.

    Total: anything but a finite real number ``>= 0`` raises ``ValueError`` with a short cause, never
    another exception. Accepted: ``int``, ``float``, numpy integer/floating scalars and 0-d arrays.
    Refused: ``None``, ``bool`` (``True`` is not an age), text (parse it first:
    :func:`bench.data.datasets._common.parse_age`), NaN, infinities, negative ages and integers too large
    for a float. Ages are floored to whole years first (a 2.7-year-old is in ``0-2``); ages above 120
    fall in the last group (classifier predictions may overshoot; label files are range-checked by the
    dataset parsers before they get here).
    """
    import math
    import numbers

    value = age_years
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"age must be a number of years, got {type(value).__name__}")
    try:
        number = float(value)
    except (OverflowError, TypeError, ValueError):
        raise ValueError(f"age must be a finite number of years, got a {type(value).__name__} too large "
                         "for a float") from None
    if not math.isfinite(number):
        raise ValueError(f"age must be a finite number of years, got {number!r}")
    if number < 0:
        raise ValueError(f"age must be >= 0 years, got {number!r}")
    whole = math.floor(number)
    for index, (_, hi) in enumerate(AGE_BINS):
        if whole <= hi:
            return index
    return len(AGE_BINS) - 1


def age_bin_from_label(label: str) -> int:
    """Index of an FFHQ-Aging group given its label such as ``"20-29"`` (surrounding spaces ignored).

    Total: anything else (another spelling, a non-string) raises ``ValueError`` naming at most the first
    40 characters of the label.
    """
    if not isinstance(label, str):
        raise ValueError(f"age group label must be text such as '20-29', got {type(label).__name__}")
    text = label.strip()
    if text in AGE_BIN_LABELS:
        return AGE_BIN_LABELS.index(text)
    shown = repr(text) if len(text) <= 40 else f"{text[:40]!r}... ({len(text)} characters)"
    raise ValueError(f"unknown age group {shown}; expected one of {', '.join(AGE_BIN_LABELS)}")


@dataclass(frozen=True)
class Attributes:
    """Demographic attributes of one face, where the dataset has them.

    ``age``: years (float, may be fractional or apparent age); ``age_bin``: FFHQ-Aging group index
    0..9 (derived from ``age`` when only the age is known); ``gender``: 0 = female, 1 = male;
    ``extra``: any other dataset-specific labels (race, CelebA ``Young``, face score, ...).
    """

    age: float | None = None
    age_bin: int | None = None
    gender: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.age is not None and self.age_bin is None:
            object.__setattr__(self, "age_bin", age_to_bin(self.age))
        if self.gender is not None and self.gender not in (0, 1):
            raise ValueError(f"gender must be 0 (female) or 1 (male), got {self.gender!r}")
        if self.age_bin is not None and not 0 <= self.age_bin < len(AGE_BINS):
            raise ValueError(f"age_bin must be in 0..{len(AGE_BINS) - 1}, got {self.age_bin!r}")

    def to_dict(self) -> dict[str, Any]:
        out = {"age": self.age, "age_bin": self.age_bin, "gender": self.gender}
        out.update({k: v for k, v in dict(self.extra).items()})
        return out

    @property
    def empty(self) -> bool:
        return self.age is None and self.age_bin is None and self.gender is None and not self.extra


#: Where an image comes from: a file path, an already decoded ``uint8 [H, W, 3]`` RGB array, or a
#: zero-argument callable that renders one on demand (procedural datasets; keeps memory flat).
ImageSource = Union[Path, np.ndarray, Callable[[], np.ndarray]]


@dataclass
class Sample:
    """One face of a dataset.

    ``hq`` is the high-quality ground truth (``None`` for captured-LQ sets such as IMDB or COX);
    ``lq`` is a captured low-quality image (``None`` when the harness synthesises the LQ from the HQ).
    Images are given as sources and decoded once by the runner (see :mod:`bench.core.imageio`).
    ``meta`` holds anything else worth recording (file names, face score, camera, ...).
    """

    id: str
    hq: ImageSource | None = None
    lq: ImageSource | None = None
    attributes: Attributes = field(default_factory=Attributes)
    meta: dict[str, Any] = field(default_factory=dict)

    def describe_source(self, which: str) -> str:
        src = getattr(self, which)
        if src is None:
            return "<none>"
        if isinstance(src, np.ndarray) or callable(src):
            return f"<in-memory {which} of sample {self.id}>"
        return str(src)


@dataclass(frozen=True)
class DatasetIssue:
    """A problem found while indexing a dataset (e.g. a malformed file name); reported, never fatal."""

    path: str
    reason: str


class Dataset:
    """Base class of datasets: an ordered, re-iterable collection of :class:`Sample`.

    Subclasses set ``name``, ``description`` and ``has_hq`` and implement :meth:`index` (a cheap list of
    samples with image *paths*, no decoding).  The order is deterministic (sorted by id) so that
    ``--limit N`` and resumed runs see the same samples.  Problems found while indexing (malformed
    names, missing labels) go to :attr:`issues` instead of raising.
    """

    name: ClassVar[str] = "dataset"
    description: ClassVar[str] = ""
    #: where the data comes from (paper: ``citation``) and its terms of use, declared on each dataset class
    citation: ClassVar[str] = ""
    licence: ClassVar[str] = ""
    #: True when samples carry an HQ image (full-reference metrics possible).
    has_hq: ClassVar[bool] = True
    #: True when the images are not real photographs (shown in every table).
    synthetic: ClassVar[bool] = False

    def __init__(self, root: str | Path | None = None, **options: Any) -> None:
        self.root = Path(root) if root is not None else None
        self.options = options
        self.issues: list[DatasetIssue] = []
        self._samples: list[Sample] | None = None

    # -- to implement -------------------------------------------------------------------------
    def index(self) -> list[Sample]:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- shared behaviour ---------------------------------------------------------------------
    @property
    def samples(self) -> list[Sample]:
        if self._samples is None:
            samples = self.index()
            ids = [s.id for s in samples]
            if len(set(ids)) != len(ids):
                raise ValueError(f"dataset {self.name}: sample ids are not unique")
            self._samples = samples
        return self._samples

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)

    def describe(self) -> dict[str, Any]:
        """What identifies this dataset in a run record and in table captions."""
        return {
            "name": self.name,
            "root": str(self.root) if self.root is not None else None,
            "options": {k: v for k, v in sorted(self.options.items())},
            "synthetic": self.synthetic,
        }

    def require_root(self) -> Path:
        if self.root is None:
            raise ValueError(f"dataset '{self.name}' needs --root PATH (the folder holding its files)")
        if not self.root.exists():
            raise FileNotFoundError(f"dataset '{self.name}': root folder {self.root} does not exist")
        return self.root


@runtime_checkable
class Method(Protocol):
    """A restoration method.

    ``restore(lq, attributes, out_size)`` maps an LQ batch ``[B, 3, h, w]`` in ``[0, 1]`` to a restored
    batch ``[B, 3, H, W]`` in ``[0, 1]`` with ``(H, W) = out_size`` (the HQ size, or the method's own
    output size when ``out_size`` is ``None``).  ``attributes`` is one :class:`Attributes` per image
    when the method uses attributes (``uses_attributes``), else ignored.
    """

    name: str
    uses_attributes: bool
    #: one line for ``bench list``, the paper / official repository followed, the licence of code and weights
    description: str
    citation: str
    licence: str

    def restore(self, lq, attributes: Sequence[Attributes] | None = None, out_size: tuple[int, int] | None = None): ...

    def describe(self) -> dict[str, Any]: ...


#: The direction of a stored output: larger is better, smaller is better, or informational (a count, a
#: signed shift, a property of the HQ set, an audit value): no arrow and never bold in a table, never
#: sign-flipped by a correlation study.
DIRECTIONS: tuple[str, ...] = ("higher", "lower", "info")


def output_direction(metric: Any, key: str = "value") -> str:
    """Direction of output ``key`` of ``metric`` (``"value"`` = the metric itself), from its declaration.

    A metric declares its outputs in ONE place, the class attribute ``outputs``: a mapping from an output
    key (shell patterns allowed: ``"*.n"``, ``"floor_*"``) to ``"higher"``, ``"lower"`` or ``"info"``.  The
    first matching pattern wins, in declaration order.  ``"value"`` defaults to ``higher_is_better``; any
    other key that no pattern matches is ``"info"`` (never guessed from the metric's own direction).
    Interval bounds ``<key>_lo`` / ``<key>_hi`` take the direction of ``<key>``.
    """
    import fnmatch

    for suffix in ("_lo", "_hi"):
        if key.endswith(suffix) and key != suffix:
            key = key[: -len(suffix)]
            break
    for pattern, direction in dict(getattr(metric, "outputs", None) or {}).items():
        if fnmatch.fnmatchcase(key, pattern):
            if direction not in DIRECTIONS:
                raise ValueError(f"metric {getattr(metric, 'name', metric)!r}: output {pattern!r} has direction "
                                 f"{direction!r}; expected one of {', '.join(DIRECTIONS)}")
            return direction
    if key in ("value", getattr(metric, "name", None)):
        return "higher" if getattr(metric, "higher_is_better", True) else "lower"
    return "info"


class ComponentInfo:
    """What every registered component declares about itself, in one place (class attributes).

    ``description``: one line for ``bench list`` (the registry reads it; nothing repeats it elsewhere);
    ``citation``: the paper and/or official implementation it follows; ``licence``: of the code and of
    any parameters it loads (the asset manifest has the details of each file).  Metrics add their
    direction (``higher_is_better`` and ``outputs``), ``unit`` and ``value_range``; methods
    ``uses_attributes``; datasets ``has_hq``.  ``tests/test_component_contract.py`` walks every
    registered name and checks these declarations.
    """

    description: ClassVar[str] = ""
    citation: ClassVar[str] = ""
    licence: ClassVar[str] = ""


class MetricInfo(ComponentInfo):
    """Declarations shared by per-image and set-level metrics (see :class:`ComponentInfo`).

    ``value_range``: the interval the metric's value lies in (``(0, inf)`` for PSNR in dB...);
    ``leaderboard_headline``: result keys shown in the Markdown leaderboard (set-level metrics with many
    keys; default: ``value``); ``leaderboard_counts``: keys shown as plain counts (patterns allowed);
    ``leaderboard_hidden``: audit outputs kept out of the Markdown table (they stay in the CSV).
    """

    name: ClassVar[str] = "metric"
    higher_is_better: ClassVar[bool] = True
    needs_reference: ClassVar[bool] = True
    unit: ClassVar[str] = ""
    value_range: ClassVar[tuple[float, float]] = (float("-inf"), float("inf"))
    #: direction of each output key (see :func:`output_direction`); ``value`` follows ``higher_is_better``
    outputs: ClassVar[Mapping[str, str]] = {}
    leaderboard_headline: ClassVar[tuple[str, ...]] = ()
    leaderboard_counts: ClassVar[tuple[str, ...]] = ()
    leaderboard_hidden: ClassVar[bool] = False

    def prepare(self) -> None:
        """Load whatever the metric loads lazily (networks, parameter files); called by the runner before
        the run identity is taken, so that every file the metric reads is in it."""


class PerImageMetric(MetricInfo):
    """A metric with one value per image: ``metric(restored, reference) -> [B]`` float64 tensor.

    ``restored`` and ``reference`` are ``[B, 3, H, W]`` RGB tensors, either ``uint8`` (0..255) or float
    in ``[0, 1]``.  The runner passes ``uint8`` tensors: the restored output quantised to 8 bits, as if it
    had been saved as PNG and re-read, and the decoded HQ, shared by every metric (use
    :func:`bench.core.types.as_float01` when a metric wants floats).  Subclasses set ``name``,
    ``higher_is_better``, ``needs_reference`` and a ``unit`` for tables.

    Extra per-image outputs (optional): a metric may declare ``extra_outputs = ("flat_share", ...)`` and
    implement ``details(restored, reference) -> {"value": [B], "flat_share": [B], ...}``.  The runner then
    calls ``details`` once instead of ``__call__`` and stores each extra as its own score column named
    ``<metric>.<extra>`` (e.g. ``niqe.flat_share``); ``__call__`` keeps returning the ``[B]`` values.
    The direction of every extra is declared in ``outputs`` (:func:`output_direction`; undeclared extras
    are informational).
    """

    #: a no-reference metric that can use the HQ when the dataset has one sets this to True
    uses_reference: ClassVar[bool] = False
    #: names of extra per-image columns returned by ``details`` (none by default)
    extra_outputs: ClassVar[tuple[str, ...]] = ()
    #: smallest image side (pixels, for H and W) the metric is defined on: its window or block (SSIM 11,
    #: NIQE 96, BRISQUE 14); 1 when it has none.  The runner records a per-image error naming this limit for
    #: a smaller image instead of computing a value (:func:`min_input_side`).
    min_size: ClassVar[int] = 1

    def __call__(self, restored, reference=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def min_side(self) -> int:
        """Smallest H and W this instance accepts: ``min_size`` (metrics that crop a border add it)."""
        return int(self.min_size)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "higher_is_better": self.higher_is_better,
                "needs_reference": self.needs_reference, "unit": self.unit,
                "options": {k: v for k, v in vars(self).items() if not k.startswith("_")}}


def min_input_side(metric: Any) -> int:
    """Smallest image side ``metric`` is defined on (:meth:`PerImageMetric.min_side`; 1 for a plug-in that
    declares nothing)."""
    side = getattr(metric, "min_side", None)
    return max(1, int(side() if callable(side) else getattr(metric, "min_size", 1)))


#: Sides of a per-image vector of a set-level metric: computed from the restored image (stored per run)
#: or from the HQ image (stored once per HQ content and channel, shared by every run and method).
VECTOR_SIDES: tuple[str, ...] = ("restored", "reference")


class SetMetric(MetricInfo):
    """A metric over a whole set (FID, attribute error, fairness ...), recomputable on any subset.

    A set-level metric is split in two, so that the store keeps per-image rows and any subset of a run's
    samples (e.g. the faces every method of a table restored) gives its exact value:

    1. **Per-image vectors** (networks, in the runner): :meth:`restored_vectors` and
       :meth:`reference_vectors` map a batch to ``{name: array [B, ...]}`` (Inception features, attribute
       predictions...).  :meth:`channels` names, for each vector, its side (``"restored"`` or
       ``"reference"``) and a *channel key* that determines its values completely (extractor, weights
       sha256, resize...): vectors of the same channel are stored once, and reference vectors once per HQ
       image content, whatever the run or method.
    2. **Aggregation** (numpy only, no network): :meth:`fold` turns the vectors of a chunk of samples into
       a mergeable state (sums, counts, bounded samples), :meth:`merge` adds states, :meth:`compute` gives
       the values.  The store never holds a running state: bytes written per batch do not grow with the
       set, and the result on any subset is ``compute(merge(fold(chunk) for chunk in subset))``.

    :meth:`partial` (= ``fold`` of freshly computed vectors) is kept for direct use.  Constructing a set
    metric must not load a network (the leaderboard builds one to aggregate stored vectors); networks
    load in :meth:`prepare` or on first use.
    """

    name: ClassVar[str] = "set-metric"

    # -- per-image vectors (networks) ------------------------------------------------------------------
    def channels(self) -> dict[str, tuple[str, str]]:
        """``{vector name: (side, channel key)}``; the default is one restored-side vector ``"v"``."""
        import hashlib
        import json

        digest = hashlib.sha256(json.dumps(self.describe(), sort_keys=True, default=str).encode()).hexdigest()[:16]
        return {"v": ("restored", f"{self.name}/{digest}")}

    def restored_vectors(self, restored, samples: Sequence[Sample]) -> dict[str, np.ndarray]:  # pragma: no cover
        """Vectors of the restored side: ``{name: [B, ...]}`` for every restored-side channel."""
        raise NotImplementedError

    def reference_vectors(self, reference, samples: Sequence[Sample]) -> dict[str, np.ndarray]:
        """Vectors of the HQ side (a function of the HQ image alone): ``{name: [B, ...]}``."""
        return {}

    # -- aggregation (numpy) ---------------------------------------------------------------------------
    def fold(self, vectors: Mapping[str, np.ndarray], samples: Sequence[Sample]) -> dict[str, np.ndarray]:  # pragma: no cover
        """Mergeable state of a chunk of samples from their vectors (rows in the order of ``samples``)."""
        raise NotImplementedError

    def partial(self, restored, reference, samples: Sequence[Sample]) -> dict[str, np.ndarray]:
        """State of one batch of images: ``fold`` of its freshly computed vectors."""
        vectors = dict(self.restored_vectors(restored, samples))
        if reference is not None:
            vectors.update(self.reference_vectors(reference, samples))
        return self.fold(vectors, samples)

    @staticmethod
    def merge(states: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """Element-wise sum of partial states (override for states that are not plain sums)."""
        merged: dict[str, np.ndarray] = {}
        for state in states:
            for key, value in state.items():
                merged[key] = merged[key] + value if key in merged else np.array(value, copy=True)
        return merged

    def compute(self, state: Mapping[str, np.ndarray]) -> dict[str, float]:  # pragma: no cover
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "higher_is_better": self.higher_is_better,
                "needs_reference": self.needs_reference, "unit": self.unit, "set_level": True}


def as_float01(images, dtype=None):
    """A ``[B, 3, H, W]`` image tensor as float in ``[0, 1]`` (``uint8`` is divided by 255)."""
    import torch

    dtype = dtype or torch.float32
    if images.dtype == torch.uint8:
        return images.to(dtype).div_(255.0)
    return images.to(dtype)


def replace(obj, **changes):
    """``dataclasses.replace`` re-exported for plug-ins."""
    return dataclasses.replace(obj, **changes)
