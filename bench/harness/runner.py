"""The runner: dataset -> (degradation) -> method -> metrics -> store, streamed in batches.

``Runner(method, dataset, **options)`` (or ``Runner.from_config(RunConfig(...))``) runs one
configuration (:class:`~bench.harness.config.RunConfig`) into a results store:

1. **Plan** (:class:`~bench.harness.planning.RunPlan`): build the dataset, method and metrics (recording
   the sha256 of every file they load), decide the protocol (``captured`` when the dataset provides the
   LQ), take the samples in the run's seeded order (the first ``limit``), compute the run identity.
2. **Lease**: one writer per run (:mod:`bench.harness.leases`); a second process on the same run is
   refused before it writes anything.
3. **Process** the pending samples (:class:`~bench.harness.processing.ShardProcessor`, local or Ray
   executor): each batch's rows and set-level vectors are written in one transaction.
4. **Set-level values** over every member of the run, from the stored vectors
   (:mod:`bench.harness.set_results`), and a :class:`~bench.harness.summary.RunSummary`.

Started again with the same identity, a run resumes: it skips what the store holds and ends with exactly
the rows of an uninterrupted run; a changed weights file or a new frbench version gives a new run id.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from bench.core.errors import ConfigurationError
from bench.core.memory import release_free_memory
from bench.core.types import Sample
from bench.harness.config import RunConfig
from bench.harness.dataset_counts import CONFIG_KEY, dataset_counts
from bench.harness.executors import make_executor
from bench.harness.leases import Heartbeat
from bench.harness.planning import RunPlan, leaderboard_layout
from bench.harness.processing import MetricGroups, ShardProcessor, ShardResult
from bench.harness.set_results import compute_on_ids
from bench.harness.store import ResultStore, run_id_for
from bench.harness.summary import RunSummary

__all__ = ["ConfigurationError", "RunSummary", "Runner"]


class Runner(MetricGroups):
    """Runs one configuration into a store (see the module documentation).

    ``Runner(method, dataset, **options)``: the options of :class:`~bench.harness.config.RunConfig`, by name
    (an unknown name is a :class:`~bench.core.errors.ConfigurationError` with a suggestion).  Plug-in objects
    may be passed instead of names (``method=MyMethod()``).  The driver alone writes the store.
    """

    def __init__(self, method: Any = None, dataset: Any = None, **options: Any) -> None:
        if method is not None:
            options["method"] = method
        if dataset is not None:
            options["dataset"] = dataset
        self.config = RunConfig.from_options(**options)
        self.plan = RunPlan(self.config)
        c = self.config
        self.metrics, self.method, self.dataset = self.plan.metrics, self.plan.method, self.plan.dataset
        self.batch_size, self.workers = int(c.batch_size), max(1, int(c.workers))
        self.store_path = Path(c.store)
        self.executor = make_executor(c.executor, address=c.ray_address, workers=c.ray_workers,
                                      shard_size=c.shard_size, device=c.device)
        self.processor: ShardProcessor | None = None

    @classmethod
    def from_config(cls, config: RunConfig) -> "Runner":
        return cls(**config.as_options())

    # -- for the executors ----------------------------------------------------------------------
    def worker_spec(self, known_refs: Mapping[str, set[str]], positions: Mapping[str, int]) -> dict[str, Any]:
        """Everything a remote worker needs to build the same :class:`ShardProcessor` (picklable)."""
        c, plan = self.config, self.plan
        return {"method": c.method if isinstance(c.method, str) else plan.method,
                "method_options": dict(c.method_options or {}), "device": c.device, "degradation": plan.degradation,
                "method_name": plan.method_name, "metrics": list(plan.metrics), "metric_options": plan.metric_options,
                "seed": plan.seed, "batch_size": self.batch_size, "workers": self.workers,
                "save_images": c.save_images, "image_folder": str(self.processor.image_folder.resolve()),
                "cwd": os.getcwd(), "channels": plan.channels, "known_refs": {k: set(v) for k, v in known_refs.items()},
                "positions": dict(positions), "max_pixels": plan.max_pixels, "align": plan.align}

    # -- the run --------------------------------------------------------------------------------
    def run(self) -> RunSummary:
        started = time.perf_counter()
        plan, c = self.plan, self.config
        ordered = plan.ordered_samples()
        positions = {sample.id: index for index, sample in enumerate(ordered)}
        samples = ordered if c.limit is None else ordered[: c.limit]
        per_image, set_level = list(self.per_image_metrics), list(self.set_metrics)
        store = ResultStore(self.store_path)
        try:
            identity = plan.identity()
            # the lease first: a process refused because another one writes this run changes nothing
            run_id = run_id_for(identity)
            token, recovered = store.acquire_lease(run_id, command=" ".join(sys.argv[:12])[:300])
            notes = list(plan.notes)
            if store.migrated_from is not None:
                notes.append(f"the store was migrated to the current schema; the old file is kept as "
                             f"{store.migrated_from}")
            if recovered is not None:
                notes.append(f"recovered the writer lease left by {recovered.describe()} (no longer running)")
            try:
                with Heartbeat(str(self.store_path), run_id, token):
                    config = {"metrics": list(self.metrics), "limit": c.limit, "batch_size": self.batch_size,
                              "save_images": c.save_images, "out": str(c.out), "executor": self.executor.describe(),
                              "method_files": plan.method_files, CONFIG_KEY: dataset_counts(plan.dataset)}
                    store.open_run(identity, method=plan.method_name, dataset=plan.dataset.name,
                                   protocol=plan.protocol_name(), seed=plan.seed, synthetic=plan.dataset.synthetic,
                                   config=config, n_planned=len(samples))
                    store.register_metrics(plan.metric_infos())
                    store.register_run_metrics(run_id, plan.metric_entries())
                    store.write_dataset_issues(run_id, [(i.path, i.reason) for i in plan.dataset.issues], token=token)
                    done = store.completed(run_id, per_image, set_level, outputs=bool(c.save_images))
                    todo: list[tuple[Sample, set[str]]] = []
                    for sample in samples:
                        missing = done.get(sample.id)
                        if missing is None:
                            todo.append((sample, set(per_image) | set(set_level)))
                        elif missing:
                            todo.append((sample, missing))
                    self._process(store, run_id, token, todo, len(samples) - len(todo), len(samples), positions)
                    set_results = self._finish_set_metrics(store, run_id, token, notes)
                    store.finish_run(run_id, token)
            finally:
                store.release_lease(run_id, token)
            info = next(row for row in store.runs() if row["run_id"] == run_id)
            return RunSummary(
                run_id=run_id, store=str(self.store_path), method=plan.method_name, dataset=plan.dataset.name,
                protocol=plan.protocol_name(), n_planned=len(samples), n_skipped=len(samples) - len(todo),
                n_processed=len(todo), n_ok=info["n_ok"], n_failed=info["n_error"],
                seconds=time.perf_counter() - started, metric_means=store.metric_summary(run_id),
                set_results=set_results, errors=store.errors(run_id), synthetic=plan.dataset.synthetic,
                dataset_issues=[(issue.path, issue.reason) for issue in plan.dataset.issues],
                layouts={name: leaderboard_layout(metric) for name, metric in self.metrics.items()},
                executor=self._executor_note(), selection=plan.selection_note(len(samples)), notes=notes,
                dataset_counts=dataset_counts(plan.dataset))
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

    def _image_folder(self, run_id: str) -> Path:
        """Where ``--save-images`` writes: one folder per run (another weights file is another folder)."""
        plan = self.plan
        name = f"{plan.dataset.name}-{plan.protocol_name()}-{plan.method_name}-{run_id}"
        return Path(self.config.out) / "restored" / name

    def _process(self, store: ResultStore, run_id: str, token: str, todo: Sequence[tuple[Sample, set[str]]],
                 n_skipped: int, n_total: int, positions: Mapping[str, int]) -> None:
        from tqdm import tqdm

        plan = self.plan
        # HQ-side vectors of these faces computed by any earlier run (any method) are not computed again
        known_refs = {channel: (store.ref_vector_keys(channel) if todo else set())
                      for ch in plan.channels.values() for side, channel in ch.values() if side == "reference"}
        self.processor = ShardProcessor(
            method=plan.method, method_name=plan.method_name, degradation=plan.degradation, metrics=self.metrics,
            seed=plan.seed, batch_size=self.batch_size, workers=self.workers, save_images=self.config.save_images,
            image_folder=self._image_folder(run_id), channels=plan.channels, known_refs=known_refs,
            positions=positions, max_pixels=plan.max_pixels, aligner=plan.aligner)
        bar = tqdm(total=n_total, initial=n_skipped, unit="img", disable=not self.config.progress,
                   desc=f"{plan.method_name} on {plan.dataset.name}", dynamic_ncols=True)
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

    def _finish_set_metrics(self, store: ResultStore, run_id: str, token: str,
                            notes: list[str]) -> dict[str, dict[str, float | None]]:
        """Each set-level metric over all the run's members (its warnings go to the summary's notes)."""
        results = {}
        release_free_memory()  # the last batch's pages: the set-level folds start from a trimmed heap
        for name, metric in self.set_metrics.items():
            ids = store.set_member_ids(run_id, name)
            if not ids:
                continue
            values = compute_on_ids(store, run_id, name, ids, instance=metric, warnings_out=notes)
            store.write_set_results(run_id, name, values, ids, token=token)
            results[name] = values
        return results
