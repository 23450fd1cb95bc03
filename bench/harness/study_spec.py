"""Study files: a grid of ordinary runs (datasets x degradations x methods) described in one YAML file.

A study file (read with ``yaml.safe_load``; nothing in it is executed)::

    name: utkface-small                 # required
    description: one line               # optional
    seed: 0                             # optional run options, shared by every cell:
    limit: 500                          #   seed, limit, subset, subset_seed, batch_size
    datasets:                           # required, non-empty
      - name: utkface                   # a registered dataset (`bench list datasets`)
        root: ${UTKFACE_ROOT}           # ~ and $VARS expanded (an unset variable is an error);
                                        #   a relative root is relative to the CURRENT directory
        options: {split: all}           # dataset options (`-D KEY=VALUE` of `bench run`)
        degradations: [x4, x8]          # required; [none] for a captured-LQ dataset (imdb, cox)
        metrics: [niqe, attr]           # optional: replaces the study's metrics for this dataset
    methods:                            # required, non-empty
      - name: debiasfr
        label: debiasfr-labels          # optional: the row name in the study summary (unique)
        options: {preset: small}        # method options (`-M KEY=VALUE`)
        attributes: labels              # optional: same as options.attributes (`--attributes`)
    metrics: [psnr, ssim]               # optional (default: the run default, psnr and ssim)
    metric_options: {fid: {reference: hq}}   # per metric (`-X METRIC.KEY=VALUE`), given to the cells computing it

The cells are ``datasets x degradations x methods`` in file order; each is one :class:`RunConfig`.

Validation (:func:`check_study`) runs over the WHOLE file before any cell and returns every problem, one
line each, naming the file and the key: the schema (unknown keys with suggestions, wrong types),
unknown dataset / method / metric / degradation names ("did you mean", from the registries), unset
environment variables, missing roots, datasets that cannot be indexed, metrics that need HQ images on a
captured-LQ dataset, and missing pretrained files.  Pretrained files are checked without loading them:
each method and metric is constructed (and ``prepare``\\ d) with :meth:`AssetManager.path` replaced by a
probe that records the first asset asked for and stops construction there (nothing is fetched or
loaded); an asset is present when it is in the cache or given by its ``FRBENCH_ASSET_<NAME>`` variable.
A method given an explicit ``weights``/``predictor_weights`` file is not constructed: the file must exist.
Limit of the probe: only the FIRST asset a component asks for is checked; a later one missing (e.g. the
second network of psfrgan) fails its cells when they start, which does not stop the other cells.
"""
from __future__ import annotations

import contextlib
import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import yaml

from bench.core.defaults import DEFAULTS
from bench.core.errors import ConfigurationError
from bench.core.registry import DATASETS, DEGRADATIONS, METHODS, METRICS, UnknownNameError
from bench.harness.config import RunConfig
from bench.harness.selection import SUBSET_ORDERS

TOP_KEYS = ("name", "description", "seed", "limit", "subset", "subset_seed", "batch_size", "datasets", "methods",
            "metrics", "metric_options")
DATASET_KEYS = ("name", "root", "options", "degradations", "metrics")
METHOD_KEYS = ("name", "label", "options", "attributes")
#: the study-level run options shared by every cell (RunConfig fields)
RUN_KEYS = ("seed", "limit", "subset", "subset_seed", "batch_size")
#: method options naming a weights file: such a method is not constructed by the validation, the file must exist
WEIGHT_OPTIONS = ("weights", "predictor_weights")
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


