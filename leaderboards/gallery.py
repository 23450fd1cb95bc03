"""The report's gallery: a seeded choice of faces of one setting, LQ | each method's restoration | HQ.

Faces: the first ``n`` of the setting's compared ids (the faces every run of the table restored) in the
order ``sha256("frbench-gallery:{seed}:{id}")`` -- independent of the store's row order, the same for every
method, nested in ``n``.

Images, all rebuilt from what the run recorded, never guessed:

* HQ: the dataset rebuilt from the run identity (name, root, options); LQ: the run's degradation protocol
  (rebuilt by name; its description must equal the recorded one, software versions aside) applied with the
  run seed to the sample id -- the LQ is a function of (seed, id) only.  Its size is checked against the
  stored ``lq_size``.  A captured-LQ dataset gives its LQ file.
* restored: the PNG the run saved (``--save-images``: ``restored_path`` of the sample row) when it exists;
  otherwise the method is rebuilt from the registry and re-run on the LQ -- only when its description and
  the sha256 of the files it loads equal the run identity's (a method whose options are not reproducible
  that way is not regenerated).  A regenerated image is checked against the run's stored PSNR of the
  sample when there is one (difference < :data:`PSNR_TOLERANCE_DB`: a network run on one image instead of
  the run's batch may round a few pixels the other way -- measured up to ~1e-4 dB for DebiasFR on CPU; a
  different image differs by far more); a mismatch drops the image with a note.
* predictions: the stored per-image predictions (attr family vectors) of the restored image and of the HQ.
* IFQA map: when the run has ``ifqa``/``ifqa_vit``, the metric rebuilt with the run's options maps the
  restored image (a heat map at the network's resolution).

Nothing that fails here stops the report: every problem becomes a note shown under the gallery.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from bench.core.types import GENDER_LABELS
from bench.harness.store import ResultStore


def pick_ids(ids: Sequence[str], n: int, seed: int) -> list[str]:
    """The first ``n`` of ``ids`` in the seeded order ``sha256("frbench-gallery:{seed}:{id}")``."""
    return sorted(ids, key=lambda s: hashlib.sha256(f"frbench-gallery:{seed}:{s}".encode()).hexdigest())[:max(0, n)]


@dataclass
class Tile:
    """One image of the gallery with its caption lines (uint8 HxWx3, or None with a reason)."""

    title: str
    image: np.ndarray | None
    lines: list[str] = field(default_factory=list)
    ifqa: np.ndarray | None = None


@dataclass
class GalleryRow:
    sample_id: str
    tiles: list[Tile]


def _strip_software(description: Any) -> Any:
    if isinstance(description, dict):
        return {k: _strip_software(v) for k, v in description.items() if k != "software"}
    return description


def _canon(value: Any) -> str:
    return json.dumps(_strip_software(value), sort_keys=True, default=str)


class _Setting:
    """The dataset and degradation of a setting, rebuilt from the first run's identity."""

    def __init__(self, run: dict[str, Any]) -> None:
        from bench.core.registry import DATASETS, DEGRADATIONS

        ident = run["identity"]
        d = ident.get("dataset") or {}
        self.dataset = DATASETS.build(d["name"], root=d.get("root"), **dict(d.get("options") or {}))
        self.samples = {s.id: s for s in self.dataset.samples}
        self.seed = int(ident.get("seed") or 0)
        self.degradation = None
        if ident.get("degradation"):
            self.degradation = DEGRADATIONS.create(ident["degradation"]["name"])
            rebuilt = getattr(self.degradation, "describe", lambda: None)()
            if _canon(rebuilt) != _canon(ident["degradation"]):
                raise ValueError(f"protocol {ident['degradation']['name']} of this frbench differs from the "
                                 f"recorded one: LQ images cannot be reproduced")

    def images(self, sample_id: str) -> tuple[np.ndarray | None, np.ndarray]:
        from bench.core.imageio import read_image

        sample = self.samples[sample_id]
        hq = read_image(sample.hq, name=sample.describe_source("hq")) if sample.hq is not None else None
        if sample.lq is not None:
            return hq, read_image(sample.lq, name=sample.describe_source("lq"))
        hq = getattr(self.degradation, "reference", lambda image: image)(hq)  # debiasfr*: the 512 px working HQ
        lq, _ = self.degradation.apply(hq, self.seed, sample_id)
        return hq, lq


