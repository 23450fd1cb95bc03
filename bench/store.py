"""The results store: an embedded SQLite database written row by row as a run progresses.

Tables
------
``runs``         one row per run identity (method, dataset and options, degradation protocol, seed):
                 the ``run_id`` is a hash of that identity, so the same command finds its own run.
``metric_info``  name, direction (higher is better?), unit and description of every metric seen, so
                 that leaderboards need no import of the metric code.
``samples``      one row per (run, sample): status ``ok`` or ``error``, the failing stage and cause,
                 the degradation parameters actually used, the attributes, sizes, timing.
``scores``       one row per (run, sample, per-image metric): the value, or NULL and an error.
``set_states``   the running state (sums, counts) of each set-level metric of a run, stored as ``.npz``
                 bytes (loaded with ``allow_pickle=False``) and replaced by the merged state at every
                 batch, so its size does not grow with the dataset (a 2048x2048 FID moment stays one
                 blob); ``set_members`` records which samples the state covers, so that no sample is
                 counted twice.
``set_results``  the merged set-level values, recomputed at the end of every run.

Every batch of a run is written in ONE transaction (sample rows, scores and set states together),
in WAL mode: a run killed at any instant leaves whole batches only, and a restarted run skips
exactly the samples whose rows are complete.  Nothing computed is lost or duplicated (primary keys).
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

SCHEMA_VERSION = 1
#: ``set_states.batch_key`` of the running (merged) state of a set-level metric.
RUNNING_STATE_KEY = "running"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    method TEXT NOT NULL,
    dataset TEXT NOT NULL,
    protocol TEXT NOT NULL,
    seed INTEGER NOT NULL,
    synthetic INTEGER NOT NULL DEFAULT 0,
    identity TEXT NOT NULL,
    config TEXT,
    status TEXT NOT NULL DEFAULT 'running',
    n_planned INTEGER,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS metric_info (
    name TEXT PRIMARY KEY,
    higher_is_better INTEGER NOT NULL,
    unit TEXT,
    set_level INTEGER NOT NULL DEFAULT 0,
    description TEXT,
    layout TEXT
);
CREATE TABLE IF NOT EXISTS samples (
    run_id TEXT NOT NULL,
    sample_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
    stage TEXT,
    error TEXT,
    source TEXT,
    degradation TEXT,
    attributes TEXT,
    hq_size TEXT,
    lq_size TEXT,
    restored_path TEXT,
    seconds REAL,
    PRIMARY KEY (run_id, sample_id)
);
CREATE TABLE IF NOT EXISTS scores (
    run_id TEXT NOT NULL,
    sample_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL,
    error TEXT,
    PRIMARY KEY (run_id, sample_id, metric)
);
CREATE TABLE IF NOT EXISTS set_states (
    run_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    batch_key TEXT NOT NULL,
    state BLOB NOT NULL,
    PRIMARY KEY (run_id, metric, batch_key)
);
CREATE TABLE IF NOT EXISTS set_members (
    run_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    sample_id TEXT NOT NULL,
    batch_key TEXT NOT NULL,
    PRIMARY KEY (run_id, metric, sample_id)
);
CREATE TABLE IF NOT EXISTS set_results (
    run_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    key TEXT NOT NULL,
    value REAL,
    PRIMARY KEY (run_id, metric, key)
);
"""


