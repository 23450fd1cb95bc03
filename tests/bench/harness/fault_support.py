"""Helpers of the fault-injection suite (``test_faults.py``): the ``bench run`` command every case uses, starting
it (optionally under a file-size limit), a driver that runs steps inside a private mount namespace (a real
full tmpfs, a real read-only bind mount), comparing a store with a reference one row by row, and the outcome
table.

The namespace driver is this module run as a script (``unshare -rm python -m tests.bench.harness.fault_support
STEPS``): mounts made inside it vanish with it, so every check that needs them (files on the tmpfs) is a step.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.bench.harness.store_support import REPO, cli_command, count_sample_rows

#: images of the synthetic dataset every run of the suite uses (batches of 4: 8 transactions)
N_IMAGES = 32
BATCH = 4
#: primary-key length of each table of ``store_support.snapshot()``
KEY_COLUMNS = {"runs": 1, "samples": 2, "scores": 3, "vectors": 3, "ref_vectors": 2, "set_members": 3,
               "set_results": 3, "run_metrics": 2}


def run_args(store: Path | str, method: str = "bicubic", *extra: str) -> list[str]:
    """``bench run`` on the synthetic faces (no files needed) with psnr and ssim, small batches."""
    return ["run", "--method", method, "--dataset", "synthetic", "-D", f"n={N_IMAGES}", "--metrics", "psnr,ssim",
            "--batch-size", str(BATCH), "--no-progress", "--store", str(store), *extra]


def env_for(cache: Path, sleep: float = 0.0) -> dict[str, str]:
    """One torch thread, an isolated asset cache, the ``slow-bicubic`` sleep, and never ``--debug``."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "FRBENCH_CACHE": str(cache),
           "FRBENCH_TEST_SLEEP": str(sleep)}
    env.pop("FRBENCH_DEBUG", None)
    return env


def command(args: Sequence[str]) -> list[str]:
    """The ``bench`` command line: through ``store_support.SLOW_CLI`` when it needs the ``slow-bicubic`` method,
    else ``python -m bench`` (a read command then starts in half a second: no torch import)."""
    args = [str(a) for a in args]
    return cli_command(*args) if "slow-bicubic" in args else [sys.executable, "-m", "bench", *args]


