import json
import sqlite3

import numpy as np
import pytest

from bench.harness.leases import LeaseLostError, RunBusyError
from bench.harness.store import (
    MetricConfigError,
    ResultStore,
    SampleRecord,
    SetRows,
    StoreError,
    decode_vector,
    differences,
    encode_vector,
    ids_digest,
    run_id_for,
)


def _open(store, n=3, key=1):
    return store.open_run({"k": key}, method="m", dataset="d", protocol="p", seed=0, synthetic=False, config={},
                          n_planned=n)


def test_run_identity_is_stable_and_order_free():
    a = run_id_for({"method": "bicubic", "seed": 0, "dataset": {"name": "x", "root": None}})
    b = run_id_for({"seed": 0, "dataset": {"root": None, "name": "x"}, "method": "bicubic"})
    assert a == b and len(a) == 16
    assert a != run_id_for({"method": "bicubic", "seed": 1, "dataset": {"name": "x", "root": None}})


def test_vector_roundtrip_is_plain_data():
    for array in (np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1.5, np.nan, -1.0]),
                  np.arange(4, dtype=">f8")):
        back = decode_vector(*encode_vector(array))
        assert back.shape == array.shape and np.array_equal(back, array.astype(array.dtype.newbyteorder("=")),
                                                            equal_nan=True)
    with pytest.raises(TypeError):
        encode_vector(np.array(["a", "b"]))


def test_ids_digest_ignores_order_and_duplicates():
    assert ids_digest(["b", "a", "a"]) == ids_digest(["a", "b"]) != ids_digest(["a"])


def test_differences_name_every_changed_key():
    old = {"describe": {"weights": "a", "resize": "tf1"}, "files_sha256": ["1"]}
    new = {"describe": {"weights": "a", "resize": "clean"}, "files_sha256": ["2"], "extra": 1}
    text = differences(old, new)
    assert any(t.startswith("describe.resize") for t in text) and any(t.startswith("files_sha256") for t in text)
    assert any(t.startswith("extra: (absent)") for t in text) and len(text) == 3