def _regenerator(run: dict[str, Any]):
    """The run's method rebuilt from the registry when it reproduces the recorded identity, else a reason."""
    from bench.core.provenance import record_files
    from bench.core.registry import METHODS

    ident = run["identity"]
    recorded = ident.get("method") or {}
    for name in dict.fromkeys([run["method"], recorded.get("name")]):
        if not name or name not in METHODS:
            continue
        with record_files() as files:
            method = METHODS.build(name, device="cpu")
        describe = getattr(method, "describe", None)
        same = _canon(describe() if callable(describe) else {"name": name}) == _canon(recorded)
        if same and sorted(set(files.digests().values())) == sorted(ident.get("method_files_sha256") or []):
            return method, ""
    return None, (f"{run['method']}: restorations not saved (run without --save-images) and the method cannot be "
                  f"rebuilt with the recorded configuration from the registry defaults")


def _restore(method: Any, lq: np.ndarray, hq: np.ndarray | None, sample) -> np.ndarray:
    import torch

    from bench.harness.processing import image_to_tensor, tensor_to_uint8

    attrs = [sample.attributes] if getattr(method, "uses_attributes", False) else None
    with torch.no_grad():
        out = method.restore(image_to_tensor([lq]), attributes=attrs, out_size=hq.shape[:2] if hq is not None else None)
    return tensor_to_uint8(out)[0]