def bench(args: Sequence[str], env: dict[str, str], fsize_limit: int | None = None,
          timeout: float = 300) -> subprocess.CompletedProcess:
    """The real command line in a subprocess; ``fsize_limit``: RLIMIT_FSIZE in bytes (Python ignores SIGXFSZ,
    so a write beyond it fails with EFBIG, which SQLite reports as "disk I/O error")."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize_limit, fsize_limit))

    return subprocess.run(command(args), cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout,
                          preexec_fn=limit if fsize_limit is not None else None, check=False)


def _default_sigint() -> None:
    """In the child before exec: SIGINT back to its default, so Python installs its Ctrl-C handler even when the
    test suite itself runs in the background (a shell without job control starts background jobs with SIGINT
    ignored, and an ignored SIGINT is inherited across exec)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(args: Sequence[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(command(args), cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=_default_sigint)


def wait_for_rows(store: Path, rows: int, proc: subprocess.Popen) -> int:
    """Poll until the store holds ``rows`` sample rows (a state, not a duration); fails if the run ends first."""
    while True:
        n = count_sample_rows(store)
        if n >= rows:
            return n
        if proc.poll() is not None:
            raise AssertionError(f"the run ended (exit {proc.returncode}) before {rows} rows were written "
                                 f"({n} written): {proc.stderr.read()[-1000:]}")
        time.sleep(0.02)


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def rows_in(store: Path, table: str = "samples") -> int:
    with contextlib.closing(sqlite3.connect(str(store))) as conn:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def consistent_copy(source: Path, destination: Path) -> None:
    """SQLite's backup API (rows still in ``source-wal`` included), independent of the code under test."""
    src, dst = sqlite3.connect(str(source)), sqlite3.connect(str(destination))
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def one_line_error(err: str, *must_contain: str) -> str:
    """The stderr of a refused command: one line, no traceback, naming everything in ``must_contain``."""
    text = err.strip()
    assert "Traceback" not in err, err[-3000:]
    assert text and len(text.splitlines()) == 1, f"expected one line on stderr, got:\n{err[-3000:]}"
    for part in must_contain:
        assert part in text, f"{part!r} not in {text!r}"
    return text


def summary_counts(out: str) -> dict[str, int]:
    """The counts of a ``bench run`` summary (``images: P planned, S already done, N processed ...; in store:
    K ok, F failed``)."""
    m = re.search(r"(\d+) planned, (\d+) already done, (\d+) processed now .*in store: (\d+) ok, (\d+) failed", out)
    assert m, f"no summary line in:\n{out[-2000:]}"
    return dict(zip(("planned", "done", "processed", "ok", "failed"), map(int, m.groups())))


# -- comparing a store with a reference ------------------------------------------------------------------
@dataclass
class Diff:
    lost: int = 0          # reference rows whose key is missing
    duplicated: int = 0    # rows beyond the first with the same key (or identical rows repeated)
    changed: int = 0       # keys present in both with other values
    extra: int = 0         # keys the reference does not have

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.changed or self.extra)

    def describe(self) -> str:
        return f"lost {self.lost}, duplicated {self.duplicated}, changed {self.changed}, extra {self.extra}"


def compare(expected: dict[str, list[tuple]], got: dict[str, list[tuple]],
            tables: Sequence[str] | None = None) -> Diff:
    """Row-by-row difference of two ``snapshot()`` dicts (every table, or ``tables``)."""
    diff = Diff()
    for table in tables or expected:
        k = KEY_COLUMNS[table]
        want: dict[tuple, tuple] = {row[:k]: row for row in expected[table]}
        have: dict[tuple, list[tuple]] = {}
        for row in got[table]:
            have.setdefault(row[:k], []).append(row)
        for key, row in want.items():
            if key not in have:
                diff.lost += 1
            elif have[key][0] != row or any(other != row for other in have[key][1:]):
                diff.changed += 1
        diff.duplicated += sum(len(rows) - 1 for rows in have.values())
        diff.extra += sum(1 for key in have if key not in want)
    return diff


# -- private mount namespaces ------------------------------------------------------------------------------
def namespace_problem(scratch: Path) -> str | None:
    """``None`` when ``unshare -rm`` may mount a tmpfs and a read-only bind mount here; else why not."""
    if shutil.which("unshare") is None:
        return "the unshare command is not installed"
    scratch.mkdir(parents=True, exist_ok=True)
    script = (f"mount -t tmpfs -o size=64k tmpfs {scratch} && mount -o remount,size=128k {scratch} && "
              f"mount --bind {scratch} {scratch} && mount -o remount,bind,ro {scratch}")
    try:
        done = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=60,
                              check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unshare -rm failed: {exc}"
    if done.returncode:
        return f"unshare -rm (user + mount namespace) is not permitted here: {done.stderr.strip()[:300]}"
    return None


def in_namespace(steps: list[dict[str, Any]], env: dict[str, str], timeout: float = 600) -> list[dict[str, Any]]:
    """Run ``steps`` (see :func:`_driver`) in a new user + mount namespace; one result dict per step."""
    driver = ["unshare", "-rm", sys.executable, "-m", "tests.bench.harness.fault_support", json.dumps(steps)]
    done = subprocess.run(driver, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"namespace driver failed ({done.returncode}):\n{done.stderr[-3000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def _step(step: dict[str, Any]) -> dict[str, Any]:
    kind = step["do"]
    if kind == "sh":  # mount, remount: a failure stops the driver
        done = subprocess.run(step["script"], shell=True, capture_output=True, text=True, check=False)
        return {"rc": done.returncode, "out": done.stdout, "err": done.stderr}
    if kind == "bench":
        done = subprocess.run(command(step["args"]), cwd=REPO, capture_output=True, text=True, timeout=300,
                              check=False)
        return {"rc": done.returncode, "out": done.stdout, "err": done.stderr}
    if kind == "rows":
        return {"rows": count_sample_rows(Path(step["store"]))}
    if kind == "copy":  # out of the namespace's mounts, WAL included
        consistent_copy(Path(step["store"]), Path(step["to"]))
        return {}
    if kind == "sha256":
        return {"sha256": sha256(Path(step["path"])), "files": sorted(os.listdir(Path(step["path"]).parent))}
    if kind == "images":  # every restored_path of the store: exists and decodes
        from PIL import Image

        with contextlib.closing(sqlite3.connect(str(step["store"]))) as conn:
            rows = conn.execute("SELECT sample_id, restored_path, output_error FROM samples").fetchall()
        report = {"rows": len(rows), "saved": 0, "missing": [], "unreadable": [], "incomplete": [],
                  "files": sorted(p.name for p in Path(step["folder"]).rglob("*.png"))}
        for sample_id, path, output_error in rows:
            if path is None or output_error is not None:
                report["incomplete"].append(sample_id)
                continue
            if not Path(path).is_file():
                report["missing"].append(sample_id)
                continue
            try:
                with Image.open(path) as image:
                    image.load()
                    assert image.size == (128, 128), image.size
                report["saved"] += 1
            except Exception as exc:  # noqa: BLE001 (reported, the test asserts)
                report["unreadable"].append(f"{sample_id}: {exc}")
        return report
    raise ValueError(f"unknown step {kind!r}")


def _driver(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    results = []
    for step in steps:
        try:
            result = _step(step)
        except Exception as exc:  # noqa: BLE001 (a store SQLite refuses, ...: reported, the test asserts)
            result = {"exception": f"{exc.__class__.__name__}: {exc}"}
        results.append(result)
        if step["do"] == "sh" and result["rc"]:
            break
    return results


if __name__ == "__main__":  # the namespace driver (see in_namespace)
    print(json.dumps(_driver(json.loads(sys.argv[1]))))
