"""The runner: dataset -> (degradation) -> method -> metrics -> store, streamed in batches.

For each batch of samples the runner

1. decodes every image once (HQ and captured LQ; in a small thread pool, one batch ahead),
2. synthesises the LQ from the HQ with the degradation protocol, seeded by (run seed, sample id),
   and keeps the parameters it used,
3. restores the LQ images grouped by shape (one tensor batch per group),
4. quantises the restored images to 8 bits (as if saved as PNG and re-read) and hands the same
   tensors to every per-image metric and every set-level metric,
5. optionally saves the restored images as PNG,
6. writes the batch's rows (samples, scores, set-level partial states) in one transaction.

A problem with one image (unreadable, truncated, empty, odd colour mode, too small for a metric, a
method failure) becomes a recorded error naming the file and the cause; the run goes on.  A run
started again with the same identity skips the samples already complete, so an interrupted run
resumes and ends with exactly the rows of an uninterrupted one.

Steps 1-5 ("process a list of samples -> per-image rows + partial set-level states") are
:class:`ShardProcessor`, shared by every executor (:mod:`bench.executors`): the local executor feeds it
the pending samples and writes each batch as it comes; the Ray executor runs it on shards of the pending
samples in remote actors.  Step 6 and the merge of the set-level states (``SetMetric.merge``) happen in
the driver (:class:`Runner`) only, one transaction per batch (local) or per shard (Ray).
"""
from __future__ import annotations

import math
import os
import time
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from .defaults import DEFAULTS
from .imageio import ImageReadError, read_image, write_png
from .registries import DATASETS, DEGRADATIONS, METHODS, METRICS
from .store import ResultStore, SampleRecord
from .types import Dataset, PerImageMetric, Sample, SetMetric


class ConfigurationError(ValueError):
    """The requested run cannot be made (wrong metric for the dataset, unknown option, ...)."""


def _create(registry, name: str, **options: Any):
    """``registry.create(name, **options)`` with a clear error for an option the factory does not take."""
    import difflib
    import inspect

    factory = registry.get(name)
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # builtins without a signature
        parameters = {}
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    if parameters and not takes_any:
        known = [n for n, p in parameters.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
        for key in options:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                shown = ", ".join(k for k in known if k not in ("root", "device")) or "(none)"
                raise ConfigurationError(f"{registry.kind} {name!r} has no option {key!r}.{hint} "
                                         f"Its options: {shown}")
    return factory(**options)


@dataclass
class RunSummary:
    """What a run did: identity, counts and the per-metric means (printed by the CLI)."""

    run_id: str
    store: str
    method: str
    dataset: str
    protocol: str
    n_planned: int
    n_skipped: int
    n_processed: int
    n_ok: int
    n_failed: int
    seconds: float
    metric_means: dict[str, dict[str, float]] = field(default_factory=dict)
    set_results: dict[str, dict[str, float | None]] = field(default_factory=dict)
    errors: list[tuple[str, str, str]] = field(default_factory=list)
    synthetic: bool = False
    #: problems found while indexing the dataset (malformed names, bad label rows): (path, reason)
    dataset_issues: list[tuple[str, str]] = field(default_factory=list)
    #: leaderboard layout of each metric (which set-level keys are headline values)
    layouts: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: where the images were processed ("local", or e.g. "ray: 2 workers, 6 shards of 16")
    executor: str = "local"

    def format(self, max_errors: int = 10) -> str:
        label = f"{self.dataset} (SYNTHETIC faces)" if self.synthetic else self.dataset
        lines = [f"run {self.run_id}: method={self.method} dataset={label} protocol={self.protocol}",
                 f"  images: {self.n_planned} planned, {self.n_skipped} already done, {self.n_processed} processed now "
                 f"in {self.seconds:.1f} s; in store: {self.n_ok} ok, {self.n_failed} failed"]
        if self.executor != "local":
            lines.append(f"  executor: {self.executor}")
        for metric, stats in sorted(self.metric_means.items()):
            inf = f" (+{stats['n_infinite']} infinite)" if stats.get("n_infinite") else ""
            lines.append(f"  {metric:>12}: mean {stats['mean']:.4f} over {stats['n']} images{inf}")
        for metric, values in sorted(self.set_results.items()):
            layout = self.layouts.get(metric, {})
            headline = layout.get("headline")
            if headline:  # many keys: show the headline values with their intervals, the rest is in the CSV
                parts = []
                for key in headline:
                    if key in values:
                        lo, hi = values.get(f"{key}_lo"), values.get(f"{key}_hi")
                        interval = f" [{lo:.4g}, {hi:.4g}]" if isinstance(lo, float) and isinstance(hi, float) else ""
                        parts.append(f"{key}={values[key]:.4g}{interval}")
                shown = ", ".join(parts) + f" (+{len(values) - len(parts)} more values in the store)"
            else:
                shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())
            lines.append(f"  {metric:>12}: {shown}")
        if self.dataset_issues:
            lines.append(f"  dataset indexing reported {len(self.dataset_issues)} issue(s) (files skipped or unlabelled):")
            for path, reason in self.dataset_issues[:max_errors]:
                lines.append(f"    {path}: {reason}")
            if len(self.dataset_issues) > max_errors:
                lines.append(f"    ... {len(self.dataset_issues) - max_errors} more")
        if self.errors:
            lines.append(f"  {len(self.errors)} error(s):")
            for sample_id, stage, cause in self.errors[:max_errors]:
                lines.append(f"    {sample_id} [{stage}] {cause}")
            if len(self.errors) > max_errors:
                lines.append(f"    ... {len(self.errors) - max_errors} more (bench errors --store {self.store})")
        lines.append(f"  store: {self.store}")
        return "\n".join(lines)


