"""Opening a results-store file like a database: what is refused, created, migrated, copied and checked.

Policy (every refusal is a :class:`StoreError` naming the path and the cause; nothing is ever re-initialised
or overwritten silently):

* **absent** -- a write command creates it *atomically*: the schema is built in a temporary file beside it,
  which is then hard-linked into place (``link`` fails when the name exists), so two processes creating the
  same store at once both end up in one complete store and no one ever sees half a schema;
  read-only commands refuse ("no results store at PATH").
* **a directory, an empty (0-byte) file, a file that is not SQLite** (its first 16 bytes are not
  ``SQLite format 3\\0``), **an SQLite database without the frbench tables** -- refused by every command.
* **corrupt** -- a writer runs ``PRAGMA quick_check`` before its first write and refuses a damaged file
  (0.3 s for a 350 MB store, measured; a run adds no row to a file it cannot trust); a reader refuses when
  SQLite meets the damage ("malformed", "not a database") and may answer from sound pages otherwise.
  ``bench store check`` runs the full ``integrity_check``.
* **another schema** -- a newer one is refused (use the frbench that wrote it); an older one that has a
  migration (:data:`bench.harness.store_schema.MIGRATIONS`) is migrated by the first write command after a
  consistent backup ``PATH.schemaN.bak`` is written beside it (``bench store migrate`` does it explicitly);
  read-only commands refuse an old schema and say so.  Schema 1 has no migration (it lacks the per-image
  vectors set-level metrics need) and is refused.
* **read-only media** -- read-only commands open with ``mode=ro``; when SQLite cannot create the ``-shm``
  index beside a WAL store (read-only folder) and no ``-wal`` file is there, the file is opened
  ``immutable=1`` (safe: with no ``-wal`` file every committed row is in the main file).

Copies: while a store is in use (and after a SIGKILL) committed rows may still live in ``PATH-wal``;
copying only ``PATH`` loses them.  :func:`copy_store` uses SQLite's online backup API, which copies a
consistent snapshot including the WAL, and verifies the copy.
"""
from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from bench.harness.leases import retry_locked
from bench.harness.store_schema import MIGRATIONS, SCHEMA, SCHEMA_VERSION, TABLES

SQLITE_HEADER = b"SQLite format 3\x00"
#: seconds a connection waits for another process's lock before "database is locked"
BUSY_TIMEOUT = 60.0


class StoreError(RuntimeError):
    """The file cannot be used as a results store (another schema, not an frbench store, corrupt...)."""


def sqlite_cause(exc: BaseException) -> str:
    """A short cause for an SQLite or OS error, with the usual remedy."""
    text = str(exc) or exc.__class__.__name__
    low = text.lower()
    if "disk is full" in low or "no space" in low or "file too large" in low:
        return f"{text} (the rows written so far are kept; free space and run the same command again to resume)"
    if "disk i/o error" in low:
        return (f"{text} (a full disk, a file-size limit or failing media; the rows written so far are kept: fix it "
                f"and run the same command again to resume)")
    if "readonly" in low or "read-only" in low:
        return f"{text} (the store is on read-only media or not writable by you)"
    if "malformed" in low or "not a database" in low:
        return f"{text} (the file is corrupt; `bench store check` tells more)"
    if "unable to open" in low:
        return f"{text} (the folder does not exist, is not writable, or the path is not a file)"
    return text


def describe_file(path: Path) -> str:
    """``"absent"`` or ``"sqlite"``; a :class:`StoreError` for anything that cannot be a store."""
    try:
        if not path.exists() and not path.is_symlink():
            return "absent"
        if path.is_dir():
            raise StoreError(f"{path} is a directory, not a results store file; pass a file name with --store")
        if not path.is_file():
            raise StoreError(f"{path} is not a regular file; pass a file name with --store")
        with open(path, "rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(f"{path}: cannot read the results store: {exc.strerror or exc}") from None
    if not head:
        raise StoreError(f"{path} is an empty file (0 bytes), not an frbench results store; it is left as it is: "
                         f"delete it yourself or pass another --store")
    if head != SQLITE_HEADER:
        raise StoreError(f"{path} is not an SQLite database (not an frbench results store); it is left as it is: "
                         f"pass another --store")
    return "sqlite"


def schema_version(conn: sqlite3.Connection, path: Path) -> int:
    """The frbench schema of an open store (a :class:`StoreError` for a foreign or table-less database)."""
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "meta" not in tables or "runs" not in tables:
        listed = ", ".join(sorted(tables)) or "none"
        raise StoreError(f"{path} is an SQLite database but not an frbench results store (tables: {listed}); "
                         f"it is left as it is: pass another --store")
    row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    try:
        return int(row[0]) if row else 1
    except (TypeError, ValueError):
        raise StoreError(f"{path}: unreadable schema version {row[0]!r}; not an frbench results store") from None


def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
    if not readonly:
        return sqlite3.connect(str(path), timeout=BUSY_TIMEOUT, isolation_level=None)
    uri = path.resolve().as_uri()
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=BUSY_TIMEOUT, isolation_level=None)
    try:
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        conn.close()
        wal = Path(f"{path}-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise
    # read-only folder, no -wal content: every committed row is in the main file
    return sqlite3.connect(f"{uri}?immutable=1", uri=True, timeout=BUSY_TIMEOUT, isolation_level=None)


def _create_schema(conn: sqlite3.Connection) -> None:
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))