def test_batch_write_completed_and_errors(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    run_id = _open(store)
    store.register_metrics([{"name": "psnr", "higher_is_better": True, "unit": "dB"}])
    records = [SampleRecord("a", scores={"psnr": 30.0}), SampleRecord("b", scores={"psnr": float("inf")}),
               SampleRecord("c", status="error", stage="decode", error="/x/c.png: file is empty (0 bytes)")]
    store.write_batch(run_id, records)
    done = store.completed(run_id, ["psnr"], [])
    assert done == {"a": set(), "b": set(), "c": set()}
    # a metric requested later is missing for the ok samples, never for the failed one
    assert store.completed(run_id, ["psnr", "ssim"], []) == {"a": {"ssim"}, "b": {"ssim"}, "c": set()}
    summary = store.metric_summary(run_id)["psnr"]
    assert summary["mean"] == 30.0 and summary["n"] == 1 and summary["n_infinite"] == 1
    assert store.metric_summary(run_id, ["b"])["psnr"]["n"] == 0
    assert store.errors(run_id) == [("c", "decode", "/x/c.png: file is empty (0 bytes)")]
    # writing the same batch again replaces, never duplicates
    store.write_batch(run_id, records)
    assert len(store.scores(run_id)) == 2
    store.close()


def test_set_rows_are_per_image_and_hq_side_is_shared(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    runs = [_open(store, key=k) for k in (1, 2)]
    channels = {"x": ("restored", "feat"), "y": ("reference", "feat")}
    for index, run_id in enumerate(runs):
        store.register_run_metrics(run_id, {"toy": {"options": {}, "config": {"a": 1}, "channels": channels}})
        records = [SampleRecord(s, attributes={"gender": 1}, hq_key=f"hq-{s}", position=p)
                   for p, s in enumerate(("s1", "s0"))]
        rows = SetRows(vectors=[(s, "feat", np.full(3, index + p, np.float32)) for p, s in enumerate(("s1", "s0"))],
                       ref_vectors=[("feat", f"hq-{s}", np.full(3, 10.0 + p, np.float32)) for p, s in enumerate(("s1", "s0"))],
                       members=[("toy", "s1", None), ("toy", "s0", "s0.png: broken")])
        store.write_batch(run_id, records, rows)
    assert store.table_sizes()["ref_vectors"] == 2  # written by both runs, stored once
    assert store.ref_vector_keys("feat") == {"hq-s0", "hq-s1"}
    assert store.sample_ids(runs[0]) == ["s1", "s0"]  # the run's seeded order
    assert store.set_member_ids(runs[0], "toy") == ["s1"]  # the failed member is not covered
    assert store.completed(runs[0], [], ["toy"]) == {"s0": set(), "s1": set()}  # a failure is not retried
    assert ("s0", "metric toy", "s0.png: broken") in store.errors(runs[0])
    (rows, vectors), = list(store.iter_set_inputs(runs[1], ["s0", "s1"], channels))
    assert [r["id"] for r in rows] == ["s0", "s1"] and rows[0]["attributes"] == {"gender": 1}
    assert vectors["x"].tolist() == [[2.0] * 3, [1.0] * 3] and vectors["y"].tolist() == [[11.0] * 3, [10.0] * 3]
    with pytest.raises(KeyError, match="no stored restored vector"):
        list(store.iter_set_inputs(runs[1], ["s0"], {"x": ("restored", "other")}))
    store.close()


def test_failed_transaction_leaves_nothing(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    run_id = _open(store, n=2)
    good = SampleRecord("a", scores={"psnr": 1.0})
    bad = SampleRecord("b", status="not-a-status")  # violates the CHECK constraint
    with pytest.raises(sqlite3.IntegrityError):
        store.write_batch(run_id, [good, bad], SetRows(vectors=[("a", "c", np.zeros(2))]))
    assert store.sample_rows(run_id) == [] and store.scores(run_id) == [] and store.table_sizes()["vectors"] == 0
    store.close()


def test_metric_configuration_change_is_refused_naming_it(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    run_id = _open(store)
    entry = {"options": {}, "config": {"describe": {"resize": "tf1"}, "files_sha256": ["aa"]}}
    store.register_run_metrics(run_id, {"fid": entry})
    store.register_run_metrics(run_id, {"fid": entry})  # the same configuration: a resume
    changed = {"options": {}, "config": {"describe": {"resize": "tf1"}, "files_sha256": ["bb"]}}
    with pytest.raises(MetricConfigError, match=r"files_sha256.*aa.*bb.*bench runs remove"):
        store.register_run_metrics(run_id, {"fid": changed})
    store.remove_metric(run_id, "fid")
    store.register_run_metrics(run_id, {"fid": changed})
    assert store.run_metrics(run_id)["fid"]["config"]["files_sha256"] == ["bb"]
    store.close()


def test_one_writer_per_run_and_stale_lease_recovery(tmp_path):
    path = tmp_path / "r.sqlite"
    one, two = ResultStore(path), ResultStore(path)
    run_id = _open(one)
    token, recovered = one.acquire_lease(run_id, command="bench run A")
    assert recovered is None
    with pytest.raises(RunBusyError, match=r"being written by process \d+ on .*bench run A"):
        two.acquire_lease(run_id)
    other = _open(two, key=2)  # another run is not blocked
    two.release_lease(other, two.acquire_lease(other)[0])
    # a lease left by a dead process (a pid that cannot exist) is recovered, and the old holder may not write
    one.conn.execute("UPDATE leases SET pid=?, pid_start=? WHERE run_id=?", (2 ** 22 + 7, "1", run_id))
    token2, recovered = two.acquire_lease(run_id)
    assert recovered is not None and recovered.pid == 2 ** 22 + 7
    with pytest.raises(LeaseLostError, match="no longer holds the writer lease"):
        one.write_batch(run_id, [SampleRecord("a")], token=token)
    assert two.sample_rows(run_id) == []
    two.write_batch(run_id, [SampleRecord("a")], token=token2)
    with pytest.raises(RunBusyError):
        one.remove_run(run_id)
    two.release_lease(run_id, token2)
    assert [r["status"] for r in two.runs() if r["run_id"] == run_id] == ["interrupted"]
    assert one.remove_run(run_id)["samples"] == 1 and all(r["run_id"] != run_id for r in one.runs())
    one.close(), two.close()


def test_other_sqlite_files_and_schemas_are_refused(tmp_path):
    foreign = tmp_path / "other.sqlite"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE things (a)")
    conn.commit(), conn.close()
    with pytest.raises(StoreError, match="not an frbench results store"):
        ResultStore(foreign)
    old = tmp_path / "old.sqlite"
    conn = sqlite3.connect(old)
    conn.executescript("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT); CREATE TABLE runs (run_id TEXT);"
                       "INSERT INTO meta VALUES ('schema_version', '1');")
    conn.commit(), conn.close()
    with pytest.raises(StoreError, match="schema 1"):
        ResultStore(old)
    with pytest.raises(FileNotFoundError):
        ResultStore(tmp_path / "absent.sqlite", readonly=True)


def test_readonly_store_reads_and_never_writes(tmp_path):
    path = tmp_path / "r.sqlite"
    with ResultStore(path) as store:
        run_id = _open(store)
        store.write_batch(run_id, [SampleRecord("a", scores={"psnr": 1.0})])
    before = path.read_bytes()
    with ResultStore(path, readonly=True) as store:
        assert [r["run_id"] for r in store.runs()] == [run_id]
        with pytest.raises(sqlite3.OperationalError):
            store.write_batch(run_id, [SampleRecord("b")])
    assert json.loads(json.dumps(store.path.name)) == "r.sqlite" and path.read_bytes() == before


def test_a_locked_statement_is_retried_and_other_errors_are_not():
    """Switching a new store to WAL can meet another process's lock without SQLite's busy handler (seen with
    two `bench run` started together): the store retries it instead of failing."""
    from bench.harness.leases import retry_locked

    calls = []

    def locked_twice():
        calls.append(1)
        if len(calls) < 3:
            raise sqlite3.OperationalError("database is locked")
        return "wal"

    assert retry_locked(locked_twice, pause=0.001) == "wal" and len(calls) == 3
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        retry_locked(lambda: (_ for _ in ()).throw(sqlite3.OperationalError("no such table: x")))
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        retry_locked(lambda: (_ for _ in ()).throw(sqlite3.OperationalError("database is locked")), timeout=0.01,
                     pause=0.005)