#: largest PSNR difference (dB) between a regenerated restoration and the run's stored value that is shown
PSNR_TOLERANCE_DB = 1e-3


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR (dB) of two uint8 images with the frbench ``psnr`` metric."""
    from bench.core.registry import METRICS
    from bench.harness.processing import image_to_uint8_tensor

    metric = METRICS.build("psnr")
    return float(metric(image_to_uint8_tensor([a]), image_to_uint8_tensor([b]))[0])


def _prediction_lines(frame, sample_id: str, side: str) -> list[str]:
    if frame is None or sample_id not in frame.index:
        return []
    row = frame.loc[sample_id]
    if row.get(f"{side}.status") == 1:
        return ["no face found"]
    age, gender = row.get(f"{side}.age_years"), row.get(f"{side}.gender")
    parts = []
    if age is not None and math.isfinite(age):
        parts.append(f"age {age:.0f}")
    if gender is not None and math.isfinite(gender):
        parts.append("male" if gender == 1 else "female")
    return [" · ".join(parts)] if parts else []


def _ifqa_maps(store: ResultStore, run: dict[str, Any], images: list[np.ndarray]) -> list[np.ndarray] | None:
    from bench.core.registry import METRICS
    from bench.harness.processing import image_to_uint8_tensor

    entries = store.run_metrics(run["run_id"])
    name = next((m for m in ("ifqa", "ifqa_vit") if m in entries), None)
    if name is None or not images:
        return None
    metric = METRICS.build(name, **dict(entries[name].get("options") or {}))
    metric.prepare()
    return [m.numpy() for m in metric.maps(image_to_uint8_tensor(images))]


def build_gallery(store: ResultStore, table: dict[str, Any], n: int, seed: int,
                  label_of: dict[str, str]) -> tuple[list[GalleryRow], list[str]]:
    """Rows of the gallery of one leaderboard table and the notes (what could not be shown, and why)."""
    from bench.core.imageio import read_image
    from leaderboards.export import prediction_metrics, stored_predictions

    runs = table["runs"]
    common = sorted(set.intersection(*(set(v) for v in table["compared_ids"].values()))) if runs else []
    ids = pick_ids(common, n, seed)
    notes: list[str] = []
    if not ids:
        return [], ["no face restored by every run of this setting"]
    try:
        setting = _Setting(runs[0])
    except Exception as exc:  # a dataset moved, a protocol changed: no images, say why
        return [], [f"HQ/LQ images cannot be rebuilt: {exc}"]
    restored: dict[str, dict[str, np.ndarray]] = {r["run_id"]: {} for r in runs}
    try:
        inputs = {sid: setting.images(sid) for sid in ids}
    except Exception as exc:  # an image moved or unreadable since the run
        return [], [f"HQ/LQ images cannot be read again: {exc}"]
    for run in runs:
        rid = run["run_id"]
        rows = {r["sample_id"]: r for r in store.sample_rows(rid)}
        missing = []
        for sid in ids:
            path = rows[sid].get("restored_path")
            if path and Path(path).is_file():
                restored[rid][sid] = read_image(path)
            else:
                missing.append(sid)
        if not missing:
            continue
        try:
            method, why = _regenerator(run)
        except Exception as exc:  # weights absent on this machine, a plug-in that fails to build
            method, why = None, f"{run['method']}: restorations not saved and the method cannot be rebuilt: {exc}"
        if method is None:
            notes.append(why)
            continue
        psnr = {sid: v for _, sid, m, v, _ in store.scores(rid) if m == "psnr" and v is not None}
        checked = 0
        for sid in missing:
            hq, lq = inputs[sid]
            try:
                image = _restore(method, lq, hq, setting.samples[sid])
            except Exception as exc:
                notes.append(f"{label_of.get(rid, run['method'])}: regenerating {sid} failed: {exc}")
                continue
            if sid in psnr and hq is not None and math.isfinite(psnr[sid]):
                if abs(_psnr(image, hq) - psnr[sid]) > PSNR_TOLERANCE_DB:
                    notes.append(f"{label_of.get(rid, run['method'])}: regenerated {sid} differs from the run's "
                                 f"(PSNR {_psnr(image, hq):.6f} vs stored {psnr[sid]:.6f} dB): not shown")
                    continue
                checked += 1
            restored[rid][sid] = image
        notes.append(f"{label_of.get(rid, run['method'])}: restorations regenerated from the recorded configuration "
                     f"({checked} of {len(missing)} checked against the stored PSNR)")
    predictions = {}
    for run in runs:
        metrics = prediction_metrics(store, run["run_id"])
        predictions[run["run_id"]] = stored_predictions(store, run["run_id"], metrics[0], [
            s for s in ids if s in set(store.set_member_ids(run["run_id"], metrics[0]))]) if metrics else None
    maps: dict[str, list[np.ndarray] | None] = {}
    for run in runs:
        have = [sid for sid in ids if sid in restored[run["run_id"]]]
        try:
            found = _ifqa_maps(store, run, [restored[run["run_id"]][s] for s in have])
            maps[run["run_id"]] = None if found is None else dict(zip(have, found))
        except Exception as exc:
            notes.append(f"{run['method']}: IFQA maps not drawn ({exc})")
    first = next((p for p in predictions.values() if p is not None), None)
    out = []
    for sid in ids:
        hq, lq = inputs[sid]
        attributes = setting.samples[sid].attributes
        label = " · ".join(([f"age {attributes.age}"] if attributes.age is not None else [])
                           + ([GENDER_LABELS[int(attributes.gender)]] if attributes.gender is not None else []))
        tiles = [Tile("LQ", lq, [f"{lq.shape[1]}x{lq.shape[0]}"])]
        for run in runs:
            rid = run["run_id"]
            tile = Tile(label_of.get(rid, run["method"]), restored[rid].get(sid),
                        _prediction_lines(predictions[rid], sid, "restored"))
            tile.ifqa = (maps.get(rid) or {}).get(sid)
            if tile.ifqa is not None:
                tile.lines.append(f"IFQA map mean {float(np.mean(tile.ifqa, dtype=np.float64)):.4f}")
            tiles.append(tile)
        tiles.append(Tile("HQ", hq, _prediction_lines(first, sid, "hq") + ([f"label: {label}"] if label else [])))
        out.append(GalleryRow(sid, tiles))
    return out, notes
