"""One writer per run: a lease row in the results store, taken before a run writes anything.

Why
---
Two processes writing the same run would each process the same pending samples (work done twice) and,
worse, could interleave their batches.  So ``bench run`` takes a *lease* on its run id in the store,
inside one ``BEGIN IMMEDIATE`` transaction (SQLite serialises those across processes), and every batch
it writes checks, in the same transaction as the rows, that the lease is still its own.  A second
process asking for the same run is refused with a message naming the holder (process id, host,
command, start time); different runs never block each other.

A lease left by a killed process is recovered automatically: on the same host the holder is alive only
if a process with its pid exists AND started at the recorded time (``/proc/<pid>/stat`` field 22, so a
recycled pid is not mistaken for it) AND the machine has not been rebooted since (``boot_id``); on
another host the holder is alive while its heartbeat (refreshed every ``HEARTBEAT_SECONDS`` by a
background thread) is younger than ``STALE_SECONDS``.

Some SQLite statements meet another process's lock without SQLite's busy handler being called (switching
a new file to WAL while another process creates it: "database is locked" at once); :func:`retry_locked`
runs such a statement again until a timeout.
"""
from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable

#: how often a holder refreshes its heartbeat, and after how long without one a remote holder is dead
HEARTBEAT_SECONDS = 30.0
STALE_SECONDS = 600.0

LEASE_SCHEMA = """
CREATE TABLE IF NOT EXISTS leases (
    run_id TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    boot_id TEXT,
    pid_start TEXT,
    command TEXT,
    acquired REAL NOT NULL,
    heartbeat REAL NOT NULL
);
"""


def retry_locked(statement: Callable[[], Any], timeout: float = 60.0, pause: float = 0.05) -> Any:
    """Run ``statement`` again while SQLite answers "database is locked" / "busy", for up to ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return statement()
        except sqlite3.OperationalError as exc:
            text = str(exc).lower()
            if ("locked" not in text and "busy" not in text) or time.monotonic() > deadline:
                raise
            time.sleep(pause)


class RunBusyError(RuntimeError):
    """The run is being written by another live process (the message names it)."""


class LeaseLostError(RuntimeError):
    """This process's lease was taken over (it was presumed dead); it stops without writing."""


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read().strip()
    except OSError:
        return None


def boot_id() -> str | None:
    """This machine's boot id (Linux), so that a lease from before a reboot is never taken as alive."""
    return _read("/proc/sys/kernel/random/boot_id")


def process_start(pid: int) -> str | None:
    """Start time of process ``pid`` in clock ticks since boot (``/proc/<pid>/stat`` field 22), or None."""
    text = _read(f"/proc/{int(pid)}/stat")
    if not text or ")" not in text:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return fields[19] if len(fields) > 19 else None  # fields after the command name start at field 3


@dataclass(frozen=True)
class Holder:
    """Who holds a lease (one row of the ``leases`` table)."""

    run_id: str
    token: str
    pid: int
    host: str
    boot_id: str | None
    pid_start: str | None
    command: str | None
    acquired: float
    heartbeat: float

    def alive(self, now: float | None = None) -> bool:
        """Is the holder still running?  (see the module documentation for the rule)"""
        now = time.time() if now is None else now
        if self.host == socket.gethostname() and (self.boot_id is None or self.boot_id == boot_id()):
            if self.pid_start is not None and process_start(self.pid) is not None:
                return process_start(self.pid) == self.pid_start
            try:  # no /proc: the pid exists or not
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                return True
            return True
        if self.host == socket.gethostname():
            return False  # same host, another boot: the process is gone
        return now - self.heartbeat < STALE_SECONDS

    def describe(self) -> str:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.acquired))
        command = f" ({self.command})" if self.command else ""
        return f"process {self.pid} on {self.host}{command}, since {started}"


_COLUMNS = ("run_id", "token", "pid", "host", "boot_id", "pid_start", "command", "acquired", "heartbeat")


def holder(conn: sqlite3.Connection, run_id: str) -> Holder | None:
    row = conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM leases WHERE run_id=?", (run_id,)).fetchone()
    return None if row is None else Holder(*row)


def acquire(conn: sqlite3.Connection, run_id: str, command: str | None = None) -> tuple[str, Holder | None]:
    """Take the lease of ``run_id`` (caller is inside ``BEGIN IMMEDIATE``).

    Returns ``(token, recovered)``: ``recovered`` is the dead holder whose lease was taken over, if any.
    Raises :class:`RunBusyError` when a live process holds it.
    """
    current = holder(conn, run_id)
    if current is not None and current.alive():
        raise RunBusyError(
            f"run {run_id} is being written by {current.describe()}: one writer per run. Wait for it to "
            f"finish and run the same command again (it resumes), or stop that process; a lease left by a "
            f"killed process is recovered automatically")
    token, now, pid = uuid.uuid4().hex, time.time(), os.getpid()
    conn.execute("INSERT OR REPLACE INTO leases (run_id, token, pid, host, boot_id, pid_start, command, acquired,"
                 " heartbeat) VALUES (?,?,?,?,?,?,?,?,?)",
                 (run_id, token, pid, socket.gethostname(), boot_id(), process_start(pid), command, now, now))
    return token, current


def check(conn: sqlite3.Connection, run_id: str, token: str) -> None:
    """Raise :class:`LeaseLostError` unless ``token`` still holds the lease (caller is in a transaction)."""
    current = holder(conn, run_id)
    if current is None or current.token != token:
        who = "nobody" if current is None else current.describe()
        raise LeaseLostError(f"run {run_id}: this process no longer holds the writer lease (now: {who}); "
                             f"it stops without writing, nothing written before is lost")


def release(conn: sqlite3.Connection, run_id: str, token: str) -> None:
    conn.execute("DELETE FROM leases WHERE run_id=? AND token=?", (run_id, token))


class Heartbeat:
    """Background thread refreshing a lease's heartbeat through its own connection (for remote hosts)."""

    def __init__(self, path: str, run_id: str, token: str, every: float = HEARTBEAT_SECONDS) -> None:
        self.path, self.run_id, self.token, self.every = path, run_id, token, float(every)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="frbench-lease", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
                try:
                    conn.execute("PRAGMA wal_autocheckpoint=0")  # a beat is one row: the writer checkpoints
                    conn.execute("UPDATE leases SET heartbeat=? WHERE run_id=? AND token=?",
                                 (time.time(), self.run_id, self.token))
                finally:
                    conn.close()
            except sqlite3.Error:  # a busy store: the next beat tries again
                continue
