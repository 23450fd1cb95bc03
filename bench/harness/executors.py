"""Executors: where the samples of a run are processed.  The driver (:class:`bench.harness.runner.Runner`) alone
writes the store, whatever the executor.

``local`` (default)
    :class:`LocalExecutor`: this process, one batch after the other (decoding one batch ahead in a
    thread pool); each batch is written as soon as it is scored.

``ray``
    :class:`RayExecutor`: the pending samples (those the store does not hold yet, in the run's seeded
    order) are cut into contiguous *shards* of ``shard_size`` samples (a multiple of the batch size, so
    the batches inside a shard are exactly those of a local run).  One Ray actor per worker builds the
    method and the metrics ONCE (:meth:`ShardProcessor.from_spec`: a method given by name is loaded on
    the worker, on its device) and receives the list of pending samples once, through the object store
    (``ray.put``); a task then names only its shard (index, start, stop).  The actor runs the same
    :class:`~bench.harness.processing.ShardProcessor` as the local executor and returns the shard's per-image
    rows and set-level vectors (Inception features, attribute predictions: a few KB per image).  The
    driver writes each arriving shard in one SQLite transaction, after checking its writer lease.

Faults: actors are created with ``max_restarts`` and ``max_task_retries`` (``ray_max_retries``), so a
worker process killed mid-shard is restarted (method and metrics reloaded) and the shard is processed
again; should Ray give up, the driver resubmits the shard to a fresh actor (same bound).  Nothing of a
shard is written before its whole result has arrived, so no row is lost or duplicated; a killed driver
leaves whole shards only and the same command resumes from the store, with either executor.
"""
from __future__ import annotations

import math
import os
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from bench.core.defaults import DEFAULTS

if TYPE_CHECKING:  # pragma: no cover
    from bench.harness.processing import ShardResult
    from bench.harness.runner import Runner
    from bench.core.types import Sample

Write = Callable[["ShardResult"], None]

EXECUTORS = ("local", "ray")


class LocalExecutor:
    """Processes every pending sample in this process, batch by batch."""

    name = "local"

    def execute(self, runner: "Runner", todo: Sequence[tuple["Sample", set[str]]], write: Write) -> None:
        for result in runner.processor.batches(todo):
            write(result)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name}


def make_executor(executor: Any = DEFAULTS["executor"], *, address: str | None = DEFAULTS["ray_address"],
                  workers: int | None = DEFAULTS["ray_workers"], shard_size: int | None = DEFAULTS["shard_size"],
                  device: str = DEFAULTS["device"]):
    """``"local"``, ``"ray"`` or an executor object (anything with ``execute(runner, todo, write)``)."""
    if executor is None or executor == "local":
        if address is not None or workers is not None or shard_size is not None:
            from bench.core.errors import ConfigurationError

            raise ConfigurationError("--address, --ray-workers and --shard-size apply to --executor ray only")
        return LocalExecutor()
    if executor == "ray":
        return RayExecutor(address=address, workers=workers, shard_size=shard_size, device=device)
    if isinstance(executor, str):
        from bench.core.errors import ConfigurationError

        raise ConfigurationError(f"unknown executor {executor!r}; expected one of {', '.join(EXECUTORS)}")
    if not callable(getattr(executor, "execute", None)):
        raise TypeError(f"an executor needs execute(runner, todo, write); got {type(executor).__name__}")
    return executor


def require_ray():
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError("--executor ray needs Ray: pip install 'frbench[ray]' (or pip install 'ray>=2.6')") from exc
    return ray


class ShardWorker:
    """The body of a Ray actor: one :class:`~bench.harness.processing.ShardProcessor`, built once per worker process."""

    def __init__(self, refs: list[Any], threads: int, crash_once: tuple[int, str] | None = None) -> None:
        import ray

        # [spec, pending samples]: fetched from the object store once per worker (not per task)
        spec, work = ray.get(refs)
        cwd = spec.get("cwd")
        if cwd and os.path.isdir(cwd):  # relative dataset paths resolve as on the driver (shared filesystem)
            os.chdir(cwd)
        import torch

        torch.set_num_threads(max(1, int(threads)))
        from bench.harness.processing import ShardProcessor

        self.created = time.time()
        self.processor = ShardProcessor.from_spec(spec)
        self.work = work
        self.crash_once = crash_once
        self.tasks = 0

    def process(self, shard: int, start: int, stop: int) -> dict[str, Any]:
        if self.crash_once is not None and self.crash_once[0] == shard and not os.path.exists(self.crash_once[1]):
            # fault injection (tests only): die like a killed worker, once, in the middle of this shard
            Path(self.crash_once[1]).write_text(str(os.getpid()))
            os._exit(1)
        started = time.perf_counter()
        todo = [(sample, set(missing)) for sample, missing in self.work[start:stop]]
        result = self.processor.process(todo)
        self.tasks += 1
        return {"shard": shard, "result": result, "pid": os.getpid(), "node": _node_ip(),
                "seconds": time.perf_counter() - started, "actor_created": self.created, "actor_tasks": self.tasks}


