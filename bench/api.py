"""The Python API: the same operations and the same defaults as the ``bench`` command line.

>>> from bench import api
>>> summary = api.run(method="bicubic", dataset="synthetic", limit=8, store="/tmp/r.sqlite")  # doctest: +SKIP
>>> api.leaderboard(store="/tmp/r.sqlite")  # doctest: +SKIP

Every default is read from :data:`bench.core.defaults.DEFAULTS`, which the CLI reads too.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from bench.core.defaults import DEFAULTS
from bench.harness.runner import Runner, RunSummary


def run(method: Any = DEFAULTS["method"], dataset: Any = DEFAULTS["dataset"], **options: Any) -> RunSummary:
    """Run a method over a dataset, score it and write per-image rows to the store (resumable).

    ``options`` are those of :class:`~bench.harness.runner.Runner` (the same as ``bench run``'s flags, every
    default from :data:`bench.core.defaults.DEFAULTS`): ``root``, ``metrics``, ``degradation``, ``align``
    (``auto``/``ffhq``/``none``: the FFHQ alignment protocol step, :mod:`bench.data.framing`), ``limit``,
    ``seed``, ``subset`` (``"random"``: the first ``limit`` of a seeded permutation, ``"first"``: name
    order), ``subset_seed``, ``store``, ``out``, ``batch_size``, ``save_images``, ``device``, ``workers``,
    ``dataset_options``, ``method_options``, ``metric_options``, ``progress``, ``executor``,
    ``ray_address``, ``ray_workers``, ``shard_size``, ``max_pixels`` (images above it are refused from their
    header, before decoding, as per-image errors).  Every option is checked before anything is written.

    ``metrics=None`` means the default metrics (``DEFAULTS["metrics"]``) for datasets with HQ images; a
    captured-LQ dataset needs no-reference metrics.  ``metric_options`` maps a metric name to its
    constructor options (``{"ifqa": {"weights": "ifqa.pth"}}``); each metric's full configuration is
    recorded with the run and checked at every resume.  Returns a :class:`~bench.harness.runner.RunSummary`.
    """
    return Runner(method, dataset, **options).run()


def study(path_or_name: str | Path, *, store: str | Path = DEFAULTS["store"], out: str | Path = DEFAULTS["out"],
          limit: int | None = None, roots: dict[str, str] | None = None, executor: str = DEFAULTS["executor"],
          ray_address: str | None = DEFAULTS["ray_address"], ray_workers: int | None = DEFAULTS["ray_workers"],
          shard_size: int | None = DEFAULTS["shard_size"], device: str = DEFAULTS["device"],
          workers: int = DEFAULTS["workers"], progress: bool = True, dry_run: bool = False, report: bool = True):
    """Run a study file (a grid of runs, ``bench study run``; ``docs/studies.md``) and return its
    :class:`~bench.harness.study.StudySummary`.

    ``path_or_name``: a YAML file, or the name of a shipped study (``bench study list``).  The whole file is
    validated first (every problem in one :class:`~bench.harness.study_spec.StudyError`, nothing run); each
    cell is then an ordinary resumable run into ``store``.  ``limit`` overrides the file's limit, ``roots``
    (``{dataset: path}``) its roots; ``executor`` ... ``workers`` go to every cell's runner.  ``dry_run``:
    validate and list the cells only.  ``report``: last, write the report of the study's runs with
    ``leaderboards.report.write_report`` to ``OUT/studies/NAME/`` (checked before any cell runs).
    """
    from bench.harness.study import dry_run_summary, prepare_study, run_study

    prepared = prepare_study(path_or_name, roots=roots, limit=limit, device=device)
    if dry_run:
        return dry_run_summary(prepared, str(store))
    prepared.raise_problems()
    write_report = None
    if report:
        try:
            from leaderboards.report import write_report
        except ImportError as exc:
            from bench.core.errors import ConfigurationError

            raise ConfigurationError(f"the study's last step, its report, needs leaderboards.report.write_report, "
                                     f"which cannot be imported ({exc}); run with --no-report (report=False)") from None
    summary = run_study(prepared, progress=progress, store=str(store), out=str(out), executor=executor,
                        ray_address=ray_address, ray_workers=ray_workers, shard_size=shard_size, device=device,
                        workers=workers)
    if write_report is not None and summary.run_ids:
        try:
            summary.report = dict(write_report(store, Path(out) / "studies" / summary.name, run_ids=summary.run_ids,
                                               title=f"study {summary.name}"))
        except Exception as exc:  # the runs are stored: say what failed, keep the summary
            from bench.harness.study_spec import describe_error

            summary.report_error = describe_error(exc)
    return summary


def leaderboard(store: str | Path = DEFAULTS["store"], out: str | Path = DEFAULTS["leaderboard_dir"], *,
                datasets: Sequence[str] = (), protocols: Sequence[str] = (), methods: Sequence[str] = (),
                metrics: Sequence[str] = (), common_ids: bool = DEFAULTS["common_ids"]) -> dict[str, Path]:
    """Write the leaderboard (CSV + Markdown) of the runs in ``store`` to ``out``; return the paths.

    ``datasets`` / ``protocols`` / ``methods`` / ``metrics``: keep only these (shell patterns allowed,
    e.g. ``fid*``).  ``common_ids`` (default): every table compares its runs on the sample ids they all
    have, set-level metrics recomputed on them; ``False``: each run on its own ids, marked as such.
    """
    from leaderboards.tables import TableFilter, write_leaderboard

    if not Path(store).exists():
        raise FileNotFoundError(f"no results store at {store}: run `bench run` first (or pass --store)")
    return write_leaderboard(store, out, TableFilter(datasets, protocols, methods, metrics), common_ids=common_ids)


def runs(store: str | Path = DEFAULTS["store"]) -> list[dict[str, Any]]:
    """Every run of ``store``: id, method, dataset, protocol, seed, status (complete / running /
    interrupted), counts, frbench version (``bench runs list``)."""
    from bench.harness.store import ResultStore

    with ResultStore(store, readonly=True) as db:
        return db.runs()


def run_ids(run_id: str, store: str | Path = DEFAULTS["store"], status: str | None = None) -> list[str]:
    """The sample ids of a run in its seeded order (``bench runs ids``); ``status``: ``ok`` or ``error``."""
    from bench.harness.store import ResultStore

    with ResultStore(store, readonly=True) as db:
        return db.sample_ids(resolve_run(db, run_id), status)


def remove_run(run_id: str, store: str | Path = DEFAULTS["store"], metric: str | None = None) -> dict[str, int]:
    """Delete a run (or one metric's values of it) from ``store`` (``bench runs remove``); rows deleted per table."""
    from bench.harness.store import ResultStore

    with ResultStore(store) as db:
        full = resolve_run(db, run_id)
        return db.remove_metric(full, metric) if metric else db.remove_run(full)


def check_store(store: str | Path = DEFAULTS["store"]) -> list[str]:
    """Problems found in ``store`` (``bench store check``; empty list = sound): SQLite's integrity check, the
    schema, and the frbench invariants (every row belongs to a sample of an existing run)."""
    from bench.harness.store_files import check_store as check

    return check(Path(store))


def copy_store(store: str | Path, destination: str | Path, overwrite: bool = False) -> dict[str, int]:
    """A consistent copy of ``store`` with the rows still in its ``-wal`` file (``bench store copy``); rows per
    table of the copy.  Copying only the ``.sqlite`` file of a store in use (or after a kill) can lose rows."""
    from bench.harness.store_files import copy_store as copy

    return copy(Path(store), Path(destination), overwrite=overwrite)


def migrate_store(store: str | Path = DEFAULTS["store"]) -> Path | None:
    """Bring ``store`` to the current schema (``bench store migrate``); the path of the backup of the old
    file, or ``None`` when it was current already."""
    from bench.harness.store import ResultStore

    with ResultStore(store) as db:
        return db.migrated_from


def compare(run_a: str, run_b: str, store: str | Path = DEFAULTS["store"], *, metrics: Sequence[str] | None = None,
            replicates: int | None = None, csv: str | Path | None = None):
    """Paired significance of run A against run B on the faces both restored (``bench compare``).

    ``run_a`` / ``run_b``: run ids or unambiguous prefixes.  Per-image metrics: Wilcoxon signed-rank;
    attribute error rates: exact McNemar; other set-level values (FID, KID...): paired bootstrap with
    ``replicates`` (default :data:`leaderboards.compare.REPLICATES`); Holm over the rows
    (:mod:`leaderboards.compare`).  Returns the DataFrame (``metric, direction, a, b, difference, lo, hi, test,
    p, p_holm, n``), also written to ``csv`` when given.  Refuses runs of different settings.
    """
    from bench.harness.store import ResultStore
    from leaderboards.compare import REPLICATES, compare_runs

    if not Path(store).exists():
        raise FileNotFoundError(f"no results store at {store}: run `bench run` first (or pass --store)")
    with ResultStore(store, readonly=True) as db:
        frame = compare_runs(db, resolve_run(db, run_a), resolve_run(db, run_b), metrics=metrics,
                             replicates=REPLICATES if replicates is None else int(replicates))
    if csv is not None:
        Path(csv).parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(csv, index=False)
    return frame


def group_scores(run_id: str, by: str, store: str | Path = DEFAULTS["store"], *, metrics: Sequence[str] | None = None,
                 min_group: int = 30, csv: str | Path | None = None):
    """A run's per-image quality results per group of a labelled attribute (``bench groups``): per metric and
    group ``n``, mean, 95 % t-interval; gap of the means and Kruskal-Wallis p across the groups with at least
    ``min_group`` faces (:mod:`leaderboards.groups`).  Returns the DataFrame, also written to ``csv``."""
    from bench.harness.store import ResultStore
    from leaderboards.groups import group_scores as grouped

    if not Path(store).exists():
        raise FileNotFoundError(f"no results store at {store}: run `bench run` first (or pass --store)")
    with ResultStore(store, readonly=True) as db:
        frame = grouped(db, resolve_run(db, run_id), by, metrics=metrics, min_group=min_group)
    if csv is not None:
        Path(csv).parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(csv, index=False)
    return frame


def report(store: str | Path = DEFAULTS["store"], out: str | Path = DEFAULTS["report_dir"], *,
           run_ids: Sequence[str] | None = None, datasets: Sequence[str] = (), title: str | None = None,
           intervals: bool = False, gallery: int = DEFAULTS["report_gallery"], seed: int = DEFAULTS["report_seed"],
           progress=None) -> dict[str, Path]:
    """Paper table (Markdown, CSV, LaTeX), figures (PNG, SVG, CSV) and ``report.html`` (self-contained) of the
    runs of ``store`` (``bench report``; :mod:`leaderboards.report`).  Returns the written paths by name."""
    from leaderboards.report import write_report

    return write_report(store, out, run_ids=run_ids, title=title, intervals=intervals, gallery=gallery, seed=seed,
                        datasets=datasets, progress=progress)


def per_image(store: str | Path = DEFAULTS["store"], run_ids: Sequence[str] | None = None, wide: bool = False):
    """Per-image results of the runs (all when ``run_ids`` is None; ids or prefixes) as a pandas DataFrame
    (``bench export``): long form, one row per sample and stored output (scores, stored attribute predictions)
    with the labels; ``wide``: one row per run and sample (:mod:`leaderboards.export`)."""
    from bench.harness.store import ResultStore
    from leaderboards.export import per_image as frame

    if not Path(store).exists():
        raise FileNotFoundError(f"no results store at {store}: run `bench run` first (or pass --store)")
    with ResultStore(store, readonly=True) as db:
        return frame(db, run_ids, wide=wide)


def resolve_run(db, prefix: str) -> str:
    """The full id of the one run whose id starts with ``prefix`` (clear errors for none or several)."""
    matches = [r["run_id"] for r in db.runs() if r["run_id"].startswith(prefix)]
    if len(matches) != 1:
        known = ", ".join(r["run_id"] for r in db.runs()) or "(none)"
        raise KeyError(f"{'no' if not matches else 'several'} run(s) with id {prefix!r} in {db.path}; runs: {known}")
    return matches[0]


def list_components(kind: str) -> list[tuple[str, str]]:
    """(name, one-line description) of the registered methods, metrics, datasets or degradations."""
    from bench.core.registry import REGISTRIES

    if kind not in REGISTRIES:
        from bench.core.registry import UnknownNameError

        raise UnknownNameError("component kind", kind, list(REGISTRIES))
    registry = REGISTRIES[kind]
    return [(name, registry.describe(name)) for name in registry.names()]


def correlate(judgements: str | Path, *, scores: str | Path | None = None, store: str | Path = DEFAULTS["store"],
              metrics: Sequence[str] | None = None, methods: Sequence[str] | None = None, dataset: str | None = None,
              protocol: str | None = None, seed: int | None = None, runs: Sequence[str] | None = None,
              judgement_format: str = "auto", mos_higher_is_better: bool = True,
              higher_is_better: Sequence[str] = (), lower_is_better: Sequence[str] = (),
              replicates: int = DEFAULTS["correlation_replicates"], bootstrap_seed: int = DEFAULTS["correlation_seed"],
              level: float = DEFAULTS["correlation_level"], allow_missing: bool = False,
              out: str | Path | None = DEFAULTS["correlation_dir"], figure: bool = True):
    """SRCC, KRCC (tau-b) and PLCC between metric scores and human judgements (``bench correlate``).

    ``judgements``: CSV of ranked packs or MOS (``docs/human-judgements-format.md``).  Scores come from the
    runs of ``store`` selected by ``methods`` / ``dataset`` / ``protocol`` / ``seed`` / ``runs`` (joined on
    sample id and method; a judgement's method is a method name, ``METHOD@PROTOCOL`` or a run id), or from
    the ``scores`` CSV.  Lower-is-better metrics are negated (direction from the store's ``metric_info``, the
    metric registry, or ``higher_is_better`` / ``lower_is_better``).  Writes CSV + Markdown + PNG to ``out``
    (``None``: nothing written) and returns a :class:`leaderboards.correlation.CorrelationReport`.
    """
    from leaderboards import correlation as study
    from leaderboards.judgements import read_judgements
    from leaderboards.scores import parse_directions, read_scores_csv, store_scores

    human = read_judgements(judgements, judgement_format, mos_higher_is_better=mos_higher_is_better)
    if scores is not None:
        table = read_scores_csv(scores, metrics)
    else:
        table = store_scores(store, metrics=metrics, methods=methods, dataset=dataset, protocol=protocol,
                             seed=seed, runs=runs)
    return study.run_study(human, table, metrics=metrics,
                           directions=parse_directions(higher_is_better, lower_is_better),
                           replicates=replicates, seed=bootstrap_seed, level=level, allow_missing=allow_missing,
                           out=out, figure=figure)


def write_lq_inputs(dataset: str = DEFAULTS["dataset"], out: str | Path = "lq", **options: Any) -> dict[str, Any]:
    """Write the LQ inputs ``bench run`` would give a method (``<out>/<sample_id>.png`` + ``manifest.csv``), so a
    restorer outside frbench gets the same faces (``bench lq``; options as there: ``root``, ``dataset_options``,
    ``degradation``, ``seed``, ``limit``, ``subset``, ``subset_seed``, ``workers``, ``max_pixels``).  Score its
    outputs with ``run(method="external", method_options={"folder": ..., "name": ...})``."""
    from bench.harness.lq_export import write_lq_inputs as write

    return write(dataset, out, **options)