class StudyError(ConfigurationError):
    """A study file that cannot run: every problem found, one line each (``problems``)."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source, self.problems = source, list(problems)
        super().__init__(f"study {source}: {len(self.problems)} problem(s), nothing was run:\n  "
                         + "\n  ".join(self.problems))


@dataclass(frozen=True)
class DatasetEntry:
    index: int
    name: str
    root: str | None  # expanded and absolute; None: no root given
    root_text: str | None  # as written in the file
    options: Mapping[str, Any]
    degradations: tuple[str, ...]
    metrics: tuple[str, ...] | None
    unset: tuple[str, ...] = ()  # environment variables of root_text that are not set (then root is None)

    @property
    def key(self) -> str:
        return f"datasets[{self.index}] ({self.name})"


@dataclass(frozen=True)
class MethodEntry:
    index: int
    name: str
    label: str
    options: Mapping[str, Any]  # with ``attributes`` folded in

    @property
    def key(self) -> str:
        return f"methods[{self.index}] ({self.label})"


@dataclass(frozen=True)
class Cell:
    """One run of the grid."""

    index: int
    dataset: DatasetEntry
    degradation: str
    method: MethodEntry
    metrics: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.dataset.name}/{self.degradation}/{self.method.label}"


@dataclass
class Study:
    """A parsed study file (see the module documentation)."""

    name: str
    source: str
    description: str = ""
    settings: dict[str, Any] = field(default_factory=dict)  # RUN_KEYS given in the file
    datasets: list[DatasetEntry] = field(default_factory=list)
    methods: list[MethodEntry] = field(default_factory=list)
    metrics: tuple[str, ...] = tuple(DEFAULTS["metrics"])
    metric_options: dict[str, dict[str, Any]] = field(default_factory=dict)

    def cells(self) -> list[Cell]:
        cells = []
        for dataset in self.datasets:
            for degradation in dataset.degradations:
                for method in self.methods:
                    cells.append(Cell(len(cells), dataset, degradation, method, dataset.metrics or self.metrics))
        return cells

    def run_options(self, cell: Cell, **overrides: Any) -> dict[str, Any]:
        """The :class:`RunConfig` options of ``cell`` (``overrides``: store, out, executor, device...)."""
        options = {**self.settings, "method": cell.method.name, "method_options": dict(cell.method.options),
                   "dataset": cell.dataset.name, "root": cell.dataset.root,
                   "dataset_options": dict(cell.dataset.options), "degradation": cell.degradation,
                   "metrics": list(cell.metrics),
                   "metric_options": {m: dict(o) for m, o in self.metric_options.items() if m in cell.metrics}}
        options.update({k: v for k, v in overrides.items() if v is not None})
        return options


# ---------------------------------------------------------------------------------------------- parsing
def read_study(path: str | Path, roots: Mapping[str, str] | None = None,
               limit: int | None = None) -> tuple[Study | None, list[str]]:
    """Parse ``path``: the study (None when unusable) and its schema problems (one line each).

    ``roots``: ``{dataset name: root}`` overriding the file's roots (``--root DATASET=PATH``); ``limit``:
    overrides the file's ``limit``."""
    source = str(path)
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        return None, [f"{source}: cannot read the study file: {exc.strerror or exc}"]
    except yaml.YAMLError as exc:
        return None, [f"{source}: not valid YAML: {' '.join(str(exc).split())}"]
    return parse_study(data, source, roots=roots, limit=limit)


