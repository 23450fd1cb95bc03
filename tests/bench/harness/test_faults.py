"""Fault injection on the results store and the run: signals, full disks, read-only media, damaged and foreign
files, an old schema, a copy of a store in use, bad options.

Every case asserts the outcome (a one-line error naming the path and the cause, a non-zero exit and no
traceback / a recorded error row / an exact resume) and counts the rows lost and duplicated against an
uninterrupted reference run of the same command (``store_support.snapshot()``, table by table; primary keys
make duplicates impossible, so rows present in both are also compared value by value).

All runs are on the synthetic faces (no files needed): 32 images, psnr + ssim, batches of 4.  The real-face
FID version of the SIGKILL test is ``test_resume_kill.py``.  Cases that need a private mount namespace
(a real full tmpfs, a real read-only bind mount) skip when ``unshare -rm`` is not permitted.

With ``FRBENCH_FAULT_TABLE=PATH`` the outcome of every case is written to PATH as a Markdown table
(| case | outcome | rows lost | rows duplicated |) when the module finishes.
"""
from __future__ import annotations

import contextlib
import csv
import os
import random
import re
import shutil
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from bench.cli import main
from bench.harness.store_files import create_store
from bench.harness.store_schema import TABLES
from tests.bench.harness.fault_support import (
    BATCH,
    N_IMAGES,
    Diff,
    bench,
    compare,
    env_for,
    in_namespace,
    namespace_problem,
    one_line_error,
    rows_in,
    run_args,
    sha256,
    start,
    summary_counts,
    wait_for_rows,
)
from tests.bench.harness.store_support import count_sample_rows, snapshot

# -- the outcome table ----------------------------------------------------------------------------------
OUTCOMES: list[dict] = []


@contextlib.contextmanager
def case(name: str):
    """Record one case's outcome (PASS / FAIL with the first line of the failure / SKIPPED) and its notes."""
    row = {"case": name, "notes": [], "lost": "–", "duplicated": "–", "status": "?", "reason": ""}
    OUTCOMES.append(row)
    try:
        yield row
    except pytest.skip.Exception as exc:
        row["status"], row["reason"] = "SKIPPED", str(getattr(exc, "msg", exc))
        raise
    except BaseException as exc:
        text = str(exc).strip().splitlines()
        row["status"], row["reason"] = "FAIL", (text[0] if text else exc.__class__.__name__)[:300]
        raise
    else:
        row["status"] = "PASS"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


@pytest.fixture(scope="module", autouse=True)
def _fault_table():
    yield
    target = os.environ.get("FRBENCH_FAULT_TABLE")
    if not target:
        return
    lines = ["| case | outcome | rows lost | rows duplicated |", "|---|---|---:|---:|"]
    for row in OUTCOMES:
        outcome = row["status"] + (f" ({row['reason']})" if row["reason"] else "")
        if row["notes"]:
            outcome += ": " + "; ".join(row["notes"])
        lines.append(f"| {_cell(row['case'])} | {_cell(outcome)} | {row['lost']} | {row['duplicated']} |")
    Path(target).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _count(row: dict, diff: Diff, what: str = "store") -> None:
    row["lost"], row["duplicated"] = diff.lost, diff.duplicated
    row["notes"].append(f"{what} == reference" if diff.clean else f"{what} differs from the reference: "
                        f"{diff.describe()}")


def _assert_equals_reference(row: dict, reference, store: Path, what: str = "resumed store") -> None:
    expected, got = reference[1], snapshot(store)
    diff = compare(expected, got)
    _count(row, diff, what)
    assert diff.clean, diff.describe()
    assert got == expected
    assert len(got["samples"]) == N_IMAGES and len(got["scores"]) == 2 * N_IMAGES


# -- fixtures ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("faults")


@pytest.fixture(scope="module")
def env(workdir) -> dict[str, str]:
    return env_for(workdir / "asset-cache")


