"""The runner: dataset -> (degradation) -> method -> metrics -> store, streamed in batches.

A run is one (method, dataset, protocol, seed, sample order) configuration; its id is a hash of its
*identity* (:meth:`Runner.identity`): the frbench version, the method's description with the sha256 of
every weights file it loaded, the dataset, the protocol with its parameters, the seed and the sample
order.  Started again with the same identity, a run resumes: it skips what the store holds and ends
with exactly the rows of an uninterrupted run; a changed weights file or a new frbench version gives a
new run id, so outputs of two networks are never mixed.  Each metric's full configuration (defaults and
the sha256 of its parameter files) is recorded with the run and checked at every resume.

Steps:

1. **Select** the samples: the first ``limit`` ids of one seeded permutation (:mod:`bench.selection`),
   so a small run is a random sample, the same for every method, nested in larger ones.
2. **Protocol**: ``captured`` when the dataset provides the LQ images (whatever ``degradation`` says),
   else the degradation protocol synthesises them, seeded by (run seed, sample id).
3. **Lease**: one writer per run (:mod:`bench.leases`); a second process on the same run is refused.
4. **Process** the pending samples (:class:`bench.processing.ShardProcessor`, local or Ray executor),
   writing each batch's rows and set-level vectors in one transaction.
5. **Set-level values** over every member of the run, from the stored vectors (:mod:`bench.set_results`).
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from . import __version__, selection
from .defaults import DEFAULTS
from .errors import ConfigurationError
from .leases import Heartbeat
from .processing import MetricGroups, ShardProcessor, ShardResult, metric_extra_outputs
from .registries import DATASETS, DEGRADATIONS, METHODS, METRICS
from .store import ResultStore, run_id_for
from .types import Dataset, Sample, SetMetric, output_direction

__all__ = ["ConfigurationError", "RunSummary", "Runner", "ShardProcessor", "ShardResult", "metric_extra_outputs"]


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
    #: how the samples were chosen (e.g. "first 100 of 8,778 in seeded random order (seed 0)")
    selection: str = ""
    #: what the user should know (an ignored --degradation, a recovered lease...)
    notes: list[str] = field(default_factory=list)

    def format(self, max_errors: int = 10) -> str:
        label = f"{self.dataset} (SYNTHETIC faces)" if self.synthetic else self.dataset
        lines = [f"run {self.run_id}: method={self.method} dataset={label} protocol={self.protocol}",
                 f"  images: {self.n_planned} planned, {self.n_skipped} already done, {self.n_processed} processed now "
                 f"in {self.seconds:.1f} s; in store: {self.n_ok} ok, {self.n_failed} failed"]
        if self.selection:
            lines.append(f"  samples: {self.selection}")
        if self.executor != "local":
            lines.append(f"  executor: {self.executor}")
        for note in self.notes:
            lines.append(f"  note: {note}")
        for metric, stats in sorted(self.metric_means.items()):
            inf = f" (+{stats['n_infinite']} infinite)" if stats.get("n_infinite") else ""
            lines.append(f"  {metric:>12}: mean {stats['mean']:.4f} over {stats['n']} images{inf}")
        for metric, values in sorted(self.set_results.items()):
            headline = self.layouts.get(metric, {}).get("headline")
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


def _parse_metric_names(metrics: str | Sequence[str] | None, has_hq: bool) -> list[str]:
    if metrics is None:
        return list(DEFAULTS["metrics"]) if has_hq else []  # the default metrics are full-reference
    if isinstance(metrics, str):
        metrics = metrics.split(",")
    return [m.strip().lower() for m in metrics if m and m.strip()]


def _leaderboard_layout(metric: Any) -> dict[str, Any]:
    """How the leaderboard shows a metric (stored in ``metric_info.layout``; the CSV keeps everything).

    ``headline``: result keys shown in the Markdown table (set-level metrics; default ``["value"]``);
    ``counts``: keys shown as plain counts (no arrow, never bold); ``hidden``: not in the Markdown table.
    """
    layout: dict[str, Any] = {}
    for attr, key in (("leaderboard_headline", "headline"), ("leaderboard_counts", "counts")):
        value = getattr(metric, attr, None)
        if value:
            layout[key] = list(value)
    if getattr(metric, "leaderboard_hidden", False):
        layout["hidden"] = True
    return layout


def _directions(metric: Any) -> dict[str, str]:
    """The metric's declared output directions (patterns, in order) with ``value`` resolved."""
    declared = dict(getattr(metric, "outputs", None) or {})
    return {"value": output_direction(metric, "value"), **{k: v for k, v in declared.items() if k != "value"}}


def _sha_list(files: Mapping[str, str]) -> list[str]:
    return sorted(set(files.values()))