def create_store(path: Path) -> None:
    """Create a new store at ``path`` atomically; returns quietly when another process created it first.

    The schema is committed in a temporary file with a rollback journal (so a full disk fails the COMMIT
    instead of a later, silent WAL checkpoint), verified, and only then linked into place; the writer that
    opens it switches it to WAL.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.creating")
    try:
        try:
            conn = sqlite3.connect(str(tmp), isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode=DELETE")
                conn.execute("BEGIN IMMEDIATE")
                _create_schema(conn)
                conn.execute("COMMIT")
                (verdict,) = conn.execute("PRAGMA quick_check").fetchone()
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot create the results store: {sqlite_cause(exc)}") from None
        if verdict != "ok":  # pragma: no cover - a failing medium
            raise StoreError(f"{path}: cannot create the results store: the new file fails its check ({verdict})")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process created it first: use theirs
        except OSError:  # a file system without hard links: rename, unless the name appeared meanwhile
            if not path.exists():
                os.replace(tmp, path)
    finally:
        for leftover in (tmp, Path(f"{tmp}-journal")):
            try:
                leftover.unlink()
            except FileNotFoundError:
                pass


def backup_path(path: Path, version: int) -> Path:
    candidate = path.with_name(f"{path.name}.schema{version}.bak")
    n = 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.schema{version}.{n}.bak")
    return candidate


def _no_migration(path: Path, version: int) -> StoreError:
    return StoreError(f"{path} is an frbench results store of schema {version}; this frbench reads and writes "
                         f"schema {SCHEMA_VERSION} and has no migration from {version} (schema 1 lacks the per-image "
                         f"vectors set-level metrics need). Keep the old store for the frbench that wrote it and "
                         f"pass a new --store")


def migrate(conn: sqlite3.Connection, path: Path, version: int) -> Path:
    """Bring an open store from ``version`` to :data:`SCHEMA_VERSION` after a backup; returns the backup path."""
    if version not in MIGRATIONS:
        raise _no_migration(path, version)
    backup = backup_path(path, version)
    target = sqlite3.connect(str(backup))
    try:
        conn.backup(target)
    finally:
        target.close()
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = schema_version(conn, path)  # another process may have migrated it meanwhile
        while current < SCHEMA_VERSION:
            for statement in MIGRATIONS[current]:
                conn.execute(statement)
            current += 1
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return backup


def open_store(path: Path, readonly: bool, migrate_old: bool = True) -> tuple[sqlite3.Connection, Path | None]:
    """An open connection to a verified store (``(connection, backup path if it was migrated)``)."""
    state = describe_file(path)
    if state == "absent":
        if readonly:
            raise FileNotFoundError(f"no results store at {path}: run `bench run` first (or pass --store)")
        create_store(path)
    elif not readonly and not (os.access(path, os.W_OK) and os.access(path.parent if str(path.parent) else ".", os.W_OK)):
        raise StoreError(f"{path} is read-only (read-only media, or no write permission on the file or its folder: "
                         f"SQLite writes PATH-wal beside it); read commands (leaderboard, errors, runs) work on it, "
                         f"a run needs another --store")
    try:
        conn = _connect(path, readonly)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open the results store: {sqlite_cause(exc)}") from None
    try:
        version = schema_version(conn, path)  # read before anything is written: a foreign file stays untouched
        backup = None
        if version > SCHEMA_VERSION:
            raise StoreError(f"{path} is an frbench results store of schema {version}, newer than this frbench's "
                             f"{SCHEMA_VERSION}; use the frbench that wrote it (it is left as it is)")
        if version < SCHEMA_VERSION:
            if readonly or not migrate_old:
                if version not in MIGRATIONS:
                    raise _no_migration(path, version)
                raise StoreError(f"{path} is an frbench results store of schema {version}; this frbench uses schema "
                                 f"{SCHEMA_VERSION}: run `bench store migrate {path}` (it keeps a backup) or any "
                                 f"`bench run` on it")
        if not readonly:
            # a writer must not add rows to a damaged file (a reader may still answer from sound pages)
            damage = [" ".join(m.split()) for (m,) in conn.execute("PRAGMA quick_check(3)") if m != "ok"]
            if damage:
                raise StoreError(f"{path}: the results store is corrupt ({'; '.join(damage)}); nothing was written. "
                                 f"`bench store check --store {path}` lists the damage; restore it from a copy")
            # switching to WAL can meet another process's lock without the busy handler: retried
            retry_locked(lambda: conn.execute("PRAGMA journal_mode=WAL"))
            conn.execute("PRAGMA synchronous=NORMAL")
            if version < SCHEMA_VERSION:
                backup = migrate(conn, path, version)
        return conn, backup
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(f"{path}: cannot use the results store: {sqlite_cause(exc)}") from None
    except BaseException:
        conn.close()
        raise


def check_store(path: Path) -> list[str]:
    """Problems found in a store (empty list = sound): SQLite's ``integrity_check``, the schema, and the
    frbench invariants (every score, vector and member belongs to a sample row of an existing run)."""
    if describe_file(path) == "absent":
        raise FileNotFoundError(f"no results store at {path}")
    problems: list[str] = []
    try:
        conn = _connect(path, readonly=True)
    except sqlite3.Error as exc:
        return [f"sqlite: cannot open: {sqlite_cause(exc)}"]
    try:
        problems += [f"sqlite: {m}" for (m,) in conn.execute("PRAGMA integrity_check(20)") if m != "ok"]
        if problems:
            return problems
        version = schema_version(conn, path)
        if version != SCHEMA_VERSION:
            problems.append(f"schema {version}, this frbench uses {SCHEMA_VERSION}"
                            + (" (`bench store migrate` brings it up to date)" if version in MIGRATIONS else ""))
            return problems
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        problems += [f"missing table {t}" for t in TABLES if t not in tables]
        if problems:
            return problems
        for table in ("scores", "vectors"):
            (n,) = conn.execute(f"SELECT COUNT(*) FROM {table} x WHERE NOT EXISTS (SELECT 1 FROM samples s "
                                f"WHERE s.run_id=x.run_id AND s.sample_id=x.sample_id)").fetchone()
            if n:
                problems.append(f"{n} row(s) of {table} without their sample row")
        for table in ("samples", "run_metrics", "set_results", "dataset_issues"):
            (n,) = conn.execute(f"SELECT COUNT(*) FROM {table} x WHERE NOT EXISTS "
                                f"(SELECT 1 FROM runs r WHERE r.run_id=x.run_id)").fetchone()
            if n:
                problems.append(f"{n} row(s) of {table} of a run that does not exist")
    except sqlite3.DatabaseError as exc:  # too damaged for integrity_check to finish
        problems.append(f"sqlite: {exc}; the file is corrupt: restore it from a copy (`bench store copy` makes "
                        f"consistent ones)")
    finally:
        conn.close()
    return problems


def copy_store(source: Path, destination: Path, overwrite: bool = False) -> dict[str, int]:
    """A consistent copy of ``source`` (rows still in its ``-wal`` included) at ``destination``; returns
    the rows per table of the copy.  Refuses an existing destination unless ``overwrite``."""
    conn, _ = open_store(source, readonly=True)
    try:
        if destination.exists() and not overwrite:
            raise StoreError(f"{destination} exists; the copy is not written over it (pass --overwrite)")
        destination.parent.mkdir(parents=True, exist_ok=True)
        tmp = destination.with_name(f".{destination.name}.{os.getpid()}.copying")
        target = sqlite3.connect(str(tmp))
        try:
            conn.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")
            (verdict,) = target.execute("PRAGMA integrity_check").fetchone()
            counts = {t: target.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}
        finally:
            target.close()
        if verdict != "ok":
            tmp.unlink()
            raise StoreError(f"the copy of {source} failed its integrity check ({verdict}); nothing written")
        os.replace(tmp, destination)
        return counts
    finally:
        conn.close()
