"""One run configuration: the fields of ``bench run``, ``bench.api.run`` and :class:`~bench.harness.runner.Runner`.

:class:`RunConfig` is the only place where the options of a run are listed.  Its defaults come from
:data:`bench.core.defaults.DEFAULTS`; the command line builds its ``bench run`` flags from the fields'
metadata (:func:`cli_fields`), the Python API and the runner take the same names as keywords, and a
study file's cells are RunConfigs too.  An unknown option is a :class:`~bench.core.errors.ConfigurationError`
with a "did you mean" suggestion.

Values are checked when a RunConfig is made (:meth:`RunConfig.validate`), before anything is built or
written, whichever way the options came (command line, API, study file): seeds are integers in
0 .. 2**63-1 (the range the seeded permutation and the degradations accept), counts (``limit``,
``batch_size``, ``workers``, ``shard_size``, ``ray_workers``, ``max_pixels``) integers >= 1; a wrong value is a
ConfigurationError naming the option and its flag, never a traceback or a run of error rows.
"""
from __future__ import annotations

import dataclasses
import difflib
import numbers
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

from bench.core.defaults import DEFAULTS
from bench.core.errors import ConfigurationError


def _opt(default: Any, help: str, *flags: str, kind: str = "value", metavar: str | None = None,
         choices: Sequence[str] | None = None, parse: str | None = None) -> Any:
    """A field with its command-line description (``flags``: first the long flag; none = API only)."""
    meta = {"help": help, "flags": flags, "kind": kind, "metavar": metavar, "choices": choices, "parse": parse}
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class RunConfig:
    """Everything that defines one ``bench run`` (see each field's help; defaults: ``bench.core.defaults``)."""

    method: Any = _opt(DEFAULTS["method"], "restoration method (see `bench list methods`)", "--method")
    dataset: Any = _opt(DEFAULTS["dataset"], "dataset (see `bench list datasets`)", "--dataset")
    root: Any = _opt(DEFAULTS["root"], "folder holding the dataset's files", "--root")
    metrics: Any = _opt(None, f"comma-separated metrics (see `bench list metrics`); None: "
                              f"{','.join(DEFAULTS['metrics'])} when the dataset has HQ images", "--metrics")
    degradation: Any = _opt(None, f"how the LQ is synthesised from the HQ (see `bench list degradations`; None: "
                                  f"{DEFAULTS['degradation']}); not used when the dataset provides captured LQ "
                                  f"images", "--degradation")
    align: str = _opt(DEFAULTS["align"], "alignment protocol step: ffhq re-aligns each HQ face to the FFHQ 512 template "
                                       "(dlib landmarks) before the LQ is synthesised; auto: ffhq for methods expecting "
                                       "FFHQ-aligned faces on datasets framed otherwise; none: faces as the dataset "
                                       "frames them", "--align", choices=("auto", "ffhq", "none"))
    limit: int | None = _opt(DEFAULTS["limit"], "use only N samples: the first N of one seeded permutation of the "
                                                "dataset's ids (the same for every method, nested: a larger limit "
                                                "extends the run)", "--limit", parse="positive")
    subset: str = _opt(DEFAULTS["subset"], "order --limit takes samples in: random (seeded permutation) or first "
                                           "(name order, not a random sample)", "--subset", choices=("random", "first"))
    subset_seed: int | None = _opt(None, "seed of the sample permutation (None: the run's --seed)", "--subset-seed",
                                   metavar="SEED", parse="seed")
    seed: int = _opt(DEFAULTS["seed"], "run seed (degradation and method noise)", "--seed", parse="seed")
    store: Any = _opt(DEFAULTS["store"], "SQLite results store", "--store")
    out: Any = _opt(DEFAULTS["out"], "folder for restored images (with --save-images)", "--out")
    save_images: bool = _opt(DEFAULTS["save_images"], "save restored images as PNG under OUT/restored/",
                             "--save-images", kind="flag")
    batch_size: int = _opt(DEFAULTS["batch_size"], "images per batch", "--batch-size", parse="positive")
    device: str = _opt(DEFAULTS["device"], "torch device (cpu, cuda, cuda:1, ...)", "--device")
    workers: int = _opt(DEFAULTS["workers"], "image decoding threads", "--workers", parse="positive")
    max_pixels: int = _opt(DEFAULTS["max_pixels"], "largest input image in pixels (W*H, read from the file's header): "
                                                   "a larger one is refused before decoding, as a per-image error",
                           "--max-pixels", metavar="N", parse="positive")
    dataset_options: dict = _opt({}, "dataset option, repeatable (e.g. -D split=test, -D n=256 for synthetic)",
                                 "--dataset-option", "-D", kind="key_value", metavar="KEY=VALUE")
    method_options: dict = _opt({}, "method option, repeatable", "--method-option", "-M", kind="key_value",
                                metavar="KEY=VALUE")
    metric_options: dict = _opt({}, "metric option, repeatable (e.g. -X ifqa.weights=ifqa.pth)", "--metric-option",
                                "-X", kind="metric_key_value", metavar="METRIC.KEY=VALUE")
    progress: bool = _opt(True, "progress bar", "--no-progress", kind="negated_flag")
    executor: Any = _opt(DEFAULTS["executor"], "where images are processed: this process, or Ray actors (pip "
                                               "install 'frbench[ray]'); the driver alone writes the store",
                         "--executor", choices=("local", "ray"))
    ray_address: str | None = _opt(DEFAULTS["ray_address"], "--executor ray: 'auto' or HOST:PORT of an existing Ray "
                                                             "cluster; None: start Ray on this machine", "--address")
    ray_workers: int | None = _opt(DEFAULTS["ray_workers"], "--executor ray: worker actors (None: one per free CPU, "
                                                            "per GPU with --device cuda)", "--ray-workers",
                                   metavar="N", parse="positive")
    shard_size: int | None = _opt(DEFAULTS["shard_size"], f"--executor ray: samples per task, rounded up to a multiple "
                                                          f"of --batch-size (None: {DEFAULTS['ray_shard_batches']} "
                                                          f"batches)", "--shard-size", metavar="N", parse="positive")

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Refuse a value no run can use (see the module documentation), naming the option and its flag."""
        for name, (low, high, optional) in _INTEGER_OPTIONS.items():
            value = getattr(self, name)
            if value is None and optional:
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
                flags = RunConfig.__dataclass_fields__[name].metadata.get("flags") or ()
                bounds = f"in {low} .. 2**63-1" if name.endswith("seed") else f">= {low}"
                raise ConfigurationError(f"option {name}{f' ({flags[0]})' if flags else ''} must be an integer "
                                         f"{bounds}{' (or None)' if optional else ''}, got {value!r}")
            setattr(self, name, int(value))

    @classmethod
    def from_options(cls, **options: Any) -> "RunConfig":
        """A configuration from keyword options; an unknown name is a clear error with a suggestion."""
        known = [f.name for f in dataclasses.fields(cls)]
        for key in options:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ConfigurationError(f"unknown run option {key!r}.{hint} Options: {', '.join(known)}")
        return cls(**options)

    def replace(self, **changes: Any) -> "RunConfig":
        return dataclasses.replace(self, **changes)

    def as_options(self) -> dict[str, Any]:
        """The fields as keyword options (shallow: method and dataset objects are kept as they are)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


_MAX_SEED = 2 ** 63 - 1
_MAX_COUNT = 2 ** 63 - 1  # an upper bound only for the comparison
#: integer options checked by :meth:`RunConfig.validate`: name -> (lowest, highest, None allowed)
_INTEGER_OPTIONS: dict[str, tuple[int, int, bool]] = {
    "seed": (0, _MAX_SEED, False), "subset_seed": (0, _MAX_SEED, True), "limit": (1, _MAX_COUNT, True),
    "batch_size": (1, _MAX_COUNT, False), "workers": (1, _MAX_COUNT, False), "shard_size": (1, _MAX_COUNT, True),
    "ray_workers": (1, _MAX_COUNT, True), "max_pixels": (1, _MAX_COUNT, False),
}


def cli_fields() -> Iterator[tuple[dataclasses.Field, Mapping[str, Any]]]:
    """The fields of :class:`RunConfig` that have command-line flags, with their metadata."""
    for f in dataclasses.fields(RunConfig):
        if f.metadata.get("flags"):
            yield f, f.metadata