@dataclass
class _Item:
    """One sample in flight through a batch."""

    sample: Sample
    record: SampleRecord
    hq: np.ndarray | None = None
    lq: np.ndarray | None = None
    restored: np.ndarray | None = None
    missing: set[str] = field(default_factory=set)
    started: float = 0.0


def _parse_metric_names(metrics: str | Sequence[str] | None, has_hq: bool) -> list[str]:
    if metrics is None:
        names = list(DEFAULTS["metrics"])
        if not has_hq:
            names = []  # the default metrics are full-reference
        return names
    if isinstance(metrics, str):
        metrics = [m for m in metrics.split(",")]
    return [m.strip().lower() for m in metrics if m and m.strip()]


def _image_to_tensor(images: Sequence[np.ndarray]):
    """``uint8 [H, W, 3]`` arrays -> float32 ``[B, 3, H, W]`` in ``[0, 1]`` (method input)."""
    return _image_to_uint8_tensor(images).float().div_(255.0)


def _image_to_uint8_tensor(images: Sequence[np.ndarray]):
    """``uint8 [H, W, 3]`` arrays -> contiguous ``uint8 [B, 3, H, W]`` (metric input, 0..255)."""
    import torch

    array = np.stack(images, axis=0)  # [B, H, W, 3]
    return torch.from_numpy(array).permute(0, 3, 1, 2).contiguous()


def _tensor_to_uint8(batch) -> np.ndarray:
    import torch

    with torch.no_grad():
        q = batch.detach().to("cpu", torch.float32).clamp(0.0, 1.0).mul(255.0).round_().to(torch.uint8)
    return q.permute(0, 2, 3, 1).contiguous().numpy()


def metric_extra_outputs(metric: Any) -> tuple[str, ...]:
    """The extra per-image columns a metric declares (``extra_outputs``; empty for most metrics)."""
    extras = tuple(getattr(metric, "extra_outputs", ()) or ())
    return extras if callable(getattr(metric, "details", None)) else ()


