"""The LQ inputs of a dataset + protocol a run would give a method, as PNG files, for a restorer outside frbench.

    bench lq --dataset utkface --root R --degradation x8 --limit 100 --out lq/
    (restore lq/*.png elsewhere into restored/, one file per input, same name)
    bench run --method external -M folder=restored -M name=MyRestorer --dataset utkface --root R \\
              --degradation x8 --limit 100

The images are made by the runner's own code path, not a copy of it: the samples are those of ``bench run``
with the same ``--limit / --subset / --subset-seed`` (:func:`bench.harness.selection.select`), and each is
decoded and degraded by :class:`bench.harness.processing.ShardProcessor` (degradation seeded by the run seed
and the sample id, as in a run), with a "method" that returns its input and the processor's ``--save-images``
step writing it (8-bit PNG, lossless).  So ``<out>/<sample_id>.png`` is, pixel for pixel, the LQ a method
receives in ``bench run`` with the same options (``/`` in an id makes a sub-folder).  Captured-LQ datasets give
their decoded LQ files.

``<out>/manifest.csv``: one row per sample: ``id, file, protocol, seed, sha256`` (of the PNG file), ``height,
width`` of the LQ, ``params`` (the degradation's per-image parameters as JSON) and ``error`` (empty when
written; an unreadable HQ is reported there and on stderr and the other images are written).
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Mapping

from bench.core.defaults import DEFAULTS

MANIFEST = "manifest.csv"
COLUMNS = ("id", "file", "protocol", "seed", "sha256", "height", "width", "params", "error")


class LQPassThrough:
    """The "method" of ``bench lq``: returns the LQ batch unchanged, so the processor's save step writes the LQ."""

    name = "lq"
    uses_attributes = False

    def restore(self, lq, attributes=None, out_size=None):
        return lq


def write_lq_inputs(dataset: str, out: str | Path, *, root: str | None = None,
                    dataset_options: Mapping[str, Any] | None = None, degradation: str | None = None,
                    seed: int = DEFAULTS["seed"], limit: int | None = DEFAULTS["limit"], subset: str = DEFAULTS["subset"],
                    subset_seed: int | None = None, workers: int = DEFAULTS["workers"],
                    max_pixels: int = DEFAULTS["max_pixels"]) -> dict[str, Any]:
    """Write the LQ inputs and the manifest (module documentation); ``{"protocol", "written", "errors", "manifest"}``."""
    from bench.core.errors import ConfigurationError
    from bench.core.provenance import file_sha256
    from bench.core.registry import DATASETS, DEGRADATIONS
    from bench.harness import selection
    from bench.harness.processing import ShardProcessor

    data = DATASETS.build(dataset, root=root, **dict(dataset_options or {}))
    kinds = {sample.lq is not None for sample in data.samples}
    if kinds == {True, False}:
        raise ConfigurationError(f"dataset '{data.name}' mixes samples with and without a captured LQ: one run has "
                                 f"one protocol")
    captured = kinds == {True}
    degrade = None if captured else DEGRADATIONS.create(degradation or DEFAULTS["degradation"])
    protocol = "captured" if captured else degrade.name
    order_seed = int(seed) if subset_seed is None else int(subset_seed)
    samples = selection.select(data.samples, limit, subset, order_seed)
    out = Path(out)
    processor = ShardProcessor(method=LQPassThrough(), method_name="lq", degradation=degrade, metrics={}, seed=seed,
                               batch_size=16, workers=workers, save_images=True, image_folder=out,
                               max_pixels=max_pixels)
    rows, errors = [], []
    for result in processor.batches([(sample, set()) for sample in samples]):
        for record in result.records:
            error = record.error or record.output_error
            row = {"id": record.sample_id, "protocol": protocol, "seed": int(seed), "error": error or "",
                   "params": json.dumps(record.degradation, sort_keys=True, default=str) if record.degradation else ""}
            if error is None and record.restored_path:
                path = Path(record.restored_path)
                row.update(file=path.relative_to(out).as_posix(), sha256=file_sha256(path),
                           height=record.lq_size[0], width=record.lq_size[1])
            else:
                errors.append((record.sample_id, error))
            rows.append(row)
    out.mkdir(parents=True, exist_ok=True)
    manifest = out / MANIFEST
    with open(manifest, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return {"protocol": protocol, "written": len(rows) - len(errors), "errors": errors, "manifest": manifest,
            "dataset": data.name, "planned": len(samples), "total": len(data.samples)}