def stable_json(obj: Any) -> str:
    """Canonical JSON (sorted keys, no spaces) used for hashing identities."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def run_id_for(identity: Mapping[str, Any]) -> str:
    """16 hex digits of the sha256 of the canonical identity."""
    return hashlib.sha256(stable_json(identity).encode("utf-8")).hexdigest()[:16]


def encode_state(state: Mapping[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **{k: np.asarray(v) for k, v in state.items()})
    return buffer.getvalue()


def decode_state(blob: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


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
    restored_path: str | None = None
    seconds: float | None = None
    scores: dict[str, float | None] = field(default_factory=dict)
    score_errors: dict[str, str] = field(default_factory=dict)


def _json_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def _float_or_none(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value  # SQLite stores inf; NaN becomes NULL in SQLite, which is what we want


class ResultStore:
    """A connection to one results database (created on first use)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(self.path), timeout=60.0, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(_SCHEMA)
        self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        columns = {row[1] for row in self.conn.execute("PRAGMA table_info(metric_info)")}
        if "layout" not in columns:  # stores written before the column existed
            self.conn.execute("ALTER TABLE metric_info ADD COLUMN layout TEXT")

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
                " n_planned, created, updated) VALUES (?,?,?,?,?,?,?,?, 'running', ?, ?, ?)"
                " ON CONFLICT(run_id) DO UPDATE SET config=excluded.config, status='running',"
                " n_planned=MAX(COALESCE(runs.n_planned, 0), excluded.n_planned), updated=excluded.updated",
                (run_id, method, dataset, protocol, int(seed), int(bool(synthetic)), stable_json(identity),
                 stable_json(config), int(n_planned), now, now),
            )
        return run_id

    def finish_run(self, run_id: str, status: str = "complete") -> None:
        with self._transaction():
            self.conn.execute("UPDATE runs SET status=?, updated=? WHERE run_id=?", (status, time.time(), run_id))

    def register_metrics(self, infos: Iterable[Mapping[str, Any]]) -> None:
        with self._transaction():
            for info in infos:
                self.conn.execute(
                    "INSERT INTO metric_info (name, higher_is_better, unit, set_level, description, layout)"
                    " VALUES (?,?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET higher_is_better=excluded.higher_is_better,"
                    " unit=excluded.unit, set_level=excluded.set_level, description=excluded.description,"
                    " layout=excluded.layout",
                    (info["name"], int(bool(info.get("higher_is_better", True))), info.get("unit", ""),
                     int(bool(info.get("set_level", False))), info.get("description", ""),
                     json.dumps(info["layout"], sort_keys=True) if info.get("layout") else None),
                )

    # -- progress / resume --------------------------------------------------------------------
    def completed(self, run_id: str, per_image: Sequence[str], set_level: Sequence[str]) -> dict[str, set[str]]:
        """For each sample with a row: the requested metrics it still lacks (empty set = done).

        A sample recorded as an error is done (it is not retried; delete its row to retry).
        """
        out: dict[str, set[str]] = {}
        errored: set[str] = set()
        for sample_id, status in self.conn.execute(
                "SELECT sample_id, status FROM samples WHERE run_id=?", (run_id,)):
            out[sample_id] = set(per_image) | set(set_level)
            if status == "error":
                errored.add(sample_id)
        if per_image:
            marks = ",".join("?" * len(per_image))
            for sample_id, metric in self.conn.execute(
                    f"SELECT sample_id, metric FROM scores WHERE run_id=? AND metric IN ({marks})",
                    (run_id, *per_image)):
                out.get(sample_id, set()).discard(metric)
        if set_level:
            marks = ",".join("?" * len(set_level))
            for sample_id, metric in self.conn.execute(
                    f"SELECT sample_id, metric FROM set_members WHERE run_id=? AND metric IN ({marks})",
                    (run_id, *set_level)):
                out.get(sample_id, set()).discard(metric)
        for sample_id in errored:
            out[sample_id] = set()
        return out

    # -- writing ------------------------------------------------------------------------------
    def write_batch(self, run_id: str, records: Sequence[SampleRecord],
                    set_states: Mapping[str, tuple[Mapping[str, np.ndarray], Sequence[str]]] | None = None) -> None:
        """Write a batch atomically: sample rows, their scores and the set-level running states.

        ``set_states`` maps a set-level metric name to (running state merged over every sample written
        so far, including this batch; ids of the samples this batch adds to it).
        """
        with self._transaction():
            self.conn.executemany(
                "INSERT OR REPLACE INTO samples (run_id, sample_id, status, stage, error, source, degradation,"
                " attributes, hq_size, lq_size, restored_path, seconds) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [(run_id, r.sample_id, r.status, r.stage, r.error, r.source, _json_or_none(r.degradation),
                  _json_or_none(r.attributes), _json_or_none(list(r.hq_size) if r.hq_size else None),
                  _json_or_none(list(r.lq_size) if r.lq_size else None), r.restored_path, r.seconds)
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
            for metric, (state, members) in (set_states or {}).items():
                if not members:
                    continue
                self.conn.execute(
                    "INSERT OR REPLACE INTO set_states (run_id, metric, batch_key, state) VALUES (?,?,?,?)",
                    (run_id, metric, RUNNING_STATE_KEY, encode_state(state)))
                self.conn.executemany(
                    "INSERT INTO set_members (run_id, metric, sample_id, batch_key) VALUES (?,?,?,?)",
                    [(run_id, metric, sid, RUNNING_STATE_KEY) for sid in members])
            self.conn.execute("UPDATE runs SET updated=? WHERE run_id=?", (time.time(), run_id))

    def set_states(self, run_id: str, metric: str) -> list[dict[str, np.ndarray]]:
        return [decode_state(blob) for (blob,) in self.conn.execute(
            "SELECT state FROM set_states WHERE run_id=? AND metric=? ORDER BY batch_key", (run_id, metric))]

    def write_set_results(self, run_id: str, metric: str, values: Mapping[str, float]) -> None:
        with self._transaction():
            self.conn.execute("DELETE FROM set_results WHERE run_id=? AND metric=?", (run_id, metric))
            self.conn.executemany("INSERT INTO set_results (run_id, metric, key, value) VALUES (?,?,?,?)",
                                  [(run_id, metric, k, _float_or_none(v)) for k, v in values.items()])

    # -- reading ------------------------------------------------------------------------------
    def runs(self) -> list[dict[str, Any]]:
        cur = self.conn.execute(
            "SELECT r.run_id, r.method, r.dataset, r.protocol, r.seed, r.synthetic, r.status, r.n_planned,"
            " r.identity, r.config, r.created, r.updated,"
            " (SELECT COUNT(*) FROM samples s WHERE s.run_id=r.run_id AND s.status='ok'),"
            " (SELECT COUNT(*) FROM samples s WHERE s.run_id=r.run_id AND s.status='error')"
            " FROM runs r ORDER BY r.created")
        names = ["run_id", "method", "dataset", "protocol", "seed", "synthetic", "status", "n_planned",
                 "identity", "config", "created", "updated", "n_ok", "n_error"]
        out = []
        for row in cur:
            item = dict(zip(names, row))
            item["identity"] = json.loads(item["identity"])
            item["config"] = json.loads(item["config"]) if item["config"] else {}
            out.append(item)
        return out

    def metric_info(self) -> dict[str, dict[str, Any]]:
        return {name: {"higher_is_better": bool(hib), "unit": unit or "", "set_level": bool(sl), "description": d or "",
                       "layout": json.loads(layout) if layout else {}}
                for name, hib, unit, sl, d, layout in self.conn.execute(
                    "SELECT name, higher_is_better, unit, set_level, description, layout FROM metric_info")}

    def scores(self, run_id: str | None = None) -> list[tuple[str, str, str, float | None, str | None]]:
        if run_id is None:
            return list(self.conn.execute(
                "SELECT run_id, sample_id, metric, value, error FROM scores ORDER BY run_id, sample_id, metric"))
        return list(self.conn.execute(
            "SELECT run_id, sample_id, metric, value, error FROM scores WHERE run_id=? ORDER BY sample_id, metric",
            (run_id,)))

    def sample_rows(self, run_id: str) -> list[dict[str, Any]]:
        cur = self.conn.execute(
            "SELECT sample_id, status, stage, error, source, degradation, attributes, hq_size, lq_size,"
            " restored_path, seconds FROM samples WHERE run_id=? ORDER BY sample_id", (run_id,))
        names = [d[0] for d in cur.description]
        rows = []
        for row in cur:
            item = dict(zip(names, row))
            for key in ("degradation", "attributes", "hq_size", "lq_size"):
                item[key] = json.loads(item[key]) if item[key] else None
            rows.append(item)
        return rows

    def errors(self, run_id: str) -> list[tuple[str, str, str]]:
        """(sample id, stage, cause) of every failed sample and every failed metric of a run."""
        rows = list(self.conn.execute(
            "SELECT sample_id, stage, error FROM samples WHERE run_id=? AND status='error' ORDER BY sample_id",
            (run_id,)))
        rows += [(sid, f"metric {m}", e) for sid, m, e in self.conn.execute(
            "SELECT sample_id, metric, error FROM scores WHERE run_id=? AND error IS NOT NULL ORDER BY sample_id",
            (run_id,))]
        return rows

    def set_results(self, run_id: str) -> dict[str, dict[str, float | None]]:
        out: dict[str, dict[str, float | None]] = {}
        for metric, key, value in self.conn.execute(
                "SELECT metric, key, value FROM set_results WHERE run_id=?", (run_id,)):
            out.setdefault(metric, {})[key] = value
        return out

    def metric_summary(self, run_id: str) -> dict[str, dict[str, float]]:
        """Per-image metric -> mean, std, n over finite values (+ count of infinite values)."""
        out: dict[str, dict[str, float]] = {}
        values: dict[str, list[float]] = {}
        for metric, value in self.conn.execute(
                "SELECT sc.metric, sc.value FROM scores sc JOIN samples s ON s.run_id=sc.run_id AND"
                " s.sample_id=sc.sample_id WHERE sc.run_id=? AND s.status='ok' AND sc.value IS NOT NULL", (run_id,)):
            values.setdefault(metric, []).append(value)
        for metric, vals in values.items():
            arr = np.asarray(vals, dtype=np.float64)
            finite = arr[np.isfinite(arr)]
            out[metric] = {"mean": float(finite.mean()) if finite.size else math.nan,
                           "std": float(finite.std(ddof=1)) if finite.size > 1 else math.nan,
                           "n": int(finite.size), "n_infinite": int(arr.size - finite.size)}
        return out


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