def _metric_columns(name: str, metric: Any, restored, reference) -> dict[str, list[float]]:
    """Score columns of one metric call: ``{name: [B]}``, plus ``{name.extra: [B]}`` for each extra output.

    A metric with extra outputs (``extra_outputs = ("flat_share", ...)``) implements
    ``details(restored, reference) -> {"value": [B], extra: [B], ...}``; it is called once instead of
    ``metric(...)``.  Other metrics are called as before and give one column.
    """
    extras = metric_extra_outputs(metric)
    if not extras:
        return {name: [float(v) for v in metric(restored, reference)]}
    out = metric.details(restored, reference)
    columns = {name: [float(v) for v in out["value"]]}
    for extra in extras:
        if extra in out:
            columns[f"{name}.{extra}"] = [float(v) for v in out[extra]]
    return columns


def _wants_reference(metric: Any, reference, restored) -> bool:
    """Hand the HQ to a metric that needs it, or that can use it (``uses_reference = True``) when present."""
    if metric.needs_reference:
        return reference is not None
    return bool(getattr(metric, "uses_reference", False)) and reference is not None and reference.shape == restored.shape


def _leaderboard_layout(metric: Any) -> dict[str, Any]:
    """How the leaderboard shows a metric (stored in ``metric_info.layout``; the CSV keeps everything).

    ``headline``: result keys shown in the Markdown table (set-level metrics; default ``["value"]``);
    ``counts``: keys shown as plain counts (no arrow, never bold); ``hidden``: not in the Markdown table
    (audit columns such as per-image predictions).
    """
    layout: dict[str, Any] = {}
    for attr, key in (("leaderboard_headline", "headline"), ("leaderboard_counts", "counts")):
        value = getattr(metric, attr, None)
        if value:
            layout[key] = list(value)
    if getattr(metric, "leaderboard_hidden", False):
        layout["hidden"] = True
    return layout


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    return text.splitlines()[0][:500]


@dataclass
class ShardResult:
    """What processing a list of samples gives: per-image rows and the set-level partial states.

    ``set_states`` maps a set-level metric to (partial states, ids of the samples they cover); the
    partial states are *not* merged with anything the store holds: the driver does that
    (:meth:`Runner._advance_set_totals`) and writes the result.
    """

    records: list[SampleRecord]
    set_states: dict[str, tuple[list[dict[str, np.ndarray]], list[str]]] = field(default_factory=dict)