def parse_study(data: Any, source: str, roots: Mapping[str, str] | None = None,
                limit: int | None = None) -> tuple[Study | None, list[str]]:
    """The study of an already loaded YAML document (see :func:`read_study`)."""
    problems: list[str] = []

    def problem(key: str, message: str) -> None:
        problems.append(f"{source}: {key}: {message}")

    if not isinstance(data, dict):
        return None, [f"{source}: the study file must be a mapping with keys {', '.join(TOP_KEYS)}, "
                      f"got {type(data).__name__}"]
    _unknown_keys(data, TOP_KEYS, "", problem)
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        problem("name", f"required: a non-empty string naming the study, got {name!r}")
        name = Path(source).stem
    description = data.get("description") or ""
    if not isinstance(description, str):
        problem("description", f"must be a string, got {type(description).__name__}")
        description = ""
    settings = {key: data[key] for key in RUN_KEYS if key in data}
    if limit is not None:
        settings["limit"] = limit
    for key, value in settings.items():
        if key == "subset":
            if value not in SUBSET_ORDERS:
                problem(key, f"must be one of {', '.join(SUBSET_ORDERS)}, got {value!r}")
            continue
        try:
            RunConfig(**{key: value})
        except ConfigurationError as exc:
            problem(key, str(exc))
    metrics = _metric_list(data.get("metrics"), "metrics", problem)
    metric_options = {str(k).lower(): v for k, v in _mapping(data.get("metric_options"), "metric_options",
                                                              problem).items()}
    for metric, opts in list(metric_options.items()):
        if not isinstance(opts, dict):
            problem(f"metric_options.{metric}", f"must be a mapping of option: value, got {type(opts).__name__}")
            metric_options.pop(metric)
    study = Study(name=name.strip(), source=source, description=description, settings=settings,
                  metrics=metrics or tuple(DEFAULTS["metrics"]), metric_options=metric_options)
    study.datasets = [d for i, item in enumerate(_entries(data, "datasets", problem))
                      if (d := _dataset(i, item, problem, roots or {})) is not None]
    study.methods = [m for i, item in enumerate(_entries(data, "methods", problem))
                     if (m := _method(i, item, problem)) is not None]
    for name_, root in (roots or {}).items():
        if name_ not in {d.name for d in study.datasets}:
            problems.append(f"{source}: --root {name_}=...: the study has no dataset {name_!r} (its datasets: "
                            f"{', '.join(d.name for d in study.datasets) or '(none)'})")
    labels = [m.label for m in study.methods]
    for label in sorted({x for x in labels if labels.count(x) > 1}):
        problem("methods", f"label {label!r} is used {labels.count(label)} times: give each entry a distinct label")
    used = set(study.metrics).union(*(d.metrics or () for d in study.datasets))
    for metric in sorted(set(metric_options) - used):
        problem(f"metric_options.{metric}", f"no dataset of the study computes metric {metric!r} "
                                            f"(metrics: {', '.join(sorted(used))})")
    seen: dict[tuple, int] = {}
    for d in study.datasets:
        identity = (d.name, d.root, repr(sorted(d.options.items())))
        if identity in seen:
            problem(f"datasets[{d.index}]", f"same dataset, root and options as datasets[{seen[identity]}]: "
                                            f"merge their degradations")
        seen.setdefault(identity, d.index)
    return study, problems


def _unknown_keys(item: Mapping, known: Sequence[str], prefix: str, problem) -> None:
    for key in item:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            problem(f"{prefix}{key}", f"unknown key.{hint} Known keys: {', '.join(known)}")


def _mapping(value: Any, key: str, problem) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problem(key, f"must be a mapping, got {type(value).__name__}")
        return {}
    return dict(value)


def _metric_list(value: Any, key: str, problem) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [v for v in value.split(",")]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        problem(key, f"must be a non-empty list of metric names, got {value!r}")
        return None
    return tuple(v.strip().lower() for v in value)


def _entries(data: Mapping, key: str, problem) -> list[Any]:
    items = data.get(key)
    if not isinstance(items, list) or not items:
        problem(key, f"required: a non-empty list of {key[:-1]} entries, got {items!r}")
        return []
    return items


def _name(item: Any, key: str, problem) -> str | None:
    if isinstance(item, str):  # the short form: just the name
        item = {"name": item}
    if not isinstance(item, dict):
        problem(key, f"must be a mapping (name: ...), got {type(item).__name__}")
        return None
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        problem(f"{key}.name", f"required: a non-empty string, got {name!r}")
        return None
    return name.strip().lower()


def expand_root(text: str) -> tuple[str | None, list[str]]:
    """``text`` with ``~`` and ``$VAR``/``${VAR}`` expanded, made absolute (relative to the current
    directory); and the names of the variables it uses that are not set (then the root is None)."""
    unset = [a or b for a, b in _VARIABLE.findall(text) if (a or b) not in os.environ]
    if unset:
        return None, unset
    return os.path.abspath(os.path.expanduser(os.path.expandvars(text))), []


