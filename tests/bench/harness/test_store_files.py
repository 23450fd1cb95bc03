"""Store files handled like a database (bench.harness.store_files): refusals, atomic creation, migration,
consistent copies, integrity checks; incomplete rows (an output not written) and stored dataset issues."""
import shutil
import sqlite3
import threading

import pytest

from bench.harness.store import SAVE, ResultStore, SampleRecord, StoreError
from bench.harness.store_files import check_store, copy_store, create_store
from bench.harness.store_schema import MIGRATIONS, SCHEMA, SCHEMA_VERSION

# the schema-2 layout, derived from the current one by taking away what migration 2 -> 3 adds
SCHEMA_2 = (SCHEMA.replace("    notes TEXT,\n    output_error TEXT,\n", "")
            .split("CREATE TABLE IF NOT EXISTS dataset_issues")[0]
            + SCHEMA.split("PRIMARY KEY (run_id, path, reason)\n);")[1])


def _open(store, key=1):
    return store.open_run({"k": key}, method="m", dataset="d", protocol="p", seed=0, synthetic=False, config={},
                          n_planned=3)


def _schema2_store(path):
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA_2)
    conn.execute("INSERT INTO meta VALUES ('schema_version', '2')")
    conn.execute("INSERT INTO runs (run_id, method, dataset, protocol, seed, identity, created, updated) "
                 "VALUES ('r1', 'bicubic', 'd', 'x8', 0, '{}', 1, 1)")
    conn.execute("INSERT INTO samples (run_id, sample_id, status) VALUES ('r1', 'a', 'ok')")
    conn.execute("INSERT INTO scores VALUES ('r1', 'a', 'psnr', 30.5, NULL)")
    conn.commit()
    conn.close()


def test_schema_2_layout_really_lacks_what_the_migration_adds():
    assert "output_error" not in SCHEMA_2 and "dataset_issues" not in SCHEMA_2 and "leases" in SCHEMA_2
    assert SCHEMA_VERSION == 3 and 2 in MIGRATIONS


def test_an_old_store_is_migrated_by_a_writer_after_a_backup_and_refused_by_readers(tmp_path):
    path = tmp_path / "old.sqlite"
    _schema2_store(path)
    before = path.read_bytes()
    with pytest.raises(StoreError, match="schema 2.*bench store migrate"):
        ResultStore(path, readonly=True)
    assert path.read_bytes() == before  # a reader changes nothing
    with ResultStore(path) as store:
        backup = store.migrated_from
        assert backup is not None and backup.name == "old.sqlite.schema2.bak"
        assert store.scores("r1") == [("r1", "a", "psnr", 30.5, None)]
        assert store.sample_rows("r1")[0]["output_error"] is None and store.dataset_issues("r1") == []
    with sqlite3.connect(backup) as conn:  # the backup is the old store, complete
        assert conn.execute("SELECT value FROM meta").fetchone() == ("2",)
        assert conn.execute("SELECT value FROM scores").fetchall() == [(30.5,)]
    with ResultStore(path, readonly=True) as store:
        assert store.migrated_from is None and [r["run_id"] for r in store.runs()] == ["r1"]
    with ResultStore(path) as store:  # already current: no second backup
        assert store.migrated_from is None
    assert not (tmp_path / "old.sqlite.schema2.2.bak").exists()


@pytest.mark.parametrize("content, message", [
    (b"", "empty file"), (b"a,b\n1,2\n", "not an SQLite database"), (None, "is a directory")])
def test_files_that_are_not_stores_are_refused_and_left_alone(tmp_path, content, message):
    path = tmp_path / "x.sqlite"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    for readonly in (False, True):
        with pytest.raises(StoreError, match=message):
            ResultStore(path, readonly=readonly)
    assert path.is_dir() if content is None else path.read_bytes() == content


def test_a_newer_schema_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "new.sqlite"
    ResultStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    before = path.read_bytes()
    for readonly in (False, True):
        with pytest.raises(StoreError, match="schema 99, newer"):
            ResultStore(path, readonly=readonly)
    assert path.read_bytes() == before


