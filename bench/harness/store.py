"""The results store: an embedded SQLite database written batch by batch as a run progresses.

Tables: :mod:`bench.harness.store_schema` (schema 3); opening, migrating, copying and checking a store
file: :mod:`bench.harness.store_files`.

Why per-image vectors and no running state: any subset of a run (e.g. the faces that every method of
a table restored) gives exact set-level values, ``compute(merge(fold(chunk)...))``; and the bytes written
per batch do not grow with the set (a running FID state is 34 MB, rewritten at every batch).

Every batch of a run is written in ONE transaction (sample rows, scores, vectors, members) after checking
the writer lease, in WAL mode: a run killed at any instant leaves whole batches only, and a restarted run
skips exactly the samples whose rows are complete.  Nothing is lost or duplicated (primary keys).
"""
from __future__ import annotations

import json
import math
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from bench.harness import leases
from bench.harness.identity import differences, run_id_for, stable_json  # noqa: F401 (re-exported)
from bench.harness.store_files import StoreError, open_store  # noqa: F401 (StoreError re-exported)
from bench.harness.store_schema import TABLES
from bench.harness.vectors import SetRows, decode_vector, encode_vector, ids_digest  # noqa: F401 (re-exported)


#: the pseudo-metric "the restored image is saved", lacked by an incomplete row of a ``--save-images`` run
SAVE = "save:restored"
#: SQL condition of a sample row that failed: an error, or ``ok`` with a required output not written
FAILED_ROW = "(status='error' OR output_error IS NOT NULL)"


class MetricConfigError(ValueError):
    """A run is asked for a metric it already has, with another configuration (the message names what differs)."""


@dataclass
class SampleRecord:
    """Everything the runner writes for one sample (one row of ``samples`` plus its scores)."""

    sample_id: str
    status: str = "ok"
    stage: str | None = None
    error: str | None = None
    source: str | None = None
    degradation: Mapping[str, Any] | None = None
    attributes: Mapping[str, Any] | None = None
    hq_size: Sequence[int] | None = None
    lq_size: Sequence[int] | None = None
    hq_key: str | None = None
    position: int | None = None
    restored_path: str | None = None
    seconds: float | None = None
    #: how the inputs were read, e.g. ``{"hq_exif_orientation": 6}`` (stored as JSON with the row)
    notes: dict[str, Any] = field(default_factory=dict)
    #: a required output that could not be written (``--save-images``): the row is incomplete, a resume retries it
    output_error: str | None = None
    scores: dict[str, float | None] = field(default_factory=dict)
    score_errors: dict[str, str] = field(default_factory=dict)


def _json_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)  # SQLite stores inf; NaN becomes NULL