class Runner(MetricGroups):
    """Runs one (method, dataset, degradation, metrics) configuration into a store.

    Parameters mirror ``bench run``; every default comes from :data:`bench.defaults.DEFAULTS`.
    Plug-in objects may be passed instead of names (``method=MyMethod()``) for programmatic use.
    ``subset``: ``"random"`` (the seeded permutation, default) or ``"first"`` (name order);
    ``subset_seed``: its seed (default: ``seed``).  ``executor``: ``"local"``, ``"ray"`` or an executor
    object of :mod:`bench.executors`; the driver alone writes the store.
    """

    def __init__(self, method: Any = DEFAULTS["method"], dataset: Any = DEFAULTS["dataset"], *,
                 root: str | Path | None = DEFAULTS["root"], metrics: str | Sequence[str] | None = None,
                 degradation: str | Any | None = None, limit: int | None = DEFAULTS["limit"],
                 seed: int = DEFAULTS["seed"], subset: str = DEFAULTS["subset"], subset_seed: int | None = None,
                 store: str | Path = DEFAULTS["store"], out: str | Path = DEFAULTS["out"],
                 batch_size: int = DEFAULTS["batch_size"], save_images: bool = DEFAULTS["save_images"],
                 device: str = DEFAULTS["device"], workers: int = DEFAULTS["workers"],
                 dataset_options: Mapping[str, Any] | None = None, method_options: Mapping[str, Any] | None = None,
                 metric_options: Mapping[str, Mapping[str, Any]] | None = None, progress: bool = True,
                 executor: Any = DEFAULTS["executor"], ray_address: str | None = DEFAULTS["ray_address"],
                 ray_workers: int | None = DEFAULTS["ray_workers"], shard_size: int | None = DEFAULTS["shard_size"]) -> None:
        from .provenance import record_files

        if batch_size < 1:
            raise ConfigurationError(f"batch size must be >= 1, got {batch_size}")
        if limit is not None and limit < 0:
            raise ConfigurationError(f"limit must be >= 0, got {limit}")
        if subset not in selection.SUBSET_ORDERS:
            raise ConfigurationError(f"--subset must be one of {', '.join(selection.SUBSET_ORDERS)}, got {subset!r}")
        self.notes: list[str] = []
        self.dataset: Dataset = (DATASETS.build(dataset, root=root, **dict(dataset_options or {}))
                                 if isinstance(dataset, str) else dataset)
        self.captured = self._captured()
        with record_files() as files:
            self.method = (METHODS.build(method, device=device, **dict(method_options or {}))
                           if isinstance(method, str) else method)
        self.method_files = files.digests()
        # the method's own name tells its options apart (codeformer-w0.7, debiasfr[labels]); else the registered one
        self.method_name = getattr(self.method, "name", None) or (method if isinstance(method, str)
                                                                  else type(self.method).__name__)
        if self.captured:
            if degradation is not None and getattr(degradation, "name", degradation) != "none":
                self.notes.append(f"dataset '{self.dataset.name}' provides captured LQ images: --degradation "
                                  f"{getattr(degradation, 'name', degradation)} is not used (protocol 'captured')")
            self.degradation = None
        else:
            degradation = DEFAULTS["degradation"] if degradation is None else degradation
            self.degradation = DEGRADATIONS.create(degradation) if isinstance(degradation, str) else degradation
        names = _parse_metric_names(metrics, self.dataset.has_hq)
        if not names:
            raise ConfigurationError(
                f"no metric to compute: the default metrics ({', '.join(DEFAULTS['metrics'])}) compare with HQ "
                f"images and dataset '{self.dataset.name}' has none (captured LQ); choose no-reference metrics, "
                f"e.g. --metrics niqe,brisque,attr")
        self.metric_options = {k: dict(v) for k, v in (metric_options or {}).items() if v}
        unused = sorted(set(self.metric_options) - set(names))
        if unused:
            raise ConfigurationError(f"options given for metric(s) {', '.join(unused)} that the run does not compute "
                                     f"(metrics: {', '.join(names)})")
        self.metrics: dict[str, Any] = {}
        self.metric_files: dict[str, dict[str, str]] = {}
        for name in names:
            with record_files() as files:
                metric = METRICS.build(name, **self.metric_options.get(name, {}))
                if metric.needs_reference and not self.dataset.has_hq:
                    raise ConfigurationError(
                        f"metric '{name}' needs an HQ reference image, but dataset '{self.dataset.name}' has none "
                        f"(captured LQ); use no-reference metrics for it")
                getattr(metric, "prepare", lambda: None)()  # networks and parameter files load now
            self.metrics[name] = metric
            self.metric_files[name] = files.digests()
        self.channels = {name: self._channels(metric) for name, metric in self.set_metrics.items()}
        self.limit, self.seed, self.batch_size = limit, int(seed), int(batch_size)
        self.subset = subset
        self.subset_seed = self.seed if subset_seed is None else int(subset_seed)
        self.store_path, self.out = Path(store), Path(out)
        self.save_images, self.workers, self.progress = save_images, max(1, int(workers)), progress
        self.device = device
        # how a remote worker rebuilds the processor: names are loaded there (weights, device), objects shipped
        self._spec_args = {"method": method if isinstance(method, str) else self.method,
                           "method_options": dict(method_options or {}), "device": device,
                           "degradation": (None if self.degradation is None else
                                           degradation if isinstance(degradation, str) else self.degradation)}
        from .executors import make_executor

        self.executor = make_executor(executor, address=ray_address, workers=ray_workers, shard_size=shard_size,
                                      device=device)

    # -- plan -----------------------------------------------------------------------------------
    def _captured(self) -> bool:
        """True when the dataset provides the LQ images (every sample has one); mixed sets are refused."""
        kinds = {sample.lq is not None for sample in self.dataset.samples}
        if kinds == {True, False}:
            n = sum(1 for s in self.dataset.samples if s.lq is not None)
            raise ConfigurationError(f"dataset '{self.dataset.name}' mixes {n} samples with a captured LQ and "
                                     f"{len(self.dataset.samples) - n} without: one run has one protocol")
        return kinds == {True}

    def _channels(self, metric: SetMetric) -> dict[str, tuple[str, str]]:
        channels = dict(metric.channels())
        if not self.dataset.has_hq:  # no HQ side (label protocol, no-reference set metrics)
            channels = {v: c for v, c in channels.items() if c[0] != "reference"}
        return channels

    def _image_folder(self, run_id: str) -> Path:
        """Where ``--save-images`` writes: one folder per run (another weights file is another folder)."""
        return self.out / "restored" / f"{self.dataset.name}-{self.protocol_name()}-{self.method_name}-{run_id}"

    def worker_spec(self, known_refs: Mapping[str, set[str]], positions: Mapping[str, int]) -> dict[str, Any]:
        """Everything a remote worker needs to build the same :class:`ShardProcessor` (picklable)."""
        return {**self._spec_args, "method_name": self.method_name, "metrics": list(self.metrics),
                "metric_options": self.metric_options, "seed": self.seed, "batch_size": self.batch_size,
                "workers": self.workers, "save_images": self.save_images,
                "image_folder": str(self.processor.image_folder.resolve()), "cwd": os.getcwd(),
                "channels": self.channels, "known_refs": {k: set(v) for k, v in known_refs.items()},
                "positions": dict(positions)}

    # -- identity -------------------------------------------------------------------------------
    def protocol_name(self) -> str:
        if self.captured:
            return "captured"
        return getattr(self.degradation, "name", type(self.degradation).__name__)

    def identity(self) -> dict[str, Any]:
        """What the run id is a hash of: everything that determines the restored images."""
        dataset = self.dataset.describe()
        if dataset.get("root"):
            dataset["root"] = str(Path(dataset["root"]).resolve())
        describe = getattr(self.method, "describe", None)
        degradation = getattr(self.degradation, "describe", None)
        return {
            "frbench": __version__,
            "method": describe() if callable(describe) else {"name": self.method_name},
            "method_files_sha256": _sha_list(self.method_files),
            "dataset": dataset,
            "protocol": self.protocol_name(),
            "degradation": degradation() if callable(degradation) and not self.captured else None,
            "seed": self.seed,
            "selection": selection.describe(self.subset, self.subset_seed),
        }

    def metric_entries(self) -> dict[str, dict[str, Any]]:
        """Per metric: options, full configuration (with defaults and parameter-file sha256), channels."""
        entries = {}
        for name, metric in self.metrics.items():
            describe = getattr(metric, "describe", None)
            config = {"describe": describe() if callable(describe) else {"name": name},
                      "files_sha256": _sha_list(self.metric_files.get(name, {}))}
            entries[name] = {"options": self.metric_options.get(name, {}), "config": config,
                             "channels": self.channels.get(name, {}), "frbench_version": __version__}
        return entries

    def _metric_infos(self) -> list[dict[str, Any]]:
        infos = []
        for name, metric in self.metrics.items():
            infos.append({"name": name, "higher_is_better": metric.higher_is_better,
                          "unit": getattr(metric, "unit", ""), "set_level": isinstance(metric, SetMetric),
                          "description": METRICS.describe(name) if name in METRICS else "",
                          "layout": _leaderboard_layout(metric), "directions": _directions(metric)})
            for extra in metric_extra_outputs(metric):
                direction = output_direction(metric, extra)
                infos.append({"name": f"{name}.{extra}", "higher_is_better": direction == "higher", "unit": "",
                              "set_level": False, "directions": {"value": direction},
                              "description": f"per-image extra output '{extra}' of {name} (see its documentation)"})
        return infos

    def _selection_note(self, planned: int) -> str:
        total = len(self.dataset.samples)
        if self.subset == "first":
            how = "in name order (--subset first: NOT a random sample)"
        else:
            how = f"in seeded random order (seed {self.subset_seed})"
        return f"{'all' if planned == total else f'first {planned} of'} {total:,} {how}"

    # -- the run --------------------------------------------------------------------------------
    def run(self) -> RunSummary:
        started = time.perf_counter()
        ordered = selection.ordered(self.dataset.samples, self.subset, self.subset_seed)
        positions = {sample.id: index for index, sample in enumerate(ordered)}
        samples = ordered if self.limit is None else ordered[: self.limit]
        per_image, set_level = list(self.per_image_metrics), list(self.set_metrics)
        store = ResultStore(self.store_path)
        try:
            config = {"metrics": list(self.metrics), "limit": self.limit, "batch_size": self.batch_size,
                      "save_images": self.save_images, "out": str(self.out), "executor": self.executor.describe(),
                      "method_files": self.method_files}
            identity = self.identity()
            # the lease first: a process refused because another one writes this run changes nothing
            run_id = run_id_for(identity)
            token, recovered = store.acquire_lease(run_id, command=" ".join(sys.argv[:12])[:300])
            notes = list(self.notes)
            if recovered is not None:
                notes.append(f"recovered the writer lease left by {recovered.describe()} (no longer running)")
            try:
                with Heartbeat(str(self.store_path), run_id, token):
                    store.open_run(identity, method=self.method_name, dataset=self.dataset.name,
                                   protocol=self.protocol_name(), seed=self.seed, synthetic=self.dataset.synthetic,
                                   config=config, n_planned=len(samples))
                    store.register_metrics(self._metric_infos())
                    store.register_run_metrics(run_id, self.metric_entries())
                    done = store.completed(run_id, per_image, set_level)
                    todo: list[tuple[Sample, set[str]]] = []
                    for sample in samples:
                        missing = done.get(sample.id)
                        if missing is None:
                            todo.append((sample, set(per_image) | set(set_level)))
                        elif missing:
                            todo.append((sample, missing))
                    n_skipped = len(samples) - len(todo)
                    self._process(store, run_id, token, todo, n_skipped, len(samples), positions)
                    set_results = self._finish_set_metrics(store, run_id, token)
                    notes += self._warnings
                    store.finish_run(run_id, token)
            finally:
                store.release_lease(run_id, token)
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
                executor=self._executor_note(), selection=self._selection_note(len(samples)), notes=notes)
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

    def _process(self, store: ResultStore, run_id: str, token: str, todo: Sequence[tuple[Sample, set[str]]],
                 n_skipped: int, n_total: int, positions: Mapping[str, int]) -> None:
        from tqdm import tqdm

        # HQ-side vectors of these faces computed by any earlier run (any method) are not computed again
        known_refs = {channel: (store.ref_vector_keys(channel) if todo else set())
                      for ch in self.channels.values() for side, channel in ch.values() if side == "reference"}
        self.processor = ShardProcessor(
            method=self.method, method_name=self.method_name, degradation=self.degradation, metrics=self.metrics,
            seed=self.seed, batch_size=self.batch_size, workers=self.workers, save_images=self.save_images,
            image_folder=self._image_folder(run_id), channels=self.channels, known_refs=known_refs,
            positions=positions)
        bar = tqdm(total=n_total, initial=n_skipped, unit="img", disable=not self.progress,
                   desc=f"{self.method_name} on {self.dataset.name}", dynamic_ncols=True)
        failed = 0

        def write(result: ShardResult) -> None:
            """The driver's only write path: the result's rows and vectors in ONE transaction."""
            nonlocal failed
            store.write_batch(run_id, result.records, result.set_rows, token=token)
            bar.update(len(result.records))
            failed += sum(1 for r in result.records if r.status == "error")
            if failed:
                bar.set_postfix(failed=failed, refresh=False)

        try:
            self.executor.execute(self, todo, write)
        finally:
            bar.close()

    # -- end of run -----------------------------------------------------------------------------
    def _finish_set_metrics(self, store: ResultStore, run_id: str, token: str) -> dict[str, dict[str, float | None]]:
        from .set_results import compute_on_ids

        results = {}
        self._warnings: list[str] = []
        for name, metric in self.set_metrics.items():
            ids = store.set_member_ids(run_id, name)
            if not ids:
                continue
            values = compute_on_ids(store, run_id, name, ids, instance=metric, warnings_out=self._warnings)
            store.write_set_results(run_id, name, values, ids, token=token)
            results[name] = values
        return results