def _dataset(index: int, item: Any, problem, roots: Mapping[str, str]) -> DatasetEntry | None:
    key = f"datasets[{index}]"
    name = _name(item, key, problem)
    if name is None:
        return None
    item = item if isinstance(item, dict) else {"name": item}
    _unknown_keys(item, DATASET_KEYS, f"{key}.", problem)
    root_text = roots.get(name, item.get("root"))
    root, unset = None, []
    if root_text is not None:
        if not isinstance(root_text, str) or not root_text.strip():
            problem(f"{key}.root", f"must be a path string, got {root_text!r}")
            return None
        root, unset = expand_root(root_text)
        if unset:
            problem(f"{key}.root", f"missing: environment variable {', '.join(unset)} is not set (root {root_text!r})")
    options = _mapping(item.get("options"), f"{key}.options", problem)
    degradations = item.get("degradations")
    if not isinstance(degradations, list) or not degradations or \
            not all(isinstance(d, str) and d.strip() for d in degradations):
        problem(f"{key}.degradations", f"required: a non-empty list of degradation names (e.g. [x8]; [none] for a "
                                       f"captured-LQ dataset), got {degradations!r}")
        return None
    degradations = [d.strip().lower() for d in degradations]
    for d in sorted({d for d in degradations if degradations.count(d) > 1}):
        problem(f"{key}.degradations", f"{d!r} is listed twice")
    metrics = _metric_list(item.get("metrics"), f"{key}.metrics", problem)
    return DatasetEntry(index, name, root, root_text, options, tuple(dict.fromkeys(degradations)), metrics,
                        tuple(unset))


def _method(index: int, item: Any, problem) -> MethodEntry | None:
    key = f"methods[{index}]"
    name = _name(item, key, problem)
    if name is None:
        return None
    item = item if isinstance(item, dict) else {"name": item}
    _unknown_keys(item, METHOD_KEYS, f"{key}.", problem)
    options = _mapping(item.get("options"), f"{key}.options", problem)
    attributes = item.get("attributes")
    if attributes is not None:
        if "attributes" in options:
            problem(f"{key}.attributes", "given twice (also in options): keep one")
        elif not isinstance(attributes, str):
            problem(f"{key}.attributes", f"must be a string (predicted, top2, labels, none or weights like "
                                         f"'age=30-39;gender=female'), got {attributes!r}")
        else:
            options["attributes"] = attributes
    label = item.get("label")
    if label is not None and (not isinstance(label, str) or not label.strip()):
        problem(f"{key}.label", f"must be a non-empty string, got {label!r}")
        label = None
    if label is None:
        label = name + (f"[{options['attributes']}]" if "attributes" in options else "")
    return MethodEntry(index, name, label.strip(), options)


# ------------------------------------------------------------------------------------------- components
class _AssetRequested(BaseException):
    """Stops a probed construction at its first asset request (BaseException: no ``except Exception`` eats it)."""


@contextlib.contextmanager
def probe_assets(requests: list[tuple[str, str | None]]) -> Iterator[None]:
    """Within the block :meth:`AssetManager.path` records ``(asset, None if present else the reason)`` in
    ``requests`` and raises :class:`_AssetRequested` instead of fetching or returning the file.  A query
    for a missing asset with ``fetch=False`` (a component choosing a fallback) gets the usual
    :class:`~bench.core.assets.errors.AssetUnavailableError` and is not recorded."""
    from bench.core.assets.manager import AssetManager

    def probe(manager: AssetManager, name: str, fetch: bool = True) -> Path:
        spec = manager.spec(name)
        override = os.environ.get(spec.env_var)
        if override:
            missing = None if Path(override).expanduser().is_file() else f"${spec.env_var}={override} is not a file"
        else:
            target = manager.cache_path(name)
            missing = None if target.is_file() else (f"not in the asset cache ({target}): run `bench assets fetch "
                                                     f"{name}` (or set {spec.env_var}=PATH)")
        if missing and not fetch:  # a query ("is it cached?"): the caller handles the answer, e.g. a fallback
            return original(manager, name, fetch=False)  # raises AssetUnavailableError without fetching
        requests.append((name, missing))
        raise _AssetRequested(name)

    original = AssetManager.path
    AssetManager.path = probe  # type: ignore[method-assign]
    try:
        yield
    finally:
        AssetManager.path = original  # type: ignore[method-assign]


def _probe(where: str, build, problems: list[str]) -> Any:
    """``build()`` under :func:`probe_assets`: the object (None when stopped or failed); problems appended."""
    requests: list[tuple[str, str | None]] = []
    try:
        with probe_assets(requests):
            return build()
    except _AssetRequested:
        return None
    except Exception as exc:  # any refusal of the component is one problem line
        problems.append(f"{where}: {describe_error(exc)}")
        return None
    finally:
        for asset, missing in requests:
            if missing:
                problems.append(f"{where}: weights missing: asset {asset!r} {missing}")


