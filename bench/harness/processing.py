"""Processing a list of samples: decode, degrade, restore, quantise, score, set-level vectors.

:class:`ShardProcessor` is steps 1-5 of a run (see :mod:`bench.harness.runner`), shared by every executor
(:mod:`bench.harness.executors`): the local executor feeds it the pending samples batch by batch; the Ray
executor runs it on shards in remote actors.  It never touches the store: it returns, per batch or
shard, a :class:`ShardResult` with the per-image rows and the set-level rows (per-image vectors and
members, :class:`bench.harness.store.SetRows`), which the driver writes in one transaction.

For each batch the processor

1. decodes every image once (HQ and captured LQ; in a thread pool, one batch ahead) and keys each HQ
   image by its content (``hq_key``: blake2b of the decoded pixels), so HQ-side vectors are shared by
   every run on the same faces,
2. synthesises the LQ from the HQ with the degradation protocol, seeded by (run seed, sample id),
3. restores the LQ images grouped by shape (one tensor batch per group),
4. quantises the restored images to 8 bits (as if saved as PNG and re-read) and hands the same tensors
   to every per-image metric and every set-level metric,
5. computes the set-level metrics' per-image vectors: restored side for every member, HQ side only
   for HQ images whose vector of that channel is not known yet (``known_refs``), and optionally saves
   the restored images.

A problem with one image (unreadable, truncated, a method or metric failure) becomes a recorded error
naming the file and the cause; the run goes on.
"""
from __future__ import annotations

import hashlib
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from bench.core.defaults import DEFAULTS
from bench.core.imageio import ImageReadError, read_image, write_png
from bench.core.memory import configure_allocator, release_free_memory
from bench.core.registry import DEGRADATIONS, METHODS, METRICS
from bench.data.alignment import make_aligner
from bench.harness.store import SampleRecord, SetRows
from bench.core.types import PerImageMetric, Sample, SetMetric


def image_to_tensor(images: Sequence[np.ndarray]):
    """``uint8 [H, W, 3]`` arrays -> float32 ``[B, 3, H, W]`` in ``[0, 1]`` (method input)."""
    return image_to_uint8_tensor(images).float().div_(255.0)


def image_to_uint8_tensor(images: Sequence[np.ndarray]):
    """``uint8 [H, W, 3]`` arrays -> contiguous ``uint8 [B, 3, H, W]`` (metric input, 0..255)."""
    import torch

    array = np.stack(images, axis=0)  # [B, H, W, 3]
    return torch.from_numpy(array).permute(0, 3, 1, 2).contiguous()


def tensor_to_uint8(batch) -> np.ndarray:
    import torch

    with torch.no_grad():
        q = batch.detach().to("cpu", torch.float32).clamp(0.0, 1.0).mul(255.0).round_().to(torch.uint8)
    return q.permute(0, 2, 3, 1).contiguous().numpy()


