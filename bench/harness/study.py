"""Running a study: every cell of a study file (:mod:`bench.harness.study_spec`) as an ordinary run.

:func:`prepare_study` reads a study file (a path, or the name of a study shipped in ``bench/studies/``),
applies the overrides (``--root DATASET=PATH``, ``--limit``) and validates the WHOLE file
(:func:`~bench.harness.study_spec.check_study`); :func:`run_study` then runs the cells in file order, each
as ``Runner(**options).run()`` into the results store, so run identity, resume and the leaderboard work as
for ``bench run``:

* a cell whose run is already complete in the store processes nothing: it is reported ``skipped``;
* a cell that raises is reported ``failed`` (with the cause) and the next cell starts;
* Ctrl-C stops the study; the rows written are kept, and running the study again skips the complete
  cells and resumes the interrupted one exactly where it stopped (the runner's resume).

One progress bar counts the images of all cells (the per-run bars are off): it advances as each batch
is written and jumps over the images of skipped cells.  The result is a :class:`StudySummary` (pandas
table of the cells: status, run id, seconds).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence

from bench.core.defaults import DEFAULTS
from bench.harness.study_spec import Cell, Study, StudyError, check_study, describe_error, planned_images, read_study

#: statuses of a cell in a :class:`StudySummary`
STATUSES = ("planned", "done", "skipped", "failed")


def shipped_studies() -> dict[str, Path]:
    """The studies shipped with frbench (``bench/studies/*.yaml``): name -> file."""
    folder = Path(str(resources.files("bench") / "studies"))
    return {path.stem: path for path in sorted(folder.glob("*.yaml"))}


def find_study(path_or_name: str | Path) -> Path:
    """A study file: ``path_or_name`` when it is a file, else the shipped study of that name."""
    path = Path(path_or_name)
    if path.is_file():
        return path
    shipped = shipped_studies()
    if str(path_or_name) in shipped:
        return shipped[str(path_or_name)]
    import difflib

    close = difflib.get_close_matches(str(path_or_name), list(shipped), n=2)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise FileNotFoundError(f"no study file {path_or_name} and no shipped study of that name.{hint} Shipped studies: "
                            f"{', '.join(shipped) or '(none)'} (`bench study list`)")


@dataclass
class PreparedStudy:
    """A parsed study with its validation result (``problems`` empty: ready to run)."""

    study: Study | None
    problems: list[str]
    planned: dict[int, int | None] = field(default_factory=dict)  # cell index -> images

    def raise_problems(self) -> None:
        if self.problems or self.study is None:
            raise StudyError(self.study.source if self.study else "?", self.problems)


def prepare_study(path_or_name: str | Path, *, roots: Mapping[str, str] | None = None, limit: int | None = None,
                  device: str = DEFAULTS["device"], check: bool = True) -> PreparedStudy:
    """Read and validate a study (every problem of the file, see :mod:`bench.harness.study_spec`);
    ``check=False``: the schema only (no component is built, no dataset indexed)."""
    study, problems = read_study(find_study(path_or_name), roots=roots, limit=limit)
    if study is None or not check:
        return PreparedStudy(study, problems)
    component_problems, sizes = check_study(study, device=device)
    return PreparedStudy(study, problems + component_problems, planned_images(study, sizes))


@dataclass
class CellResult:
    cell: Cell
    status: str
    run_id: str | None = None
    seconds: float = 0.0
    n_planned: int | None = None
    n_processed: int = 0
    n_image_errors: int = 0
    error: str | None = None


@dataclass
class StudySummary:
    """What a study did: one :class:`CellResult` per cell, the store, the report written (if any)."""

    name: str
    source: str
    store: str
    results: list[CellResult]
    problems: list[str] = field(default_factory=list)
    dry_run: bool = False
    seconds: float = 0.0
    report: dict[str, Path] = field(default_factory=dict)
    report_error: str | None = None  # the report step failed (the cells' runs are in the store all the same)

    @property
    def run_ids(self) -> list[str]:
        """The runs of the study's cells that are in the store (done or skipped), in cell order."""
        return [r.run_id for r in self.results if r.status in ("done", "skipped") and r.run_id]

    @property
    def failed(self) -> list[CellResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def exit_code(self) -> int:
        """0 when every cell is in the store (or, for a dry run, the file is valid); else 1 (2: invalid)."""
        if self.problems:
            return 2
        return 1 if self.failed or self.report_error else 0

    def table(self):
        """The cells as a pandas DataFrame (one row per cell)."""
        import pandas as pd

        rows = [{"cell": r.cell.index, "dataset": r.cell.dataset.name, "degradation": r.cell.degradation,
                 "method": r.cell.method.label, "metrics": ",".join(r.cell.metrics),
                 "images": "?" if r.n_planned is None else r.n_planned,
                 "status": r.status, "processed": r.n_processed, "image_errors": r.n_image_errors,
                 "run_id": r.run_id or "", "seconds": round(r.seconds, 1), "error": r.error or ""}
                for r in self.results]
        frame = pd.DataFrame(rows)
        if self.dry_run and not frame.empty:
            frame = frame[["cell", "dataset", "degradation", "method", "metrics", "images"]]
        return frame

    def format(self) -> str:
        import pandas as pd

        counts = {s: sum(1 for r in self.results if r.status == s) for s in STATUSES}
        head = f"study {self.name} ({self.source}): {len(self.results)} cell(s)"
        frame = self.table()
        if not self.dry_run and not frame["error"].astype(bool).any():
            frame = frame.drop(columns="error")
        with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 250,
                               "display.max_colwidth", 120):
            lines = [head, frame.to_string(index=False)]
        if self.dry_run:
            total = sum(r.n_planned or 0 for r in self.results)
            lines.append(f"dry run: {total:,} image(s) in all; nothing was run")
            if self.problems:
                lines.append(f"validation: {len(self.problems)} problem(s):")
                lines.extend(f"  {p}" for p in self.problems)
            else:
                lines.append("validation: ok (names, roots, datasets, metrics and pretrained files)")
        else:
            lines.append(f"{counts['done']} done, {counts['skipped']} skipped (already complete in the store), "
                         f"{counts['failed']} failed, in {self.seconds:.1f} s; store: {self.store}")
            for r in self.failed:
                lines.append(f"  failed cell {r.cell.index} ({r.cell.key}): {r.error}")
        for kind, path in self.report.items():
            lines.append(f"report {kind}: {path}")
        if self.report_error:
            lines.append(f"report: FAILED: {self.report_error}")
        return "\n".join(lines)


class _CountingExecutor:
    """The cell's executor, with every written batch also counted on the study's progress bar."""

    def __init__(self, inner: Any, bar: Any) -> None:
        self._inner, self._bar = inner, bar

    def execute(self, runner: Any, todo: Sequence[Any], write) -> None:
        def counted(result: Any) -> None:
            write(result)
            self._bar.update(len(result.records))

        self._inner.execute(runner, todo, counted)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def dry_run_summary(prepared: PreparedStudy, store: str) -> StudySummary:
    """The cells of a study and its validation result, nothing run."""
    study = prepared.study
    if study is None:
        raise StudyError("?", prepared.problems)
    results = [CellResult(cell, "planned", n_planned=prepared.planned.get(cell.index)) for cell in study.cells()]
    return StudySummary(study.name, study.source, str(store), results, problems=list(prepared.problems),
                        dry_run=True)


def _start_ray(overrides: Mapping[str, Any]) -> Any:
    """With ``executor="ray"``: one Ray connection for every cell (each cell's executor uses it and leaves it
    open), instead of a Ray started and stopped per cell; the ``ray`` module when this call started it."""
    if overrides.get("executor") != "ray":
        return None
    from bench.harness.executors import RayExecutor, require_ray

    ray = require_ray()
    executor = RayExecutor(overrides.get("ray_address"), overrides.get("ray_workers"),
                           device=overrides.get("device") or DEFAULTS["device"])
    return ray if executor._connect(ray, overrides.get("ray_workers") or 1) else None


def run_study(prepared: PreparedStudy, *, progress: bool = True, **overrides: Any) -> StudySummary:
    """Run every cell of a validated study (see the module documentation).

    ``overrides``: run options given to every cell's :class:`~bench.harness.runner.Runner` (``store``, ``out``,
    ``executor``, ``ray_address``, ``ray_workers``, ``shard_size``, ``device``, ``workers``); raises
    :class:`StudyError` when the study has problems (nothing is run then)."""
    from tqdm import tqdm

    from bench.harness.runner import Runner
    from bench.harness.store import run_id_for

    prepared.raise_problems()
    study = prepared.study
    assert study is not None
    store = overrides.get("store") or DEFAULTS["store"]
    cells = study.cells()
    started = time.perf_counter()
    total = sum(prepared.planned.get(c.index) or 0 for c in cells)
    bar = tqdm(total=total, unit="img", disable=not progress, desc=f"study {study.name}", dynamic_ncols=True)
    results: list[CellResult] = []
    target = 0
    ray = _start_ray(overrides)
    try:
        for cell in cells:
            bar.set_postfix_str(f"cell {cell.index + 1}/{len(cells)}: {cell.key}", refresh=True)
            target += prepared.planned.get(cell.index) or 0
            result = CellResult(cell, "failed", n_planned=prepared.planned.get(cell.index))
            t0 = time.perf_counter()
            runner = None
            try:
                runner = Runner(**study.run_options(cell, progress=False, **overrides))
                runner.executor = _CountingExecutor(runner.executor, bar)
                summary = runner.run()
                result.status = "done" if summary.n_processed else "skipped"
                result.run_id, result.n_planned = summary.run_id, summary.n_planned
                result.n_processed, result.n_image_errors = summary.n_processed, summary.n_failed
            except Exception as exc:  # the cell failed: say why, go on with the next one
                result.error = describe_error(exc)
                if runner is not None:
                    try:
                        result.run_id = run_id_for(runner.plan.identity())
                    except Exception:  # the identity itself failed: no run id to show
                        pass
            result.seconds = time.perf_counter() - t0
            results.append(result)
            bar.update(max(0, target - bar.n))
    finally:
        bar.close()
        if ray is not None:
            ray.shutdown()
    return StudySummary(study.name, study.source, str(store), results, seconds=time.perf_counter() - started)