def describe_error(exc: BaseException) -> str:
    """One line for an exception: its message (with its type unless it is a plain value/lookup/file error)."""
    text = " ".join((exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)).split())
    plain = isinstance(exc, (ValueError, KeyError, FileNotFoundError))
    return text if plain and text else f"{type(exc).__name__}: {text}"


def _known(registry, name: str, where: str, problems: list[str]) -> bool:
    try:
        registry.entry(name)
        return True
    except UnknownNameError as exc:
        problems.append(f"{where}: {exc}")
        return False


def check_study(study: Study, device: str = DEFAULTS["device"]) -> tuple[list[str], dict[int, int]]:
    """Every component problem of ``study`` (see the module documentation), and the number of samples of
    each dataset entry that could be indexed (by entry index)."""
    src = study.source
    problems: list[str] = []
    sizes: dict[int, int] = {}
    has_hq: dict[int, bool] = {}
    for d in study.datasets:
        where = f"{src}: {d.key}"
        known = _known(DATASETS, d.name, f"{src}: datasets[{d.index}].name", problems)
        for degradation in d.degradations:
            _known(DEGRADATIONS, degradation, f"{src}: datasets[{d.index}].degradations", problems)
        if not known or d.unset:  # an unset variable is a problem already
            continue
        if d.root is not None and not Path(d.root).exists():
            problems.append(f"{where}.root: missing: {d.root} does not exist"
                            + (f" (written {d.root_text!r}, relative to {os.getcwd()})"
                               if not os.path.isabs(os.path.expanduser(os.path.expandvars(d.root_text or ""))) else ""))
            continue
        try:
            dataset = DATASETS.build(d.name, root=d.root, **dict(d.options))
            sizes[d.index] = len(dataset.samples)
            has_hq[d.index] = bool(dataset.has_hq)
        except Exception as exc:
            text = describe_error(exc)
            if d.root is None:
                text = f"no root given (key root) and the dataset cannot be read without one: {text}"
            problems.append(f"{where}: {text}")
            continue
        if not has_hq[d.index] and d.degradations != ("none",):
            problems.append(f"{where}.degradations: the dataset provides captured LQ images (no HQ): its only "
                            f"degradation is 'none', got {', '.join(d.degradations)}")
    metric_objects: dict[str, Any] = {}
    for name in dict.fromkeys(study.metrics + tuple(m for d in study.datasets for m in d.metrics or ())):
        if _known(METRICS, name, f"{src}: metrics", problems):
            options = study.metric_options.get(name, {})
            where = f"{src}: metric {name}" + (f" (metric_options.{name})" if options else "")
            metric = _probe(where, lambda: METRICS.build(name, **options), problems)
            if metric is not None:
                metric_objects[name] = metric
                _probe(where, metric.prepare, problems)
    for d in study.datasets:
        if d.index not in has_hq or has_hq[d.index]:
            continue
        for name in d.metrics or study.metrics:
            if getattr(metric_objects.get(name), "needs_reference", False):
                key = "metrics" if d.metrics else f"datasets[{d.index}].metrics (absent: the study's metrics)"
                problems.append(f"{src}: {d.key}: metric {name!r} needs HQ images and the dataset has none "
                                f"(captured LQ); set {key} to no-reference metrics (e.g. [niqe, attr])")
    for m in study.methods:
        where = f"{src}: {m.key}"
        if not _known(METHODS, m.name, f"{src}: methods[{m.index}].name", problems):
            continue
        files = {k: m.options[k] for k in WEIGHT_OPTIONS if m.options.get(k) not in (None, "random")}
        for option, value in files.items():
            if not Path(os.path.expanduser(str(value))).is_file():
                problems.append(f"{where}.options.{option}: weights missing: {value} is not a file")
        if not files:  # constructed up to its first asset (nothing is loaded or fetched)
            _probe(where, lambda: METHODS.build(m.name, device=device, **dict(m.options)), problems)
    return problems, sizes


def planned_images(study: Study, sizes: Mapping[int, int]) -> dict[int, int | None]:
    """Images each cell will run on (cell index -> count; None when its dataset could not be indexed)."""
    limit = study.settings.get("limit")
    return {c.index: (None if c.dataset.index not in sizes else
                      min(sizes[c.dataset.index], limit) if limit else sizes[c.dataset.index])
            for c in study.cells()}