def _build_metrics(names: Sequence[str], metric_options: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {name: (_create(METRICS, name, **metric_options[name]) if name in metric_options else METRICS.create(name))
            for name in names}


class _MetricGroups:
    """``per_image_metrics`` / ``set_metrics`` views of ``self.metrics`` (shared by the runner and the shard processor)."""

    metrics: dict[str, Any]

    @property
    def per_image_metrics(self) -> dict[str, PerImageMetric]:
        return {n: m for n, m in self.metrics.items() if not isinstance(m, SetMetric)}

    @property
    def set_metrics(self) -> dict[str, SetMetric]:
        return {n: m for n, m in self.metrics.items() if isinstance(m, SetMetric)}


class ShardProcessor(_MetricGroups):
    """Steps 1-5 of a run on a list of samples: decode, degrade, restore, quantise, score, set partials.

    Used by both executors (:mod:`bench.executors`): the local one iterates :meth:`batches` over all
    pending samples, a Ray actor calls :meth:`process` on one shard.  It never touches the store.
    """

    def __init__(self, *, method: Any, method_name: str, degradation: Any, metrics: Mapping[str, Any], seed: int,
                 batch_size: int, workers: int, save_images: bool, image_folder: str | Path) -> None:
        self.method, self.method_name, self.degradation = method, method_name, degradation
        self.metrics = dict(metrics)
        self.seed, self.batch_size, self.workers = int(seed), int(batch_size), max(1, int(workers))
        self.save_images, self.image_folder = save_images, Path(image_folder)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> "ShardProcessor":
        """Build a processor from :meth:`Runner.worker_spec` (in a remote worker: loads the method and
        metrics there, once)."""
        method = spec["method"]
        if isinstance(method, str):
            method = _create(METHODS, method, device=spec["device"], **dict(spec.get("method_options") or {}))
        degradation = spec["degradation"]
        if isinstance(degradation, str):
            degradation = DEGRADATIONS.create(degradation)
        return cls(method=method, method_name=spec["method_name"], degradation=degradation,
                   metrics=_build_metrics(spec["metrics"], spec.get("metric_options") or {}), seed=spec["seed"],
                   batch_size=spec["batch_size"], workers=spec["workers"], save_images=spec["save_images"],
                   image_folder=spec["image_folder"])

    # -- entry points ---------------------------------------------------------------------------
    def batches(self, todo: Sequence[tuple[Sample, set[str]]]) -> Iterator[ShardResult]:
        """One :class:`ShardResult` per batch of ``batch_size`` consecutive samples of ``todo``; the next
        batch is decoded in the thread pool while one is restored and scored."""
        chunks = [list(todo[start:start + self.batch_size]) for start in range(0, len(todo), self.batch_size)]
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="frbench-decode") as pool:

            def submit(batch: list[tuple[Sample, set[str]]]) -> list[Future]:
                return [pool.submit(self._prepare_one, sample, missing) for sample, missing in batch]

            pending = submit(chunks[0]) if chunks else []
            for index in range(len(chunks)):
                items = [future.result() for future in pending]
                # decode the next batch while this one is restored and scored
                pending = submit(chunks[index + 1]) if index + 1 < len(chunks) else []
                self._restore_and_score(items)
                yield ShardResult(records=[it.record for it in items], set_states=self._set_partials(items))

    def process(self, todo: Sequence[tuple[Sample, set[str]]]) -> ShardResult:
        """All of ``todo`` (one shard) in one result: the rows, and per set-level metric ONE state merged
        (``SetMetric.merge``) over the shard's batches.  Batches are cut exactly as :meth:`batches` cuts
        them, so a shard starting at a multiple of ``batch_size`` sees the batches of a local run."""
        records: list[SampleRecord] = []
        partials: dict[str, list[dict[str, np.ndarray]]] = {}
        members: dict[str, list[str]] = {}
        for result in self.batches(todo):
            records.extend(result.records)
            for name, (states, ids) in result.set_states.items():
                partials.setdefault(name, []).extend(states)
                members.setdefault(name, []).extend(ids)
        set_metrics = self.set_metrics
        return ShardResult(records=records,
                           set_states={name: ([set_metrics[name].merge(states)], members[name])
                                       for name, states in partials.items()})

    # -- stage 1: decode and degrade (runs in worker threads) -----------------------------------
    def _prepare_one(self, sample: Sample, missing: set[str]) -> _Item:
        record = SampleRecord(sample_id=sample.id, attributes=sample.attributes.to_dict(),
                              source=sample.describe_source("lq" if sample.lq is not None else "hq"))
        item = _Item(sample=sample, record=record, missing=missing, started=time.perf_counter())
        try:
            stage = "decode"
            if sample.hq is not None:
                item.hq = read_image(sample.hq, name=sample.describe_source("hq"))
                record.hq_size = list(item.hq.shape[:2])
            if sample.lq is not None:
                item.lq = read_image(sample.lq, name=sample.describe_source("lq"))
                record.degradation = {"protocol": "captured"}
            elif item.hq is not None:
                stage = "degrade"
                item.lq, params = self.degradation.apply(item.hq, self.seed, sample.id)
                record.degradation = params
            else:
                raise ImageReadError(sample.id, "sample has neither an HQ nor an LQ image")
            record.lq_size = list(item.lq.shape[:2])
        except ImageReadError as exc:
            record.status, record.stage, record.error = "error", stage, f"{exc.path}: {exc.cause}"
        except Exception as exc:  # one bad image never kills the run
            record.status, record.stage = "error", stage
            record.error = f"{sample.describe_source('hq')}: {_short(exc)}"
        return item

    # -- stage 2 and 3: restore, quantise, score ------------------------------------------------
    def _restore_and_score(self, items: list[_Item]) -> None:
        groups: dict[tuple, list[_Item]] = {}
        for item in items:
            if item.record.status == "ok":
                key = (item.lq.shape, item.hq.shape if item.hq is not None else None)
                groups.setdefault(key, []).append(item)
        for (_, hq_shape), group in groups.items():
            try:
                lq = _image_to_tensor([it.lq for it in group])
                out_size = tuple(hq_shape[:2]) if hq_shape is not None else None
                attrs = [it.sample.attributes for it in group] if getattr(self.method, "uses_attributes", False) else None
                restored = self.method.restore(lq, attributes=attrs, out_size=out_size)
                restored_u8 = _tensor_to_uint8(restored)
            except Exception as exc:
                for it in group:
                    it.record.status, it.record.stage = "error", "restore"
                    it.record.error = f"{it.record.source}: {self.method_name} failed: {_short(exc)}"
                    it.record.seconds = time.perf_counter() - it.started
                continue
            for it, image in zip(group, restored_u8):
                it.restored = image
            self._score_group(group, restored_u8)
            if self.save_images:
                self._save(group)
        for item in items:
            item.record.seconds = time.perf_counter() - item.started

    def _score_group(self, group: list[_Item], restored_u8: np.ndarray) -> None:
        import torch

        restored = torch.from_numpy(restored_u8).permute(0, 3, 1, 2).contiguous()
        reference = None
        if any(it.hq is not None for it in group):
            reference = _image_to_uint8_tensor([it.hq for it in group])
        for name, metric in self.per_image_metrics.items():
            wanted = [i for i, it in enumerate(group) if name in it.missing]
            if not wanted:
                continue
            try:
                if metric.needs_reference and (reference is None or reference.shape != restored.shape):
                    raise ValueError(f"restored size {tuple(restored.shape[-2:])} differs from the HQ size "
                                     f"{None if reference is None else tuple(reference.shape[-2:])}")
                columns = _metric_columns(name, metric, restored, reference if _wants_reference(metric, reference, restored) else None)
                for i in wanted:
                    for column, values in columns.items():
                        group[i].record.scores[column] = values[i]
            except Exception as exc:
                # retry image by image so that one bad image does not cost the others their value
                for i in wanted:
                    try:
                        ref = reference[i:i + 1] if _wants_reference(metric, reference, restored) else None
                        if metric.needs_reference and (ref is None or ref.shape != restored[i:i + 1].shape):
                            raise ValueError(_short(exc))
                        for column, values in _metric_columns(name, metric, restored[i:i + 1], ref).items():
                            group[i].record.scores[column] = values[0]
                    except Exception as exc_one:
                        group[i].record.score_errors[name] = f"{group[i].record.source}: {_short(exc_one)}"

    def _set_partials(self, items: list[_Item]) -> dict[str, tuple[list[dict[str, np.ndarray]], list[str]]]:
        """Per set-level metric: the partial states of this batch (one per shape group) and the ids covered."""
        states: dict[str, tuple[list[dict[str, np.ndarray]], list[str]]] = {}
        for name, metric in self.set_metrics.items():
            members = [it for it in items if it.record.status == "ok" and name in it.missing and it.restored is not None]
            if not members:
                continue
            partials = []
            # states are per shape group (metrics take one tensor batch), then merged
            by_shape: dict[tuple, list[_Item]] = {}
            for it in members:
                by_shape.setdefault((it.restored.shape, None if it.hq is None else it.hq.shape), []).append(it)
            for group in by_shape.values():
                restored = _image_to_uint8_tensor([it.restored for it in group])
                reference = _image_to_uint8_tensor([it.hq for it in group]) if group[0].hq is not None else None
                partials.append(metric.partial(restored, reference, [it.sample for it in group]))
            states[name] = (partials, [it.sample.id for it in members])
        return states

    def _save(self, group: list[_Item]) -> None:
        for it in group:
            path = self.image_folder / f"{it.sample.id}.png"
            try:
                write_png(path, it.restored)
                it.record.restored_path = str(path)
            except OSError as exc:
                it.record.score_errors["save"] = f"{path}: cannot save restored image: {_short(exc)}"