def _node_ip() -> str:
    try:
        import ray

        return ray.util.get_node_ip_address()
    except Exception:  # pragma: no cover
        return "?"


@dataclass
class ShardLog:
    """What the Ray executor did in its last :meth:`RayExecutor.execute` (for tests and benchmarks)."""

    shards: list[tuple[int, int, int]] = field(default_factory=list)  # (index, start, stop)
    pids: dict[int, int] = field(default_factory=dict)  # shard -> worker process that delivered it
    resubmitted: list[int] = field(default_factory=list)  # shards the driver had to submit again
    workers: int = 0
    startup_seconds: float = 0.0  # ray.init + actors ready (method and metrics loaded)
    process_seconds: float = 0.0


class RayExecutor:
    """Process shards of the pending samples in Ray actors (see the module documentation).

    ``address``: ``None`` starts a Ray instance on this machine for the run (or joins ``$RAY_ADDRESS``);
    ``"auto"`` or ``HOST:PORT`` joins an existing cluster (``ray start --head``).  When Ray is already
    initialised in this process, that connection is used and left open.  ``workers``: actors (default:
    as many as the cluster's free CPUs / GPUs allow).  ``shard_size``: samples per task (rounded up to a
    multiple of the batch size; default ``ray_shard_batches`` batches).
    """

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None, shard_size: int | None = None, *,
                 device: str = DEFAULTS["device"], cpus_per_worker: float = DEFAULTS["ray_cpus_per_worker"],
                 gpus_per_worker: float | None = DEFAULTS["ray_gpus_per_worker"],
                 max_retries: int = DEFAULTS["ray_max_retries"], tasks_in_flight: int = 2,
                 startup_timeout: float = DEFAULTS["ray_startup_timeout"], crash_once: tuple[int, str] | None = None) -> None:
        if workers is not None and int(workers) < 1:
            from bench.core.errors import ConfigurationError

            raise ConfigurationError(f"--ray-workers must be >= 1, got {workers}")
        if shard_size is not None and int(shard_size) < 1:
            from bench.core.errors import ConfigurationError

            raise ConfigurationError(f"--shard-size must be >= 1, got {shard_size}")
        self.address, self.workers, self.shard_size = address, workers, shard_size
        self.cpus_per_worker = float(cpus_per_worker)
        self.gpus_per_worker = (1.0 if str(device).startswith("cuda") else 0.0) if gpus_per_worker is None \
            else float(gpus_per_worker)
        self.max_retries, self.tasks_in_flight = int(max_retries), max(1, int(tasks_in_flight))
        self.startup_timeout = float(startup_timeout)
        self.crash_once = crash_once  # tests only: (shard index, marker file): the worker dies once on that shard
        self.log = ShardLog()

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "address": self.address, "workers": self.workers, "shard_size": self.shard_size}

    # -- sharding -------------------------------------------------------------------------------
    def effective_shard_size(self, batch_size: int) -> int:
        size = self.shard_size or DEFAULTS["ray_shard_batches"] * batch_size
        return int(math.ceil(size / batch_size) * batch_size)

    @staticmethod
    def shards(n: int, shard_size: int) -> list[tuple[int, int, int]]:
        """Contiguous chunks ``(index, start, stop)`` of the ``n`` pending samples."""
        return [(index, start, min(start + shard_size, n)) for index, start in enumerate(range(0, n, shard_size))]

    # -- the run --------------------------------------------------------------------------------
    def _connect(self, ray, n_workers_hint: int) -> bool:
        """Initialise Ray if needed; True when this call started the connection (and must close it)."""
        if ray.is_initialized():
            return False
        options: dict[str, Any] = {"include_dashboard": False, "logging_level": "WARNING",
                                   "ignore_reinit_error": True}
        if self.address is not None:
            options["address"] = self.address
        elif not os.environ.get("RAY_ADDRESS"):
            # a new single-machine Ray for this run (never a cluster that happens to run here: that is
            # --address auto), with room for the requested actors even on a small machine
            options["address"] = "local"
            options["num_cpus"] = max(os.cpu_count() or 1, int(math.ceil(n_workers_hint * self.cpus_per_worker)))
        ray.init(**options)
        return True

    def _n_workers(self, ray, n_shards: int) -> int:
        if self.workers is not None:
            wanted = int(self.workers)
        else:
            resources = ray.available_resources()
            if self.gpus_per_worker > 0:
                wanted = int(resources.get("GPU", 0) // self.gpus_per_worker)
            else:
                wanted = int(resources.get("CPU", 1) // max(self.cpus_per_worker, 1e-9))
            wanted = max(1, wanted)
        return max(1, min(wanted, n_shards))

    def execute(self, runner: "Runner", todo: Sequence[tuple["Sample", set[str]]], write: Write) -> None:
        self.log = ShardLog()
        if not todo:
            return
        ray = require_ray()
        import ray.exceptions as rex

        lost = tuple(getattr(rex, name) for name in ("RayActorError", "ActorDiedError", "ActorUnavailableError",
                                                      "WorkerCrashedError") if hasattr(rex, name))
        started = time.perf_counter()
        shard_size = self.effective_shard_size(runner.batch_size)
        shards = self.shards(len(todo), shard_size)
        self.log.shards = shards
        owned = self._connect(ray, self.workers or 1)
        actors: list[Any] = []
        try:
            n_workers = self._n_workers(ray, len(shards))
            self.log.workers = n_workers
            spec_ref = ray.put(runner.worker_spec(runner.processor.known_refs, runner.processor.positions))
            work_ref = ray.put([(sample, sorted(missing)) for sample, missing in todo])
            actor_class = ray.remote(ShardWorker).options(
                num_cpus=self.cpus_per_worker, num_gpus=self.gpus_per_worker, max_restarts=self.max_retries,
                max_task_retries=self.max_retries, max_concurrency=1)
            threads = max(1, int(self.cpus_per_worker))

            def new_actor():
                # the refs are nested in a list: the actor fetches them itself (ray.get), and they stay
                # owned by this driver for restarts
                return actor_class.remote([spec_ref, work_ref], threads, self.crash_once)

            actors = [new_actor() for _ in range(n_workers)]
            # wait until every worker has built its method and metrics (startup cost, reported separately)
            ready_refs = [actor.__ray_ready__.remote() for actor in actors]
            ready, _ = ray.wait(ready_refs, num_returns=len(ready_refs), timeout=self.startup_timeout)
            if len(ready) < len(ready_refs):
                raise RuntimeError(
                    f"Ray could not start {len(ready_refs) - len(ready)} of {n_workers} worker(s) "
                    f"({self.cpus_per_worker:g} CPU, {self.gpus_per_worker:g} GPU each) within "
                    f"{self.startup_timeout:g} s; cluster resources: {ray.cluster_resources()}. "
                    f"Lower --ray-workers or add nodes")
            ray.get(ready_refs)  # raises the error of a worker whose method or metrics failed to load
            self.log.startup_seconds = time.perf_counter() - started
            processing = time.perf_counter()

            pending = deque(shards)
            in_flight: dict[Any, tuple[tuple[int, int, int], int, Any]] = {}
            attempts: dict[int, int] = {}

            def submit(worker: int) -> None:
                shard = pending.popleft()
                in_flight[actors[worker].process.remote(*shard)] = (shard, worker, actors[worker])

            for worker in range(n_workers):
                for _ in range(self.tasks_in_flight):
                    if pending:
                        submit(worker)
            while in_flight:
                ready, _ = ray.wait(list(in_flight), num_returns=1)
                ref = ready[0]
                shard, worker, actor = in_flight.pop(ref)
                try:
                    out = ray.get(ref)
                except lost as exc:
                    # Ray's own restarts/retries are exhausted: a fresh actor gets the shard again
                    attempts[shard[0]] = attempts.get(shard[0], 0) + 1
                    if attempts[shard[0]] > self.max_retries:
                        raise RuntimeError(f"shard {shard[0]} (samples {shard[1]}..{shard[2] - 1}) failed "
                                           f"{attempts[shard[0]]} times: {exc}") from exc
                    self.log.resubmitted.append(shard[0])
                    if actors[worker] is actor:  # not replaced yet (its other task may have failed first)
                        try:
                            ray.kill(actor, no_restart=True)
                        except Exception:  # already gone
                            pass
                        actors[worker] = new_actor()
                    pending.appendleft(shard)
                    submit(worker)
                    continue
                write(out["result"])  # rows + set-level vectors, one transaction (the driver's only write)
                self.log.pids[shard[0]] = out["pid"]
                if pending:
                    submit(worker)
            self.log.process_seconds = time.perf_counter() - processing
        finally:
            for actor in actors:
                try:
                    ray.kill(actor, no_restart=True)
                except Exception:  # pragma: no cover - already dead
                    pass
            if owned:
                ray.shutdown()
