"""The schema of the results store (SQLite), table by table.  See :mod:`bench.harness.store` for how it is written.

Tables (schema 3)
-----------------
``runs``         one row per run identity: the ``run_id`` is a hash of the identity (frbench version,
                 method with the sha256 of every weights file it loads, dataset, protocol and its
                 parameters, seed, sample order), so the same command finds its own run and a changed
                 component never appends to an old one.
``run_metrics``  per run and metric: the metric's options, full configuration (with defaults and the
                 sha256 of its parameter files), its store channels and the frbench version.  A resume that
                 asks for the same metric with another configuration is refused, naming the difference.
``metric_info``  name, direction, unit, description and leaderboard layout of every metric seen, and the
                 direction of each of its outputs, so that leaderboards need no import of metric code.
``samples``      one row per (run, sample): status ``ok`` or ``error``, the failing stage and cause, the
                 degradation parameters actually used, attributes, sizes, the HQ content key, the
                 sample's position in the run's seeded order, timing, how the inputs were read
                 (``notes``, e.g. an EXIF orientation applied) and ``output_error``: a required output
                 (``--save-images``) that could not be written -- the row is then incomplete: counted as
                 failed, left out of comparisons, and retried by a resume.
``scores``       one row per (run, sample, per-image output): the value, or NULL and an error.
``vectors``      per-image vectors of set-level metrics on the restored side (Inception features,
                 attribute predictions), one row per (run, sample, channel).
``ref_vectors``  the same on the HQ side, one row per (channel, HQ content key): shared by every run and
                 method on the same faces, so the HQ side is computed once per dataset.
``set_members``  which samples each set-level metric of a run covers (or failed on, with the error).
``set_results``  the set-level values of each run over all its members, with the digest of those ids.
``dataset_issues`` what indexing the dataset reported for a run (a skipped file, a bad label row), with
                 the path and the reason: ``bench errors`` lists them.
``leases``       the writer lease of each running run (:mod:`bench.harness.leases`).
"""
from __future__ import annotations

from bench.harness import leases

SCHEMA_VERSION = 3

SCHEMA = """
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
    frbench_version TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS run_metrics (
    run_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    options TEXT,
    config TEXT NOT NULL,
    channels TEXT,
    frbench_version TEXT,
    PRIMARY KEY (run_id, metric)
);
CREATE TABLE IF NOT EXISTS metric_info (
    name TEXT PRIMARY KEY,
    higher_is_better INTEGER NOT NULL,
    unit TEXT,
    set_level INTEGER NOT NULL DEFAULT 0,
    description TEXT,
    layout TEXT,
    directions TEXT
);
CREATE TABLE IF NOT EXISTS samples (
    run_id TEXT NOT NULL,
    sample_id TEXT NOT NULL,
    position INTEGER,
    status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
    stage TEXT,
    error TEXT,
    source TEXT,
    degradation TEXT,
    attributes TEXT,
    hq_size TEXT,
    lq_size TEXT,
    hq_key TEXT,
    restored_path TEXT,
    seconds REAL,
    notes TEXT,
    output_error TEXT,
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
CREATE TABLE IF NOT EXISTS vectors (
    run_id TEXT NOT NULL,
    sample_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    dtype TEXT NOT NULL,
    shape TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (run_id, sample_id, channel)
);
CREATE TABLE IF NOT EXISTS ref_vectors (
    channel TEXT NOT NULL,
    content_key TEXT NOT NULL,
    dtype TEXT NOT NULL,
    shape TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (channel, content_key)
);
CREATE TABLE IF NOT EXISTS set_members (
    run_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    sample_id TEXT NOT NULL,
    error TEXT,
    PRIMARY KEY (run_id, metric, sample_id)
);
CREATE TABLE IF NOT EXISTS set_results (
    run_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    key TEXT NOT NULL,
    value REAL,
    ids_digest TEXT,
    n_ids INTEGER,
    PRIMARY KEY (run_id, metric, key)
);
CREATE TABLE IF NOT EXISTS dataset_issues (
    run_id TEXT NOT NULL,
    path TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (run_id, path, reason)
);
""" + leases.LEASE_SCHEMA

TABLES = ("meta", "runs", "run_metrics", "metric_info", "samples", "scores", "vectors", "ref_vectors",
           "set_members", "set_results", "dataset_issues", "leases")

#: statements taking a store from schema N to N + 1 (applied in order, in one transaction, after a backup)
MIGRATIONS: dict[int, tuple[str, ...]] = {
    2: ("ALTER TABLE samples ADD COLUMN notes TEXT",
        "ALTER TABLE samples ADD COLUMN output_error TEXT",
        "CREATE TABLE IF NOT EXISTS dataset_issues (run_id TEXT NOT NULL, path TEXT NOT NULL, reason TEXT NOT NULL,"
        " PRIMARY KEY (run_id, path, reason))"),
}