def test_creation_is_atomic_when_many_writers_create_the_same_store(tmp_path):
    path = tmp_path / "new.sqlite"
    errors = []

    def create():
        try:
            create_store(path)
            ResultStore(path).close()
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert check_store(path) == []
    assert sorted(p.name for p in tmp_path.iterdir() if "creating" in p.name) == []  # no temporary file left


def test_an_output_that_failed_makes_the_row_incomplete_failed_and_retried(tmp_path):
    with ResultStore(tmp_path / "s.sqlite") as store:
        run_id = _open(store)
        store.write_batch(run_id, [
            SampleRecord("a", scores={"psnr": 1.0}, restored_path="/x/a.png"),
            SampleRecord("b", scores={"psnr": 2.0}, output_error="/full/b.png: cannot save: No space left"),
            SampleRecord("c", status="error", stage="decode", error="c.png: truncated")])
        assert store.completed(run_id, ["psnr"], [], outputs=True) == {"a": set(), "b": {SAVE}, "c": set()}
        assert store.completed(run_id, ["psnr"], [], outputs=False) == {"a": set(), "b": set(), "c": set()}
        (run,) = store.runs()
        assert (run["n_ok"], run["n_error"]) == (1, 2)
        assert store.sample_ids(run_id, "ok") == ["a"] and store.sample_ids(run_id, "error") == ["b", "c"]
        assert ("b", "save", "/full/b.png: cannot save: No space left") in store.errors(run_id)
        # the resume saves it: the row is complete again
        store.write_batch(run_id, [SampleRecord("b", restored_path="/x/b.png")])
        assert store.completed(run_id, ["psnr"], [], outputs=True)["b"] == set()
        assert store.scores(run_id)[1][3] == 2.0  # the score written before is kept
        assert store.runs()[0]["n_error"] == 1


def test_dataset_issues_are_stored_with_the_run_replaced_by_each_indexing_and_removed_with_it(tmp_path):
    with ResultStore(tmp_path / "s.sqlite") as store:
        run_id = _open(store)
        store.write_dataset_issues(run_id, [("d/x.jpg", "is a directory"), ("d/a.csv line 3", "age 999 > 120")])
        assert store.dataset_issues(run_id) == [("d/a.csv line 3", "age 999 > 120"), ("d/x.jpg", "is a directory")]
        assert store.runs()[0]["n_dataset_issues"] == 2
        store.write_dataset_issues(run_id, [("d/x.jpg", "is a directory")])
        assert store.dataset_issues(run_id) == [("d/x.jpg", "is a directory")]
        assert store.remove_run(run_id)["dataset_issues"] == 1


def test_a_copy_holds_the_rows_still_in_the_wal_file_a_plain_copy_loses(tmp_path):
    path = tmp_path / "live.sqlite"
    ResultStore(path).close()
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA wal_autocheckpoint=0")  # as after a SIGKILL: committed rows only in live.sqlite-wal
    writer.execute("INSERT INTO runs (run_id, method, dataset, protocol, seed, identity, created, updated) "
                   "VALUES ('r', 'm', 'd', 'p', 0, '{}', 1, 1)")
    shutil.copyfile(path, tmp_path / "plain.sqlite")
    counts = copy_store(path, tmp_path / "copy.sqlite")
    writer.close()
    with sqlite3.connect(tmp_path / "plain.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone() == (0,)
    assert counts["runs"] == 1
    with ResultStore(tmp_path / "copy.sqlite", readonly=True) as copy:
        assert [r["run_id"] for r in copy.runs()] == ["r"]
    with pytest.raises(StoreError, match="exists"):
        copy_store(path, tmp_path / "copy.sqlite")


def test_check_finds_rows_without_their_sample_and_corruption(tmp_path):
    path = tmp_path / "s.sqlite"
    with ResultStore(path) as store:
        run_id = _open(store)
        store.write_batch(run_id, [SampleRecord("a", scores={"psnr": 1.0})])
    assert check_store(path) == []
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO scores VALUES (?, 'ghost', 'psnr', 1.0, NULL)", (run_id,))
    assert check_store(path) == ["1 row(s) of scores without their sample row"]
    data = bytearray(path.read_bytes())
    data[4096:4096 + 2000] = b"\xff" * 2000
    path.write_bytes(bytes(data))
    problems = check_store(path)
    assert problems and all(p.startswith("sqlite:") for p in problems)