class ResultStore:
    """A connection to one results database (created on first use unless ``readonly``)."""

    def __init__(self, path: str | Path, readonly: bool = False) -> None:
        """Open (a write command: create or migrate) the store at ``path``; every refusal is a
        :class:`StoreError` naming the path (policy: :mod:`bench.harness.store_files`)."""
        self.path = Path(path)
        self.readonly = readonly
        self.conn, self.migrated_from = open_store(self.path, readonly)

    # -- context management -----------------------------------------------------------------
    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _transaction(self):
        return _Transaction(self.conn)

    # -- runs ---------------------------------------------------------------------------------
    def open_run(self, identity: Mapping[str, Any], *, method: str, dataset: str, protocol: str,
                 seed: int, synthetic: bool, config: Mapping[str, Any], n_planned: int) -> str:
        run_id = run_id_for(identity)
        now = time.time()
        with self._transaction():
            self.conn.execute(
                "INSERT INTO runs (run_id, method, dataset, protocol, seed, synthetic, identity, config, status,"
                " n_planned, frbench_version, created, updated) VALUES (?,?,?,?,?,?,?,?, 'running', ?, ?, ?, ?)"
                " ON CONFLICT(run_id) DO UPDATE SET config=excluded.config, status='running',"
                " n_planned=MAX(COALESCE(runs.n_planned, 0), excluded.n_planned), updated=excluded.updated",
                (run_id, method, dataset, protocol, int(seed), int(bool(synthetic)), stable_json(identity),
                 stable_json(config), int(n_planned), identity.get("frbench"), now, now),
            )
        return run_id

    def acquire_lease(self, run_id: str, command: str | None = None) -> tuple[str, leases.Holder | None]:
        """Take the writer lease of a run (:mod:`bench.harness.leases`) and mark it running."""
        with self._transaction():
            token, recovered = leases.acquire(self.conn, run_id, command)
            self.conn.execute("UPDATE runs SET status='running', updated=? WHERE run_id=?", (time.time(), run_id))
        return token, recovered

    def release_lease(self, run_id: str, token: str) -> None:
        with self._transaction():
            leases.release(self.conn, run_id, token)

    def finish_run(self, run_id: str, token: str | None = None, status: str = "complete") -> None:
        with self._transaction():
            if token is not None:
                leases.check(self.conn, run_id, token)
            self.conn.execute("UPDATE runs SET status=?, updated=? WHERE run_id=?", (status, time.time(), run_id))

    def register_metrics(self, infos: Iterable[Mapping[str, Any]]) -> None:
        with self._transaction():
            for info in infos:
                self.conn.execute(
                    "INSERT INTO metric_info (name, higher_is_better, unit, set_level, description, layout, directions)"
                    " VALUES (?,?,?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET higher_is_better=excluded.higher_is_better,"
                    " unit=excluded.unit, set_level=excluded.set_level, description=excluded.description,"
                    " layout=excluded.layout, directions=excluded.directions",
                    (info["name"], int(bool(info.get("higher_is_better", True))), info.get("unit", ""),
                     int(bool(info.get("set_level", False))), info.get("description", ""),
                     json.dumps(info["layout"], sort_keys=True) if info.get("layout") else None,
                     json.dumps(info["directions"]) if info.get("directions") else None),
                )

    def register_run_metrics(self, run_id: str, entries: Mapping[str, Mapping[str, Any]]) -> None:
        """Record each metric's configuration for this run; refuse one that differs from what the run holds.

        ``entries``: metric -> ``{"options", "config", "channels", "frbench_version"}``.  ``config`` is the
        metric's full configuration (defaults and parameter-file sha256 included): the same metric name
        with another configuration would mix two metrics in one column, so it raises
        :class:`MetricConfigError` naming every difference.
        """
        with self._transaction():
            for metric, entry in entries.items():
                row = self.conn.execute("SELECT config FROM run_metrics WHERE run_id=? AND metric=?",
                                        (run_id, metric)).fetchone()
                if row is not None:
                    changes = differences(json.loads(row[0]), json.loads(stable_json(entry["config"])))
                    if changes:
                        raise MetricConfigError(
                            f"run {run_id} already holds metric '{metric}' computed with another configuration "
                            f"({'; '.join(changes[:6])}{' ...' if len(changes) > 6 else ''}); its values are "
                            f"not mixed with new ones: remove them first (bench runs remove {run_id} --metric "
                            f"{metric}) or use another --store")
                    continue
                self.conn.execute(
                    "INSERT INTO run_metrics (run_id, metric, options, config, channels, frbench_version)"
                    " VALUES (?,?,?,?,?,?)",
                    (run_id, metric, stable_json(entry.get("options") or {}), stable_json(entry["config"]),
                     stable_json(entry.get("channels") or {}), entry.get("frbench_version")))

    def run_metrics(self, run_id: str) -> dict[str, dict[str, Any]]:
        out = {}
        for metric, options, config, channels, version in self.conn.execute(
                "SELECT metric, options, config, channels, frbench_version FROM run_metrics WHERE run_id=?",
                (run_id,)):
            out[metric] = {"options": json.loads(options or "{}"), "config": json.loads(config),
                           "channels": {k: tuple(v) for k, v in json.loads(channels or "{}").items()},
                           "frbench_version": version}
        return out

    # -- progress / resume --------------------------------------------------------------------
    def completed(self, run_id: str, per_image: Sequence[str], set_level: Sequence[str],
                  outputs: bool = False) -> dict[str, set[str]]:
        """For each sample with a row: the requested metrics it still lacks (empty set = done).

        A sample recorded as an error is done (it is not retried; ``bench runs remove`` it to retry); so
        is a metric recorded as failed on a sample.  With ``outputs`` (``--save-images``), an ``ok`` sample
        whose restored image is not saved also lacks :data:`SAVE` (a resume restores and saves it again).
        """
        out: dict[str, set[str]] = {}
        errored: set[str] = set()
        for sample_id, status, saved, output_error in self.conn.execute(
                "SELECT sample_id, status, restored_path, output_error FROM samples WHERE run_id=?", (run_id,)):
            out[sample_id] = set(per_image) | set(set_level)
            if status == "error":
                errored.add(sample_id)
            elif outputs and (saved is None or output_error is not None):
                out[sample_id].add(SAVE)
        for names, table in ((per_image, "scores"), (set_level, "set_members")):
            if not names:
                continue
            marks = ",".join("?" * len(names))
            for sample_id, metric in self.conn.execute(
                    f"SELECT sample_id, metric FROM {table} WHERE run_id=? AND metric IN ({marks})",
                    (run_id, *names)):
                out.get(sample_id, set()).discard(metric)
        for sample_id in errored:
            out[sample_id] = set()
        return out

    def ref_vector_keys(self, channel: str) -> set[str]:
        """The HQ content keys that already have a vector of ``channel`` (computed by any run)."""
        return {k for (k,) in self.conn.execute("SELECT content_key FROM ref_vectors WHERE channel=?", (channel,))}

    # -- writing ------------------------------------------------------------------------------
    def write_batch(self, run_id: str, records: Sequence[SampleRecord], set_rows: SetRows | None = None,
                    token: str | None = None) -> None:
        """Write a batch atomically: sample rows, scores, set-level vectors and members.

        ``token``: the writer lease; the write is refused (:class:`bench.harness.leases.LeaseLostError`) when
        another process holds the run's lease now.  Bytes written are those of this batch only.
        """
        set_rows = set_rows or SetRows()
        with self._transaction():
            if token is not None:
                leases.check(self.conn, run_id, token)
            self.conn.executemany(
                "INSERT OR REPLACE INTO samples (run_id, sample_id, position, status, stage, error, source,"
                " degradation, attributes, hq_size, lq_size, hq_key, restored_path, seconds, notes, output_error)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(run_id, r.sample_id, r.position, r.status, r.stage, r.error, r.source, _json_or_none(r.degradation),
                  _json_or_none(r.attributes), _json_or_none(list(r.hq_size) if r.hq_size else None),
                  _json_or_none(list(r.lq_size) if r.lq_size else None), r.hq_key, r.restored_path, r.seconds,
                  _json_or_none(r.notes or None), r.output_error)
                 for r in records],
            )
            rows = []
            for r in records:
                for metric, value in r.scores.items():
                    rows.append((run_id, r.sample_id, metric, _float_or_none(value), r.score_errors.get(metric)))
                for metric, err in r.score_errors.items():
                    if metric not in r.scores:
                        rows.append((run_id, r.sample_id, metric, None, err))
            self.conn.executemany(
                "INSERT OR REPLACE INTO scores (run_id, sample_id, metric, value, error) VALUES (?,?,?,?,?)", rows)
            self.conn.executemany(
                "INSERT OR REPLACE INTO vectors (run_id, sample_id, channel, dtype, shape, data) VALUES (?,?,?,?,?,?)",
                [(run_id, sid, channel, *encode_vector(array)) for sid, channel, array in set_rows.vectors])
            self.conn.executemany(
                "INSERT OR IGNORE INTO ref_vectors (channel, content_key, dtype, shape, data) VALUES (?,?,?,?,?)",
                [(channel, key, *encode_vector(array)) for channel, key, array in set_rows.ref_vectors])
            self.conn.executemany(
                "INSERT OR REPLACE INTO set_members (run_id, metric, sample_id, error) VALUES (?,?,?,?)",
                [(run_id, metric, sid, err) for metric, sid, err in set_rows.members])
            self.conn.execute("UPDATE runs SET updated=? WHERE run_id=?", (time.time(), run_id))

    def write_set_results(self, run_id: str, metric: str, values: Mapping[str, float], sample_ids: Iterable[str],
                          token: str | None = None) -> None:
        ids = list(sample_ids)
        digest = ids_digest(ids)
        with self._transaction():
            if token is not None:
                leases.check(self.conn, run_id, token)
            self.conn.execute("DELETE FROM set_results WHERE run_id=? AND metric=?", (run_id, metric))
            self.conn.executemany(
                "INSERT INTO set_results (run_id, metric, key, value, ids_digest, n_ids) VALUES (?,?,?,?,?,?)",
                [(run_id, metric, k, _float_or_none(v), digest, len(ids)) for k, v in values.items()])

    def write_dataset_issues(self, run_id: str, issues: Iterable[tuple[str, str]], token: str | None = None) -> None:
        """Replace the run's dataset issues by ``(path, reason)`` pairs (what this indexing reported)."""
        with self._transaction():
            if token is not None:
                leases.check(self.conn, run_id, token)
            self.conn.execute("DELETE FROM dataset_issues WHERE run_id=?", (run_id,))
            self.conn.executemany("INSERT OR IGNORE INTO dataset_issues (run_id, path, reason) VALUES (?,?,?)",
                                  [(run_id, str(path), str(reason)) for path, reason in issues])

    def dataset_issues(self, run_id: str) -> list[tuple[str, str]]:
        """``(path, reason)`` of every issue indexing the dataset reported for the run (skipped files, bad labels)."""
        return list(self.conn.execute("SELECT path, reason FROM dataset_issues WHERE run_id=? ORDER BY path, reason",
                                      (run_id,)))

    # -- removing -----------------------------------------------------------------------------
    def remove_run(self, run_id: str) -> dict[str, int]:
        """Delete a run and everything it wrote (its HQ-side vectors stay: they are shared); refuses while
        a live process holds its lease.  Returns the number of rows deleted per table."""
        counts = {}
        with self._transaction():
            current = leases.holder(self.conn, run_id)
            if current is not None and current.alive():
                raise leases.RunBusyError(f"run {run_id} is being written by {current.describe()}; not removed")
            for table in ("samples", "scores", "vectors", "set_members", "set_results", "run_metrics", "dataset_issues",
                          "leases", "runs"):
                counts[table] = self.conn.execute(f"DELETE FROM {table} WHERE run_id=?", (run_id,)).rowcount
        return counts

    def remove_metric(self, run_id: str, metric: str) -> dict[str, int]:
        """Delete one metric's values from a run (scores of the metric and its extras, members, results)."""
        counts = {}
        with self._transaction():
            current = leases.holder(self.conn, run_id)
            if current is not None and current.alive():
                raise leases.RunBusyError(f"run {run_id} is being written by {current.describe()}; not changed")
            counts["scores"] = self.conn.execute(
                "DELETE FROM scores WHERE run_id=? AND (metric=? OR metric LIKE ? ESCAPE '\\')",
                (run_id, metric, metric.replace("%", r"\%").replace("_", r"\_") + ".%")).rowcount
            for table in ("set_members", "set_results", "run_metrics"):
                counts[table] = self.conn.execute(f"DELETE FROM {table} WHERE run_id=? AND metric=?",
                                                  (run_id, metric)).rowcount
            used = {c for (cfg,) in self.conn.execute("SELECT channels FROM run_metrics WHERE run_id=?", (run_id,))
                    for side, c in json.loads(cfg or "{}").values() if side == "restored"}
            stale = [c for (c,) in self.conn.execute("SELECT DISTINCT channel FROM vectors WHERE run_id=?", (run_id,))
                     if c not in used]
            counts["vectors"] = sum(self.conn.execute("DELETE FROM vectors WHERE run_id=? AND channel=?",
                                                      (run_id, c)).rowcount for c in stale)
        return counts

    # -- reading ------------------------------------------------------------------------------
    def runs(self) -> list[dict[str, Any]]:
        """Every run with its counts and live status (``complete``, ``running`` or ``interrupted``)."""
        cur = self.conn.execute(
            "SELECT r.run_id, r.method, r.dataset, r.protocol, r.seed, r.synthetic, r.status, r.n_planned,"
            " r.identity, r.config, r.frbench_version, r.created, r.updated,"
            " (SELECT COUNT(*) FROM samples s WHERE s.run_id=r.run_id AND NOT " + FAILED_ROW + "),"
            " (SELECT COUNT(*) FROM samples s WHERE s.run_id=r.run_id AND " + FAILED_ROW + "),"
            " (SELECT COUNT(*) FROM dataset_issues d WHERE d.run_id=r.run_id)"
            " FROM runs r ORDER BY r.created, r.run_id")
        names = ["run_id", "method", "dataset", "protocol", "seed", "synthetic", "status", "n_planned",
                 "identity", "config", "frbench_version", "created", "updated", "n_ok", "n_error", "n_dataset_issues"]
        out = []
        for row in cur.fetchall():
            item = dict(zip(names, row))
            item["identity"] = json.loads(item["identity"])
            item["config"] = json.loads(item["config"]) if item["config"] else {}
            holder = leases.holder(self.conn, item["run_id"])
            item["holder"] = holder.describe() if holder is not None and holder.alive() else None
            if item["status"] == "running" and item["holder"] is None:
                item["status"] = "interrupted"
            out.append(item)
        return out

    def metric_info(self) -> dict[str, dict[str, Any]]:
        return {name: {"higher_is_better": bool(hib), "unit": unit or "", "set_level": bool(sl), "description": d or "",
                       "layout": json.loads(layout) if layout else {},
                       "directions": json.loads(directions) if directions else {}}
                for name, hib, unit, sl, d, layout, directions in self.conn.execute(
                    "SELECT name, higher_is_better, unit, set_level, description, layout, directions FROM metric_info")}

    def scores(self, run_id: str | None = None) -> list[tuple[str, str, str, float | None, str | None]]:
        if run_id is None:
            return list(self.conn.execute(
                "SELECT run_id, sample_id, metric, value, error FROM scores ORDER BY run_id, sample_id, metric"))
        return list(self.conn.execute(
            "SELECT run_id, sample_id, metric, value, error FROM scores WHERE run_id=? ORDER BY sample_id, metric",
            (run_id,)))

    def sample_rows(self, run_id: str) -> list[dict[str, Any]]:
        cur = self.conn.execute(
            "SELECT sample_id, position, status, stage, error, source, degradation, attributes, hq_size, lq_size,"
            " hq_key, restored_path, seconds, notes, output_error FROM samples WHERE run_id=? ORDER BY sample_id",
            (run_id,))
        names = [d[0] for d in cur.description]
        rows = []
        for row in cur:
            item = dict(zip(names, row))
            for key in ("degradation", "attributes", "hq_size", "lq_size", "notes"):
                item[key] = json.loads(item[key]) if item[key] else None
            rows.append(item)
        return rows

    def sample_ids(self, run_id: str, status: str | None = None) -> list[str]:
        """The run's sample ids in its seeded order (``position``), optionally only ``ok`` or ``error`` ones
        (``error`` includes the incomplete rows, whose required output was not written; ``ok`` excludes them)."""
        where = {None: "", "ok": " AND NOT " + FAILED_ROW, "error": " AND " + FAILED_ROW}[status]
        query = f"SELECT sample_id FROM samples WHERE run_id=?{where} ORDER BY position, sample_id"
        return [sid for (sid,) in self.conn.execute(query, (run_id,))]

    def set_member_ids(self, run_id: str, metric: str) -> list[str]:
        """Samples a set-level metric of the run covers (its value is computed over them), sorted."""
        return [sid for (sid,) in self.conn.execute(
            "SELECT m.sample_id FROM set_members m JOIN samples s ON s.run_id=m.run_id AND s.sample_id=m.sample_id"
            " WHERE m.run_id=? AND m.metric=? AND m.error IS NULL AND s.status='ok' ORDER BY m.sample_id",
            (run_id, metric))]

    def iter_set_inputs(self, run_id: str, sample_ids: Sequence[str], channels: Mapping[str, tuple[str, str]],
                        chunk: int = 256) -> Iterator[tuple[list[dict[str, Any]], dict[str, np.ndarray]]]:
        """Chunks of ``(sample rows (id, attributes), {vector name: [b, ...]})`` for a set-level metric.

        ``channels`` maps a vector name to ``(side, channel)``; restored-side vectors are read from the
        run, HQ-side ones through each sample's HQ content key.  A missing vector raises ``KeyError``
        naming the sample and channel.
        """
        for start in range(0, len(sample_ids), chunk):
            part = list(sample_ids[start:start + chunk])
            marks = ",".join("?" * len(part))
            rows = {sid: {"id": sid, "attributes": json.loads(attrs) if attrs else {}, "hq_key": hq_key}
                    for sid, attrs, hq_key in self.conn.execute(
                        f"SELECT sample_id, attributes, hq_key FROM samples WHERE run_id=? AND sample_id IN ({marks})",
                        (run_id, *part))}
            missing = [sid for sid in part if sid not in rows]
            if missing:
                raise KeyError(f"run {run_id} has no sample row for {missing[0]!r}")
            vectors: dict[str, np.ndarray] = {}
            for name, (side, channel) in channels.items():
                if side == "restored":
                    found = {sid: decode_vector(*rest) for sid, *rest in self.conn.execute(
                        f"SELECT sample_id, dtype, shape, data FROM vectors WHERE run_id=? AND channel=?"
                        f" AND sample_id IN ({marks})", (run_id, channel, *part))}
                    keys = {sid: sid for sid in part}
                else:
                    wanted = sorted({rows[sid]["hq_key"] for sid in part if rows[sid]["hq_key"]})
                    found = {key: decode_vector(*rest) for key, *rest in self.conn.execute(
                        f"SELECT content_key, dtype, shape, data FROM ref_vectors WHERE channel=? AND content_key"
                        f" IN ({','.join('?' * len(wanted))})", (channel, *wanted))} if wanted else {}
                    keys = {sid: rows[sid]["hq_key"] for sid in part}
                for sid in part:
                    if keys[sid] not in found:
                        raise KeyError(f"run {run_id}: sample {sid!r} has no stored {side} vector of channel {channel}")
                vectors[name] = np.stack([found[keys[sid]] for sid in part])
            yield [rows[sid] for sid in part], vectors

    def errors(self, run_id: str) -> list[tuple[str, str, str]]:
        """(sample id, stage, cause) of every failed sample and every failed metric of a run."""
        rows = list(self.conn.execute(
            "SELECT sample_id, stage, error FROM samples WHERE run_id=? AND status='error' ORDER BY sample_id",
            (run_id,)))
        rows += list(self.conn.execute(
            "SELECT sample_id, 'save', output_error FROM samples WHERE run_id=? AND status='ok' AND output_error IS NOT"
            " NULL ORDER BY sample_id", (run_id,)))
        rows += [(sid, f"metric {m}", e) for sid, m, e in self.conn.execute(
            "SELECT sample_id, metric, error FROM scores WHERE run_id=? AND error IS NOT NULL ORDER BY sample_id",
            (run_id,))]
        rows += [(sid, f"metric {m}", e) for sid, m, e in self.conn.execute(
            "SELECT sample_id, metric, error FROM set_members WHERE run_id=? AND error IS NOT NULL ORDER BY sample_id",
            (run_id,))]
        return rows

    def set_results(self, run_id: str) -> dict[str, dict[str, float | None]]:
        out: dict[str, dict[str, float | None]] = {}
        for metric, key, value in self.conn.execute(
                "SELECT metric, key, value FROM set_results WHERE run_id=?", (run_id,)):
            out.setdefault(metric, {})[key] = value
        return out

    def set_results_digest(self, run_id: str) -> dict[str, tuple[str, int]]:
        """Per set-level metric of a run: (digest of the ids its stored results cover, their count)."""
        return {metric: (digest, int(n)) for metric, digest, n in self.conn.execute(
            "SELECT DISTINCT metric, ids_digest, n_ids FROM set_results WHERE run_id=?", (run_id,))}

    def metric_summary(self, run_id: str, sample_ids: Iterable[str] | None = None) -> dict[str, dict[str, float]]:
        """Per-image metric -> mean, std, n over finite values (+ count of infinite values), over the ok
        samples, incomplete rows excluded (or only ``sample_ids``)."""
        wanted = None if sample_ids is None else set(sample_ids)
        values: dict[str, list[float]] = {}
        for sid, metric, value in self.conn.execute(
                "SELECT sc.sample_id, sc.metric, sc.value FROM scores sc JOIN samples s ON s.run_id=sc.run_id AND"
                " s.sample_id=sc.sample_id WHERE sc.run_id=? AND NOT " + FAILED_ROW.replace("status", "s.status")
                .replace("output_error", "s.output_error") + " AND sc.value IS NOT NULL", (run_id,)):
            if wanted is None or sid in wanted:
                values.setdefault(metric, []).append(value)
        out: dict[str, dict[str, float]] = {}
        for metric, vals in values.items():
            arr = np.asarray(vals, dtype=np.float64)
            finite = arr[np.isfinite(arr)]
            out[metric] = {"mean": float(finite.mean()) if finite.size else math.nan,
                           "std": float(finite.std(ddof=1)) if finite.size > 1 else math.nan,
                           "n": int(finite.size), "n_infinite": int(arr.size - finite.size)}
        return out

    def table_sizes(self) -> dict[str, int]:
        """Rows per table (``bench runs list --sizes`` and the store-size documentation)."""
        return {t: self.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK`` on error) on an autocommit connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")
