"""Helpers shared by the tests that kill and resume runs (local and Ray executors)."""
from __future__ import annotations

import sqlite3
from pathlib import Path


def count_sample_rows(store: Path) -> int:
    """Rows in the ``samples`` table of a results store (0 when it does not exist yet or is being created)."""
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(str(store), timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