class Runner(_MetricGroups):
    """Runs one (method, dataset, degradation, metrics) configuration into a store.

    Parameters mirror ``bench run``; every default comes from :data:`bench.defaults.DEFAULTS`.
    Plug-in objects may be passed instead of names (``method=MyMethod()``) for programmatic use.
    ``executor``: ``"local"`` (this process), ``"ray"`` (Ray actors, ``ray_address`` / ``ray_workers`` /
    ``shard_size``) or an executor object of :mod:`bench.executors`.  The executor changes only where
    samples are processed: the driver alone writes the store, so both resume each other's runs.
    """

    def __init__(self, method: Any = DEFAULTS["method"], dataset: Any = DEFAULTS["dataset"], *,
                 root: str | Path | None = DEFAULTS["root"], metrics: str | Sequence[str] | None = None,
                 degradation: str | Any = DEFAULTS["degradation"], limit: int | None = DEFAULTS["limit"],
                 seed: int = DEFAULTS["seed"], store: str | Path = DEFAULTS["store"],
                 out: str | Path = DEFAULTS["out"], batch_size: int = DEFAULTS["batch_size"],
                 save_images: bool = DEFAULTS["save_images"], device: str = DEFAULTS["device"],
                 workers: int = DEFAULTS["workers"], dataset_options: Mapping[str, Any] | None = None,
                 method_options: Mapping[str, Any] | None = None,
                 metric_options: Mapping[str, Mapping[str, Any]] | None = None, progress: bool = True,
                 executor: Any = DEFAULTS["executor"], ray_address: str | None = DEFAULTS["ray_address"],
                 ray_workers: int | None = DEFAULTS["ray_workers"], shard_size: int | None = DEFAULTS["shard_size"]) -> None:
        self.dataset: Dataset = (_create(DATASETS, dataset, root=root, **dict(dataset_options or {}))
                                 if isinstance(dataset, str) else dataset)
        self.method = (_create(METHODS, method, device=device, **dict(method_options or {}))
                       if isinstance(method, str) else method)
        # the method's own name tells its options apart (codeformer-w0.7, debiasfr[labels]); else the registered one
        self.method_name = getattr(self.method, "name", None) or (method if isinstance(method, str)
                                                                  else type(self.method).__name__)
        if not self.dataset.has_hq:
            self.degradation = None  # captured LQ: nothing is synthesised
        else:
            self.degradation = DEGRADATIONS.create(degradation) if isinstance(degradation, str) else degradation
        names = _parse_metric_names(metrics, self.dataset.has_hq)
        self.metric_options = {k: dict(v) for k, v in (metric_options or {}).items() if v}
        unused = sorted(set(self.metric_options) - set(names))
        if unused:
            raise ConfigurationError(f"options given for metric(s) {', '.join(unused)} that the run does not compute "
                                     f"(metrics: {', '.join(names) or 'none'})")
        self.metrics: dict[str, Any] = {}
        for name, metric in _build_metrics(names, self.metric_options).items():
            if metric.needs_reference and not self.dataset.has_hq:
                raise ConfigurationError(
                    f"metric '{name}' needs an HQ reference image, but dataset '{self.dataset.name}' has none "
                    f"(captured LQ); use no-reference metrics for it")
            self.metrics[name] = metric
        if batch_size < 1:
            raise ConfigurationError(f"batch size must be >= 1, got {batch_size}")
        if limit is not None and limit < 0:
            raise ConfigurationError(f"limit must be >= 0, got {limit}")
        self.limit, self.seed, self.batch_size = limit, int(seed), int(batch_size)
        self.store_path, self.out = Path(store), Path(out)
        self.save_images, self.workers, self.progress = save_images, max(1, int(workers)), progress
        # how a remote worker rebuilds the processor: names are loaded there (weights, device), objects shipped
        self._spec_args = {"method": method if isinstance(method, str) else self.method,
                           "method_options": dict(method_options or {}), "device": device,
                           "degradation": (None if self.degradation is None else
                                           degradation if isinstance(degradation, str) else self.degradation)}
        self.processor = ShardProcessor(method=self.method, method_name=self.method_name, degradation=self.degradation,
                                        metrics=self.metrics, seed=self.seed, batch_size=self.batch_size,
                                        workers=self.workers, save_images=self.save_images,
                                        image_folder=self._image_folder())
        from .executors import make_executor

        self.executor = make_executor(executor, address=ray_address, workers=ray_workers, shard_size=shard_size,
                                      device=device)

    def _image_folder(self) -> Path:
        return self.out / "restored" / f"{self.dataset.name}-{self.protocol_name()}-{self.method_name}-seed{self.seed}"

    def worker_spec(self) -> dict[str, Any]:
        """Everything a remote worker needs to build the same :class:`ShardProcessor` (picklable)."""
        return {**self._spec_args, "method_name": self.method_name, "metrics": list(self.metrics),
                "metric_options": self.metric_options, "seed": self.seed, "batch_size": self.batch_size,
                "workers": self.workers, "save_images": self.save_images,
                "image_folder": str(self._image_folder().resolve()), "cwd": os.getcwd()}

    # -- identity -------------------------------------------------------------------------------
    def protocol_name(self) -> str:
        if not self.dataset.has_hq:
            return "captured-lq"
        return getattr(self.degradation, "name", type(self.degradation).__name__)

    def identity(self) -> dict[str, Any]:
        dataset = self.dataset.describe()
        if dataset.get("root"):
            dataset["root"] = str(Path(dataset["root"]).resolve())
        describe = getattr(self.method, "describe", None)
        degradation = getattr(self.degradation, "describe", None)
        return {
            "method": describe() if callable(describe) else {"name": self.method_name},
            "dataset": dataset,
            "protocol": self.protocol_name(),
            "degradation": degradation() if callable(degradation) and self.dataset.has_hq else None,
            "seed": self.seed,
            **({"metric_options": self.metric_options} if self.metric_options else {}),
        }

    # -- the run --------------------------------------------------------------------------------
    def run(self) -> RunSummary:
        started = time.perf_counter()
        samples = list(self.dataset.samples)
        if self.limit is not None:
            samples = samples[: self.limit]
        per_image, set_level = list(self.per_image_metrics), list(self.set_metrics)
        store = ResultStore(self.store_path)
        try:
            config = {"metrics": list(self.metrics), "limit": self.limit, "batch_size": self.batch_size,
                      "save_images": self.save_images, "out": str(self.out), "executor": self.executor.describe()}
            run_id = store.open_run(self.identity(), method=self.method_name, dataset=self.dataset.name,
                                    protocol=self.protocol_name(), seed=self.seed,
                                    synthetic=self.dataset.synthetic, config=config, n_planned=len(samples))
            store.register_metrics(self._metric_infos())
            done = store.completed(run_id, per_image, set_level)
            todo: list[tuple[Sample, set[str]]] = []
            for sample in samples:
                missing = done.get(sample.id)
                if missing is None:
                    todo.append((sample, set(per_image) | set(set_level)))
                elif missing:
                    todo.append((sample, missing))
            n_skipped = len(samples) - len(todo)
            # running states of the set-level metrics, as stored by earlier (interrupted) passes
            self._set_totals = {}
            for name, metric in self.set_metrics.items():
                stored = store.set_states(run_id, name)
                self._set_totals[name] = metric.merge(stored) if stored else None
            self._process(store, run_id, todo, n_skipped, len(samples))
            set_results = self._finish_set_metrics(store, run_id)
            store.finish_run(run_id)
            n_ok = n_err = 0
            for row in store.runs():
                if row["run_id"] == run_id:
                    n_ok, n_err = row["n_ok"], row["n_error"]
            return RunSummary(
                run_id=run_id, store=str(self.store_path), method=self.method_name, dataset=self.dataset.name,
                protocol=self.protocol_name(), n_planned=len(samples), n_skipped=n_skipped, n_processed=len(todo),
                n_ok=n_ok, n_failed=n_err, seconds=time.perf_counter() - started,
                metric_means=store.metric_summary(run_id), set_results=set_results, errors=store.errors(run_id),
                synthetic=self.dataset.synthetic,
                dataset_issues=[(issue.path, issue.reason) for issue in self.dataset.issues],
                layouts={name: _leaderboard_layout(metric) for name, metric in self.metrics.items()},
                executor=self._executor_note())
        finally:
            store.close()

    def _executor_note(self) -> str:
        log = getattr(self.executor, "log", None)
        if self.executor.describe().get("name") == "local" or log is None or not log.shards:
            return self.executor.describe().get("name", "local")
        size = log.shards[0][2] - log.shards[0][1]
        note = (f"ray: {log.workers} worker(s), {len(log.shards)} shard(s) of {size}, "
                f"startup {log.startup_seconds:.1f} s, processing {log.process_seconds:.1f} s")
        return note + (f", {len(log.resubmitted)} shard(s) resubmitted" if log.resubmitted else "")

    def _metric_infos(self) -> list[dict[str, Any]]:
        infos = []
        for name, metric in self.metrics.items():
            infos.append({"name": name, "higher_is_better": metric.higher_is_better,
                          "unit": getattr(metric, "unit", ""), "set_level": isinstance(metric, SetMetric),
                          "description": METRICS.describe(name), "layout": _leaderboard_layout(metric)})
            for extra in metric_extra_outputs(metric):
                infos.append({"name": f"{name}.{extra}", "higher_is_better": False, "unit": "",
                              "set_level": False,
                              "description": f"per-image extra output '{extra}' of {name} (see its documentation)"})
        return infos

    def _process(self, store: ResultStore, run_id: str, todo: Sequence[tuple[Sample, set[str]]],
                 n_skipped: int, n_total: int) -> None:
        from tqdm import tqdm

        bar = tqdm(total=n_total, initial=n_skipped, unit="img", disable=not self.progress,
                   desc=f"{self.method_name} on {self.dataset.name}", dynamic_ncols=True)
        failed = 0

        def write(result: ShardResult) -> None:
            """The driver's only write path: merge the result's set states into the running totals and
            write its rows and those totals in ONE transaction."""
            nonlocal failed
            store.write_batch(run_id, result.records, self._advance_set_totals(result))
            bar.update(len(result.records))
            failed += sum(1 for r in result.records if r.status == "error")
            if failed:
                bar.set_postfix(failed=failed, refresh=False)

        try:
            self.executor.execute(self, todo, write)
        finally:
            bar.close()

    def _advance_set_totals(self, result: ShardResult) -> dict[str, tuple[dict[str, np.ndarray], list[str]]]:
        """Merge a result's partial states into the running totals (``SetMetric.merge``); return what
        :meth:`ResultStore.write_batch` stores: (new running total, ids this result adds)."""
        states: dict[str, tuple[dict[str, np.ndarray], list[str]]] = {}
        for name, (partials, members) in result.set_states.items():
            metric = self.set_metrics[name]
            previous = self._set_totals.get(name)
            total = metric.merge(partials if previous is None else [previous, *partials])
            self._set_totals[name] = total
            states[name] = (total, list(members))
        return states

    # -- end of run -----------------------------------------------------------------------------
    def _finish_set_metrics(self, store: ResultStore, run_id: str) -> dict[str, dict[str, float | None]]:
        results = {}
        for name, metric in self.set_metrics.items():
            states = store.set_states(run_id, name)
            if not states:
                continue
            values = metric.compute(metric.merge(states))
            store.write_set_results(run_id, name, values)
            results[name] = values
        return results