@pytest.fixture(scope="module")
def reference(workdir, env) -> tuple[Path, dict]:
    """One uninterrupted run of the command every case uses: (its store, its snapshot)."""
    store = workdir / "reference.sqlite"
    done = bench(run_args(store), env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert summary_counts(done.stdout)["ok"] == N_IMAGES
    assert not Path(f"{store}-wal").exists()  # closed: every row is in the main file (copied by cases 6-10)
    return store, snapshot(store)


@pytest.fixture(scope="module")
def namespace_reason(workdir) -> str | None:
    return namespace_problem(workdir / "probe")


def _need_namespace(reason: str | None) -> None:
    if reason:
        pytest.skip(f"needs a private mount namespace for a real full/read-only file system: {reason}")


@pytest.fixture
def cli(capsys, monkeypatch):
    """``cli(*args) -> (exit code, stdout, stderr)``: the real ``bench`` entry point, in this process."""
    monkeypatch.delenv("FRBENCH_DEBUG", raising=False)
    capsys.readouterr()

    def call(*args: str) -> tuple[int, str, str]:
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse
            code = exc.code
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return call


# -- 1. SIGINT ----------------------------------------------------------------------------------------------
def test_sigint_mid_run_keeps_the_rows_and_the_same_command_resumes(tmp_path, env, reference):
    with case("1. SIGINT mid-run, then resume") as row:
        store = tmp_path / "sigint.sqlite"
        proc = start(run_args(store, "slow-bicubic"), {**env, "FRBENCH_TEST_SLEEP": "0.3"})
        wait_for_rows(store, 2 * BATCH, proc)  # two batches written, the third one restoring
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        kept = count_sample_rows(store)
        row["notes"].append(f"exit {proc.returncode}, {kept}/{N_IMAGES} rows kept")
        assert proc.returncode == 130, err[-2000:]
        one_line_error(err, "interrupted", "rows written so far are kept", "resume")
        assert 2 * BATCH <= kept < N_IMAGES
        resumed = bench(run_args(store, "slow-bicubic"), env)  # the same command (no sleep this time)
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        counts = summary_counts(resumed.stdout)
        assert (counts["done"], counts["processed"], counts["ok"], counts["failed"]) == (
            kept, N_IMAGES - kept, N_IMAGES, 0)
        _assert_equals_reference(row, reference, store)


# -- 2. SIGKILL -----------------------------------------------------------------------------------------------
def test_three_sigkills_at_seeded_random_moments_then_resume_equal_the_reference(tmp_path, env, reference):
    with case("2. SIGKILL x3 at seeded random moments, then resume") as row:
        store = tmp_path / "killed.sqlite"
        slow = {**env, "FRBENCH_TEST_SLEEP": "0.4"}
        rng = random.Random(20240611)
        # one kill during start-up (imports, store creation, lease: importing torch alone takes longer than the
        # delay), two once the store holds >= a seeded number of rows (at least two batches left) plus less than
        # one batch's sleep: they land while a batch is restored, scored or written
        kinds = rng.sample(["start-up", "mid-run", "mid-run"], 3)
        targets = iter(sorted(rng.sample(range(1, N_IMAGES - 2 * BATCH + 1), 2)))
        moments, counts = [], []
        for kind in kinds:
            proc = start(run_args(store, "slow-bicubic"), slow)
            if kind == "start-up":
                delay = rng.uniform(0.1, 0.8)
                time.sleep(delay)
                moments.append(f"start-up +{delay:.2f}s")
            else:
                target, delay = next(targets), rng.uniform(0.0, 0.35)
                wait_for_rows(store, target, proc)
                time.sleep(delay)
                moments.append(f">={target} rows +{delay:.2f}s")
            proc.send_signal(signal.SIGKILL)
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == -signal.SIGKILL, f"the run ended before the kill: {err[-2000:]}"
            counts.append(count_sample_rows(store))
        row["notes"].append(f"kills at {', '.join(moments)}; rows after each: {counts}")
        assert counts[-1] < N_IMAGES, "the kills must leave work to resume"
        resumed = bench(run_args(store, "slow-bicubic"), env)
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        counts_now = summary_counts(resumed.stdout)
        assert counts_now["done"] == counts[-1] and counts_now["ok"] == N_IMAGES and counts_now["failed"] == 0
        _assert_equals_reference(row, reference, store)


# -- 3, 4. the store's disk fills -----------------------------------------------------------------------------
FULL_CAUSES = ("database or disk is full", "disk I/O error", "No space left")


def _short(err: str, store: Path) -> str:
    """The last stderr line, with the store's path shortened to STORE and the remedy cut."""
    lines = err.strip().splitlines() or [""]
    return lines[-1].replace(str(store), "STORE").split(" (")[0][:150]


def _full_disk_refusal(row: dict, done_rc: int, err: str, store: Path) -> None:
    assert done_rc == 2, err[-2000:]
    line = one_line_error(err, str(store))
    assert any(cause in line for cause in FULL_CAUSES), f"the cause (a full disk) is not named: {line}"


def test_store_on_a_file_size_limit_fails_with_one_line_then_resumes(tmp_path, env, reference):
    with case("3. store beyond RLIMIT_FSIZE mid-run, then resume without it") as row:
        store = tmp_path / "fsize.sqlite"
        # an empty store is ~100 KB (its creation writes a ~103 KB WAL); the 32 rows need more than 150 KB
        done = bench(run_args(store), env, fsize_limit=150_000)
        row["notes"].append(f"exit {done.returncode}: {_short(done.stderr, store)}")
        _full_disk_refusal(row, done.returncode, done.stderr, store)
        kept = count_sample_rows(store)
        row["notes"].append(f"{kept}/{N_IMAGES} rows kept")
        assert 0 < kept < N_IMAGES, "the limit must be reached mid-run"
        resumed = bench(run_args(store), env)
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        assert summary_counts(resumed.stdout)["done"] == kept
        _assert_equals_reference(row, reference, store)


@pytest.mark.parametrize("size, label", [
    ("300k", "4. store on a real full tmpfs (fills mid-run), then resume after remount"),
    ("180k", "4b. tmpfs fills while the store file is created, then resume after remount"),
])
def test_store_on_a_full_tmpfs_fails_with_one_line_then_resumes(tmp_path, env, reference, namespace_reason, size,
                                                               label):
    with case(label) as row:
        _need_namespace(namespace_reason)
        mnt = tmp_path / "disk"
        mnt.mkdir()
        store, copy = mnt / "results.sqlite", tmp_path / "copy.sqlite"
        steps = [{"do": "sh", "script": f"mount -t tmpfs -o size={size} tmpfs {mnt}"},
                 {"do": "bench", "args": run_args(store)},
                 {"do": "rows", "store": str(store)},
                 {"do": "sh", "script": f"mount -o remount,size=4m {mnt}"},
                 {"do": "bench", "args": run_args(store)},
                 {"do": "copy", "store": str(store), "to": str(copy)}]
        mount, full, rows, remount, resumed, _ = in_namespace(steps, env)
        assert mount["rc"] == 0 and remount["rc"] == 0, (mount, remount)
        kept = rows.get("rows", rows.get("exception"))
        row["notes"].append(f"exit {full['rc']}: {_short(full['err'], store)}")
        row["notes"].append(f"rows kept: {kept}")
        row["notes"].append(f"resume after remount: exit {resumed['rc']}"
                            + (f" ({_short(resumed['err'], store)})" if resumed["rc"] else ""))
        _full_disk_refusal(row, full["rc"], full["err"], store)
        assert isinstance(kept, int) and kept < N_IMAGES, kept
        assert resumed["rc"] == 0, resumed["err"][-2000:]
        assert summary_counts(resumed["out"])["done"] == kept
        _assert_equals_reference(row, reference, copy)


# -- 5. the image folder fills (--save-images) -------------------------------------------------------------------
def test_full_image_folder_counts_failed_saves_and_a_resume_saves_them(tmp_path, env, reference, namespace_reason):
    with case("5. --save-images on a full tmpfs (store elsewhere), then resume") as row:
        _need_namespace(namespace_reason)
        out, store, board = tmp_path / "out", tmp_path / "results.sqlite", tmp_path / "board"
        out.mkdir()
        save = ("--save-images", "--out", str(out))
        steps = [{"do": "sh", "script": f"mount -t tmpfs -o size=240k tmpfs {out}"},  # ~18 of the 32 PNGs
                 {"do": "bench", "args": run_args(store, "bicubic", *save)},
                 {"do": "bench", "args": ["errors", "--store", str(store)]},
                 {"do": "bench", "args": ["leaderboard", "--store", str(store), "--out", str(board), "--quiet"]},
                 {"do": "sh", "script": f"mount -o remount,size=8m {out}"},
                 {"do": "bench", "args": run_args(store, "bicubic", *save)},
                 {"do": "images", "store": str(store), "folder": str(out)}]
        mount, first, errors, board_run, remount, resumed, images = in_namespace(steps, env)
        assert mount["rc"] == 0 and remount["rc"] == 0, (mount, remount)
        assert first["rc"] == 0, first["err"][-2000:]
        counts = summary_counts(first["out"])
        failed = counts["failed"]
        row["notes"].append(f"first run: {counts['ok']} ok, {failed} failed")
        assert 0 < failed < N_IMAGES and counts["ok"] == N_IMAGES - failed
        assert f"{failed} error(s)" in first["out"]
        means = re.findall(r"(psnr|ssim): mean [-0-9.]+ over (\d+) images", first["out"])
        row["notes"].append("its summary's means over " + ", ".join(f"{m}: {n}" for m, n in means) + " images")
        saves = [line for line in errors["out"].splitlines() if "[save]" in line]
        row["notes"].append(f"bench errors: {len(saves)} [save] rows")
        assert errors["rc"] == 0 and len(saves) == failed, errors["out"][-2000:]
        assert all(".png" in line and "No space left on device" in line for line in saves), saves[:3]
        assert board_run["rc"] == 0, board_run["err"][-2000:]
        with open(board / "leaderboard.csv", newline="", encoding="utf-8") as handle:
            (board_row,) = list(csv.DictReader(handle))
        row["notes"].append(f"leaderboard: images {board_row['images']}, failed {board_row['failed']}")
        assert (int(board_row["images"]), int(board_row["failed"])) == (N_IMAGES - failed, failed)
        assert resumed["rc"] == 0, resumed["err"][-2000:]
        again = summary_counts(resumed["out"])
        row["notes"].append(f"resume: {again['processed']} processed, {again['failed']} failed, "
                            f"{images['saved']} PNGs readable")
        assert (again["done"], again["processed"], again["ok"], again["failed"]) == (
            N_IMAGES - failed, failed, N_IMAGES, 0)
        assert images["saved"] == N_IMAGES and len(images["files"]) == N_IMAGES, images
        assert not (images["missing"] or images["unreadable"] or images["incomplete"]), images
        _assert_equals_reference(row, reference, store)


# -- 6. read-only store ---------------------------------------------------------------------------------------------
def test_read_only_store_answers_reads_and_refuses_a_run(tmp_path, env, reference, namespace_reason):
    with case("6. store on a read-only bind mount") as row:
        _need_namespace(namespace_reason)
        folder = tmp_path / "ro"
        folder.mkdir()
        store = folder / "results.sqlite"
        shutil.copyfile(reference[0], store)
        before = sha256(store)
        run_id = reference[1]["runs"][0][0]
        steps = [{"do": "sh", "script": f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder}"},
                 {"do": "bench", "args": ["leaderboard", "--store", str(store), "--out", str(tmp_path / "lb"),
                                          "--quiet"]},
                 {"do": "bench", "args": ["errors", "--store", str(store)]},
                 {"do": "bench", "args": ["runs", "list", "--store", str(store)]},
                 {"do": "bench", "args": ["store", "check", "--store", str(store)]},
                 {"do": "bench", "args": run_args(store)},
                 {"do": "sha256", "path": str(store)}]
        mount, board, errors, runs, check, run, inside = in_namespace(steps, env)
        assert mount["rc"] == 0, mount
        codes = {"leaderboard": board["rc"], "errors": errors["rc"], "runs list": runs["rc"],
                 "store check": check["rc"], "run": run["rc"]}
        row["notes"].append("exit codes " + ", ".join(f"{k} {v}" for k, v in codes.items()))
        for name, result in (("leaderboard", board), ("errors", errors), ("runs list", runs), ("store check", check)):
            assert result["rc"] == 0 and "Traceback" not in result["err"], (name, result["err"][-2000:])
        assert "wrote" in board["out"] and "0 error(s)" in errors["out"] and run_id in errors["out"]
        assert run_id in runs["out"] and f"{N_IMAGES}" in runs["out"] and check["out"].strip().endswith(": ok")
        assert run["rc"] == 2, run["err"][-2000:]
        one_line_error(run["err"], str(store), "read-only")
        unchanged = inside["sha256"] == before == sha256(store)
        row["notes"].append("file unchanged" if unchanged else "FILE CHANGED")
        assert unchanged and inside["files"] == ["results.sqlite"] == sorted(os.listdir(folder))
        _assert_equals_reference(row, reference, store, "read-only store")


# -- 7. corrupt store -------------------------------------------------------------------------------------------------
def _damage(store: Path, where: str) -> str:
    """Overwrite a few KB of a finished store with seeded noise; returns what was hit."""
    with contextlib.closing(sqlite3.connect(str(store))) as conn:
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name='samples'").fetchone()[0]
    size = store.stat().st_size
    if where == "rows":  # 3 pages from the samples table's root page: rows every command reads
        offset, length = (root - 1) * page, 3 * page
    else:  # the literal middle of the file, 8 KB (here: pages of tables a psnr/ssim run never reads)
        offset, length = (size // 2) // page * page, 2 * page
    with open(store, "r+b") as handle:
        handle.seek(offset)
        handle.write(random.Random(7).randbytes(length))
    return f"bytes {offset}..{offset + length} of {size} (pages {offset // page + 1}-{(offset + length) // page})"


@pytest.mark.parametrize("where", ["rows", "middle"])
def test_corrupt_store_is_refused_by_every_command_and_left_unchanged(tmp_path, reference, cli, where):
    label = {"rows": "7. corrupt store (samples pages overwritten)",
             "middle": "7b. corrupt store (8 KB in the middle of the file: pages no read command uses)"}[where]
    with case(label) as row:
        store = tmp_path / "corrupt.sqlite"
        commands = {"runs list": ["runs", "list", "--store", store],
                    "errors": ["errors", "--store", store],
                    "leaderboard": ["leaderboard", "--store", store, "--out", tmp_path / "lb", "--quiet"],
                    "run": run_args(store),
                    "store check": ["store", "check", "--store", store]}
        changed_by, codes, answered, problems = [], {}, [], []
        for name, args in commands.items():  # each on a fresh damaged copy: a change is attributed to it
            for leftover in tmp_path.glob("corrupt.sqlite*"):
                leftover.unlink()
            shutil.copyfile(reference[0], store)
            hit = _damage(store, where)
            before = sha256(store)
            code, out, err = cli(*args)
            codes[name] = code
            if sha256(store) != before:
                changed_by.append(name)
            try:
                if name == "store check":  # lists the problem, exit 1
                    assert code == 1 and "malformed" in out and out.strip().endswith("1 problem(s)"), (out, err)
                elif where == "middle" and name != "run" and code == 0:
                    answered.append(name)  # SQLite did not meet the damage: the answer is the right one
                else:
                    assert code == 2, f"exit {code}"
                    line = one_line_error(err, str(store))
                    assert "malformed" in line or "corrupt" in line, line
            except AssertionError as exc:
                problems.append(f"{name}: {str(exc).splitlines()[0][:150]}")
        row["notes"].append(hit)
        row["notes"].append("exit codes " + ", ".join(f"{k} {v}" for k, v in codes.items()))
        if answered:
            row["notes"].append(f"answered without meeting the damage: {', '.join(answered)}")
        row["notes"].append(f"file written by: {', '.join(changed_by)}" if changed_by else "file unchanged")
        assert not problems, problems
        assert not changed_by, f"the corrupt file was written by: {changed_by}"


# -- 8. files that are not (this frbench's) stores -------------------------------------------------------------------
def _make_bad(kind: str, path: Path, reference_store: Path) -> str:
    """Create a bad store file; returns the phrase the refusal must contain."""
    if kind == "zero-byte file":
        path.write_bytes(b"")
        return "empty file (0 bytes)"
    if kind == "text file":
        path.write_text("run_id,method,psnr\nabc,bicubic,23.4\n")
        return "not an SQLite database"
    if kind == "directory":
        path.mkdir()
        (path / "keep.txt").write_text("a user's folder")
        return "is a directory"
    if kind == "foreign SQLite database":
        with contextlib.closing(sqlite3.connect(str(path))) as conn:  # rollback journal, as most apps have it
            conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)")
            conn.execute("INSERT INTO photos VALUES (1, 'holiday.jpg')")
            conn.commit()
        return "not an frbench results store"
    if kind == "newer schema (99)":
        shutil.copyfile(reference_store, path)
        with contextlib.closing(sqlite3.connect(str(path))) as conn:
            conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
            conn.commit()
        return "schema 99"
    raise ValueError(kind)


def _state(path: Path):
    if path.is_dir():
        return ("dir", sorted((p.name, p.read_bytes()) for p in path.iterdir()))
    return ("file", sha256(path))


@pytest.mark.parametrize("kind", ["zero-byte file", "text file", "directory", "foreign SQLite database",
                                  "newer schema (99)"])
def test_a_file_that_is_not_a_usable_store_is_refused_and_never_touched(tmp_path, reference, cli, kind):
    with case(f"8. {kind} as --store") as row:
        store = tmp_path / "bad" / "results.sqlite"
        commands = {"run": run_args(store),
                    "leaderboard": ["leaderboard", "--store", store, "--out", tmp_path / "lb", "--quiet"],
                    "errors": ["errors", "--store", store],
                    "runs list": ["runs", "list", "--store", store],
                    "store migrate": ["store", "migrate", "--store", store],
                    "store check": ["store", "check", "--store", store]}
        changed_by, codes, problems = [], {}, []
        for name, args in commands.items():  # each on a fresh file: a change is attributed to it
            shutil.rmtree(store.parent, ignore_errors=True)
            store.parent.mkdir()
            cause = _make_bad(kind, store, reference[0])
            before = _state(store)
            code, out, err = cli(*args)
            codes[name] = code
            if _state(store) != before:
                changed_by.append(name)
            try:
                if name == "store check" and kind.startswith("newer"):  # a store of another schema: listed
                    assert code == 1 and "schema 99" in out, (code, out[-500:], err[-500:])
                else:
                    assert code == 2, (code, out[-500:], err[-500:])
                    one_line_error(err, str(store), cause)
            except AssertionError as exc:
                problems.append(f"{name}: {str(exc).splitlines()[0][:200]}")
        row["notes"].append("exit codes " + ", ".join(f"{k} {v}" for k, v in codes.items()))
        row["notes"].append(f"bytes changed by: {', '.join(changed_by)}" if changed_by else "bytes unchanged")
        assert not problems, problems
        assert not changed_by, f"refused, yet the file was modified by: {changed_by}"


# -- 9. an old schema-2 store ------------------------------------------------------------------------------------------
#: what schema 3 added to schema 2 (the documented migration): two columns of samples and one table
SCHEMA3_ONLY = ("ALTER TABLE samples DROP COLUMN notes", "ALTER TABLE samples DROP COLUMN output_error",
                "DROP TABLE dataset_issues", "UPDATE meta SET value='2' WHERE key='schema_version'")


def test_schema2_store_is_refused_by_reads_and_migrated_with_a_backup(tmp_path, reference, cli):
    with case("9. old schema-2 store: refused by reads, `bench store migrate` keeps a backup") as row:
        store = tmp_path / "old.sqlite"
        shutil.copyfile(reference[0], store)
        with contextlib.closing(sqlite3.connect(str(store))) as conn:
            for statement in SCHEMA3_ONLY:
                conn.execute(statement)
            conn.commit()
            columns = {r[1] for r in conn.execute("PRAGMA table_info(samples)")}
        assert not {"notes", "output_error"} & columns
        old_rows, before = snapshot(store), sha256(store)
        for args in (["runs", "list"], ["errors"], ["leaderboard", "--out", tmp_path / "lb", "--quiet"]):
            code, _, err = cli(*args, "--store", store)
            assert code == 2, (args, err)
            one_line_error(err, str(store), "schema 2", "bench store migrate")
        assert sha256(store) == before
        row["notes"].append("reads refused (exit 2, 'run `bench store migrate`')")
        code, out, err = cli("store", "migrate", "--store", store)
        backup = Path(f"{store}.schema2.bak")
        assert code == 0 and str(backup) in out, (out, err)
        with contextlib.closing(sqlite3.connect(str(backup))) as conn:
            assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == "2"
        assert snapshot(backup) == old_rows
        row["notes"].append(f"backup {backup.name} (schema 2, rows equal)")
        code, out, err = cli("runs", "list", "--store", store)
        assert code == 0 and reference[1]["runs"][0][0] in out and f" {N_IMAGES} " in out, (out, err)
        code, out, err = cli("store", "check", "--store", store)
        assert code == 0 and out.strip().endswith(": ok"), (out, err)
        _assert_equals_reference(row, reference, store, "migrated store")


# -- 10. copying a store whose rows are in its -wal file --------------------------------------------------------------
def test_store_copy_includes_rows_still_in_the_wal_file(tmp_path, reference, cli):
    with case("10. copy of a store whose rows live in its -wal") as row:
        store = tmp_path / "busy.sqlite"
        create_store(store)
        conn = sqlite3.connect(str(store), isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA wal_autocheckpoint=0")  # a writer that has not checkpointed yet
            conn.execute("ATTACH DATABASE ? AS ref", (str(reference[0]),))
            conn.execute("BEGIN IMMEDIATE")
            for table in TABLES:
                if table != "meta":
                    conn.execute(f"INSERT INTO main.{table} SELECT * FROM ref.{table}")
            conn.execute("COMMIT")
            conn.execute("DETACH DATABASE ref")
            assert Path(f"{store}-wal").stat().st_size > 0
            plain = tmp_path / "plain-copy.sqlite"
            shutil.copyfile(store, plain)  # what `cp PATH` does
            plain_diff = compare(reference[1], snapshot(plain))
            row["notes"].append(f"plain byte copy of the main file: {rows_in(plain)} sample rows, "
                                f"{plain_diff.lost} rows lost")
            assert plain_diff.lost > 0, "the rows must live in the -wal file for this case"
            copy = tmp_path / "bench-copy.sqlite"
            code, out, err = cli("store", "copy", copy, "--store", store)
            assert code == 0 and "integrity ok" in out, (out, err)
            code, _, err = cli("store", "copy", copy, "--store", store)  # never over an existing file
            assert code == 2 and one_line_error(err, str(copy), "exists")
            _assert_equals_reference(row, reference, copy, "`bench store copy`")
        finally:
            conn.close()


# -- 11. options validated before anything is created ------------------------------------------------------------------
@pytest.mark.parametrize("option, value", [("--seed", "-1"), ("--seed", "9223372036854775808"), ("--limit", "0"),
                                           ("--batch-size", "0")])
def test_bad_run_options_are_refused_before_a_store_is_created(tmp_path, cli, option, value):
    with case(f"11. bench run {option} {value}") as row:
        store = tmp_path / "never.sqlite"
        code, out, err = cli(*run_args(store), option, value)
        created = sorted(p.name for p in tmp_path.iterdir())
        errors = [line for line in err.strip().splitlines() if "error:" in line]
        row["notes"].append(f"exit {code}" + (f": {errors[-1].strip()[:120]}" if errors else "")
                            + f" ({len(err.strip().splitlines())} stderr lines with the usage)"
                            + (f"; created {created}" if created else "; no file created"))
        assert "Traceback" not in err
        assert code == 2, f"{option} {value} was accepted (exit {code}): {out[-300:]}"
        assert len(errors) == 1 and err.strip().splitlines()[-1] == errors[0] and option in errors[0], err[-1500:]
        assert created == [], f"files created by a refused command: {created}"