def content_key(image: np.ndarray) -> str:
    """Key of a decoded image's content: blake2b-128 of its shape and pixels (HQ-side vector sharing)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr((image.shape, str(image.dtype))).encode())
    digest.update(np.ascontiguousarray(image).tobytes())
    return digest.hexdigest()


def metric_extra_outputs(metric: Any) -> tuple[str, ...]:
    """The extra per-image columns a metric declares (``extra_outputs``; empty for most metrics)."""
    extras = tuple(getattr(metric, "extra_outputs", ()) or ())
    return extras if callable(getattr(metric, "details", None)) else ()


def _metric_columns(name: str, metric: Any, restored, reference) -> dict[str, list[float]]:
    """Score columns of one metric call: ``{name: [B]}``, plus ``{name.extra: [B]}`` for each extra output."""
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


def short_error(exc: BaseException) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    return text.splitlines()[0][:500]


def build_metrics(names: Sequence[str], metric_options: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {name: METRICS.build(name, **dict(metric_options.get(name) or {})) for name in names}


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


@dataclass
class ShardResult:
    """What processing a list of samples gives: per-image rows and the set-level rows (vectors, members)."""

    records: list[SampleRecord]
    set_rows: SetRows = field(default_factory=SetRows)


class MetricGroups:
    """``per_image_metrics`` / ``set_metrics`` views of ``self.metrics`` (the runner and the processor)."""

    metrics: dict[str, Any]

    @property
    def per_image_metrics(self) -> dict[str, PerImageMetric]:
        return {n: m for n, m in self.metrics.items() if not isinstance(m, SetMetric)}

    @property
    def set_metrics(self) -> dict[str, SetMetric]:
        return {n: m for n, m in self.metrics.items() if isinstance(m, SetMetric)}


class ShardProcessor(MetricGroups):
    """Steps 1-5 of a run on a list of samples (see the module documentation).  Never touches the store.

    ``channels``: per set-level metric, ``{vector: (side, channel)}`` (computed once by the driver);
    ``known_refs``: per channel, the HQ content keys whose HQ-side vector the store already holds;
    ``positions``: sample id -> position in the run's seeded order (stored with the row).
    """

    def __init__(self, *, method: Any, method_name: str, degradation: Any, metrics: Mapping[str, Any], seed: int,
                 batch_size: int, workers: int, save_images: bool, image_folder: str | Path,
                 channels: Mapping[str, Mapping[str, tuple[str, str]]] | None = None,
                 known_refs: Mapping[str, set[str]] | None = None, positions: Mapping[str, int] | None = None,
                 max_pixels: int | None = None, aligner: Any = None) -> None:
        self.aligner = aligner  # the alignment protocol step (bench.data.alignment), or None
        self.method, self.method_name, self.degradation = method, method_name, degradation
        self.max_pixels = None if max_pixels is None else int(max_pixels)  # None: DEFAULTS["max_pixels"]
        self.metrics = dict(metrics)
        self.seed, self.batch_size, self.workers = int(seed), int(batch_size), max(1, int(workers))
        self.save_images, self.image_folder = save_images, Path(image_folder)
        self.channels = {name: dict(ch) for name, ch in (channels or {}).items()}
        self.known_refs = {channel: set(keys) for channel, keys in (known_refs or {}).items()}
        self.positions = dict(positions or {})

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> "ShardProcessor":
        """Build a processor from :meth:`bench.harness.runner.Runner.worker_spec` (in a remote worker: loads the
        method and metrics there, once)."""
        method = spec["method"]
        if isinstance(method, str):
            method = METHODS.build(method, device=spec["device"], **dict(spec.get("method_options") or {}))
        degradation = spec["degradation"]
        if isinstance(degradation, str):
            degradation = DEGRADATIONS.create(degradation)
        metrics = build_metrics(spec["metrics"], spec.get("metric_options") or {})
        for metric in metrics.values():
            getattr(metric, "prepare", lambda: None)()
        return cls(method=method, method_name=spec["method_name"], degradation=degradation, metrics=metrics,
                   seed=spec["seed"], batch_size=spec["batch_size"], workers=spec["workers"],
                   save_images=spec["save_images"], image_folder=spec["image_folder"], channels=spec["channels"],
                   known_refs=spec["known_refs"], positions=spec["positions"], max_pixels=spec.get("max_pixels"),
                   aligner=make_aligner(spec.get("align", "none")))

    # -- entry points ---------------------------------------------------------------------------
    def batches(self, todo: Sequence[tuple[Sample, set[str]]]) -> Iterator[ShardResult]:
        """One :class:`ShardResult` per batch of ``batch_size`` consecutive samples of ``todo``; the next
        batch is decoded in the thread pool while one is restored and scored."""
        chunks = [list(todo[start:start + self.batch_size]) for start in range(0, len(todo), self.batch_size)]
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="frbench-decode") as pool:

            def submit(batch: list[tuple[Sample, set[str]]]) -> list[Future]:
                return [pool.submit(self._prepare_one, sample, missing) for sample, missing in batch]

            configure_allocator(DEFAULTS["malloc_mmap_threshold"])
            pending = submit(chunks[0]) if chunks else []
            for index in range(len(chunks)):
                if index:  # the previous batch is written and freed: give its pages back (flat RSS)
                    release_free_memory()
                items = [future.result() for future in pending]
                # decode the next batch while this one is restored and scored
                pending = submit(chunks[index + 1]) if index + 1 < len(chunks) else []
                self._restore_and_score(items)
                yield ShardResult(records=[it.record for it in items], set_rows=self._set_rows(items))

    def process(self, todo: Sequence[tuple[Sample, set[str]]]) -> ShardResult:
        """All of ``todo`` (one shard) in one result (batches cut exactly as :meth:`batches` cuts them)."""
        out = ShardResult(records=[])
        for result in self.batches(todo):
            out.records.extend(result.records)
            out.set_rows.extend(result.set_rows)
        return out

    # -- stage 1: decode and degrade (runs in worker threads) -----------------------------------
    def _prepare_one(self, sample: Sample, missing: set[str]) -> _Item:
        record = SampleRecord(sample_id=sample.id, attributes=sample.attributes.to_dict(),
                              source=sample.describe_source("lq" if sample.lq is not None else "hq"),
                              position=self.positions.get(sample.id))
        item = _Item(sample=sample, record=record, missing=missing, started=time.perf_counter())
        stage = "decode"
        try:
            if sample.hq is not None:
                info: dict[str, Any] = {}
                item.hq = read_image(sample.hq, name=sample.describe_source("hq"), max_pixels=self.max_pixels,
                                     info=info)
                if "exif_orientation" in info:  # applied (as cv2.imread does) and recorded with the row
                    record.notes["hq_exif_orientation"] = info["exif_orientation"]
                if self.aligner is not None:  # HQ re-aligned first: the LQ, the method and every metric see that frame
                    stage = "align"
                    item.hq, record.notes["alignment"] = self.aligner.align(item.hq)
                    stage = "decode"
                record.hq_size = list(item.hq.shape[:2])
                record.hq_key = content_key(item.hq)
            if sample.lq is not None:
                info = {}
                item.lq = read_image(sample.lq, name=sample.describe_source("lq"), max_pixels=self.max_pixels,
                                     info=info)
                if "exif_orientation" in info:
                    record.notes["lq_exif_orientation"] = info["exif_orientation"]
                record.degradation = {"protocol": "captured"}
            elif item.hq is not None:
                stage = "degrade"
                reference = getattr(self.degradation, "reference", lambda hq: hq)(item.hq)
                if reference is not item.hq:  # the protocol's working HQ (debiasfr*: 512 px) is the metrics' reference
                    record.notes["hq_native_size"], item.hq = record.hq_size, reference
                    record.hq_size, record.hq_key = list(item.hq.shape[:2]), content_key(item.hq)
                item.lq, params = self.degradation.apply(item.hq, self.seed, sample.id)
                record.degradation = params
            else:
                raise ImageReadError(sample.id, "sample has neither an HQ nor an LQ image")
            record.lq_size = list(item.lq.shape[:2])
        except ImageReadError as exc:
            record.status, record.stage, record.error = "error", stage, f"{exc.path}: {exc.cause}"
        except Exception as exc:  # one bad image never kills the run
            record.status, record.stage = "error", stage
            record.error = f"{sample.describe_source('hq')}: {short_error(exc)}"
        return item

    # -- stage 2 and 3: restore, quantise, score ------------------------------------------------
    def _restore_and_score(self, items: list[_Item]) -> None:
        groups: dict[tuple, list[_Item]] = {}
        for item in items:
            if item.record.status == "ok":
                key = (item.lq.shape, item.hq.shape if item.hq is not None else None)
                groups.setdefault(key, []).append(item)
        for (_, hq_shape), group in groups.items():
            if getattr(self.method, "uses_sample_ids", False):  # outputs read by sample id (baselines.external)
                self._restore_by_id(group, hq_shape)
                continue
            try:
                lq = image_to_tensor([it.lq for it in group])
                out_size = tuple(hq_shape[:2]) if hq_shape is not None else None
                attrs = [it.sample.attributes for it in group] if getattr(self.method, "uses_attributes", False) else None
                restored = self.method.restore(lq, attributes=attrs, out_size=out_size)
                restored_u8 = tensor_to_uint8(restored)
            except Exception as exc:
                for it in group:
                    it.record.status, it.record.stage = "error", "restore"
                    it.record.error = f"{it.record.source}: {self.method_name} failed: {short_error(exc)}"
                    it.record.seconds = time.perf_counter() - it.started
                continue
            for it, image in zip(group, restored_u8):
                it.restored = image
            self._score_group(group, restored_u8)
            if self.save_images:
                self._save(group)
        for item in items:
            item.record.seconds = time.perf_counter() - item.started

    def _restore_by_id(self, group: list[_Item], hq_shape: tuple | None) -> None:
        """Methods declaring ``uses_sample_ids``: one ``restore(..., sample_ids=[id])`` call per sample, so that a
        missing or bad output is that image's error only; the outputs are then scored together, per size."""
        out_size = tuple(hq_shape[:2]) if hq_shape is not None else None
        by_size: dict[tuple, list[_Item]] = {}
        for it in group:
            try:
                attrs = [it.sample.attributes] if getattr(self.method, "uses_attributes", False) else None
                it.restored = tensor_to_uint8(self.method.restore(image_to_tensor([it.lq]), attributes=attrs,
                                                                  out_size=out_size, sample_ids=[it.sample.id]))[0]
                by_size.setdefault(it.restored.shape, []).append(it)
            except Exception as exc:
                it.record.status, it.record.stage = "error", "restore"
                it.record.error = f"{it.record.source}: {self.method_name} failed: {short_error(exc)}"
        for same in by_size.values():
            self._score_group(same, np.stack([it.restored for it in same]))
            if self.save_images:
                self._save(same)

    def _score_group(self, group: list[_Item], restored_u8: np.ndarray) -> None:
        import torch

        from metrics.color import shared_conversions

        restored = torch.from_numpy(restored_u8).permute(0, 3, 1, 2).contiguous()
        reference = None
        if any(it.hq is not None for it in group):
            reference = image_to_uint8_tensor([it.hq for it in group])
        height, width = (int(v) for v in restored.shape[-2:])  # one size per group (grouped by shape)
        with shared_conversions():  # each colour conversion of the batch computed once for all metrics
            self._score_metrics(group, restored, reference, height, width)

    def _score_metrics(self, group: list[_Item], restored, reference, height: int, width: int) -> None:
        from bench.core.types import min_input_side

        for name, metric in self.per_image_metrics.items():
            wanted = [i for i, it in enumerate(group) if name in it.missing]
            if not wanted:
                continue
            minimum = min_input_side(metric)
            if min(height, width) < minimum:  # below the metric's window / block: an error, never a value
                for i in wanted:
                    group[i].record.score_errors[name] = (f"{group[i].record.source}: image {height}x{width} (HxW) is "
                                                          f"smaller than {name}'s minimum {minimum}x{minimum}")
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
                            raise ValueError(short_error(exc))
                        for column, values in _metric_columns(name, metric, restored[i:i + 1], ref).items():
                            group[i].record.scores[column] = values[0]
                    except Exception as exc_one:
                        group[i].record.score_errors[name] = f"{group[i].record.source}: {short_error(exc_one)}"

    # -- stage 5: set-level vectors -------------------------------------------------------------
    def _vectors(self, compute, items: list[_Item], images_of) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, str]]:
        """``compute(tensor, samples)`` per shape group (retried image by image on failure).

        Returns ``({sample id: {vector name: row}}, {sample id: error})``.
        """
        rows: dict[str, dict[str, np.ndarray]] = {}
        errors: dict[str, str] = {}
        by_shape: dict[tuple, list[_Item]] = {}
        for it in items:
            by_shape.setdefault(images_of(it).shape, []).append(it)
        for group in by_shape.values():
            try:
                out = compute(image_to_uint8_tensor([images_of(it) for it in group]), [it.sample for it in group])
                for name, array in out.items():
                    for it, row in zip(group, np.asarray(array)):
                        rows.setdefault(it.sample.id, {})[name] = row
            except Exception:
                for it in group:
                    try:
                        out = compute(image_to_uint8_tensor([images_of(it)]), [it.sample])
                        for name, array in out.items():
                            rows.setdefault(it.sample.id, {})[name] = np.asarray(array)[0]
                    except Exception as exc:
                        errors[it.sample.id] = f"{it.record.source}: {short_error(exc)}"
        return rows, errors

    def _set_rows(self, items: list[_Item]) -> SetRows:
        """Per set-level metric: restored-side vectors of its members, HQ-side vectors not yet known."""
        out = SetRows()
        written: set[tuple[str, str]] = set()
        for name, metric in self.set_metrics.items():
            members = [it for it in items if it.record.status == "ok" and name in it.missing and it.restored is not None]
            if not members:
                continue
            channels = self.channels[name]
            restored_rows, errors = self._vectors(metric.restored_vectors, members, lambda it: it.restored)
            reference = {v: c for v, (side, c) in channels.items() if side == "reference"}
            if reference:
                todo = [it for it in members if it.sample.id not in errors and it.hq is not None and any(
                    it.record.hq_key not in self.known_refs.setdefault(c, set()) for c in reference.values())]
                ref_rows, ref_errors = self._vectors(metric.reference_vectors, todo, lambda it: it.hq)
                errors.update(ref_errors)
                for it in todo:
                    for vector, channel in reference.items():
                        if it.sample.id in ref_rows and vector in ref_rows[it.sample.id]:
                            if it.record.hq_key not in self.known_refs[channel]:
                                out.ref_vectors.append((channel, it.record.hq_key, ref_rows[it.sample.id][vector]))
                                self.known_refs[channel].add(it.record.hq_key)
                for it in members:
                    if it.hq is None and it.sample.id not in errors:
                        errors[it.sample.id] = f"{it.record.source}: metric {name} needs the HQ image; the sample has none"
            for it in members:
                sid = it.sample.id
                if sid in errors:
                    out.members.append((name, sid, errors[sid]))
                    continue
                for vector, (side, channel) in channels.items():
                    if side == "restored" and (sid, channel) not in written:
                        out.vectors.append((sid, channel, restored_rows[sid][vector]))
                        written.add((sid, channel))
                out.members.append((name, sid, None))
        return out

    def _save(self, group: list[_Item]) -> None:
        """Write each restored image (``--save-images``).  A failure (full disk, permissions) makes the row
        incomplete (``output_error``): counted as failed, and restored and saved again by a resume."""
        for it in group:
            path = self.image_folder / f"{it.sample.id}.png"
            try:
                write_png(path, it.restored)
                it.record.restored_path, it.record.output_error = str(path), None
            except Exception as exc:
                it.record.restored_path = None
                it.record.output_error = f"{path}: cannot save the restored image: {short_error(exc)}"
