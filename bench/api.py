"""The Python API: the same operations and the same defaults as the ``bench`` command line.

>>> from bench import api
>>> summary = api.run(method="bicubic", dataset="synthetic", limit=8, store="/tmp/r.sqlite")  # doctest: +SKIP
>>> api.leaderboard(store="/tmp/r.sqlite")  # doctest: +SKIP

Every default is read from :data:`bench.defaults.DEFAULTS`, which the CLI reads too.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from .defaults import DEFAULTS
from .runner import Runner, RunSummary


def run(method: Any = DEFAULTS["method"], dataset: Any = DEFAULTS["dataset"], *,
        root: str | Path | None = DEFAULTS["root"], metrics: str | Sequence[str] | None = None,
        degradation: str | Any = DEFAULTS["degradation"], limit: int | None = DEFAULTS["limit"],
        seed: int = DEFAULTS["seed"], store: str | Path = DEFAULTS["store"], out: str | Path = DEFAULTS["out"],
        batch_size: int = DEFAULTS["batch_size"], save_images: bool = DEFAULTS["save_images"],
        device: str = DEFAULTS["device"], workers: int = DEFAULTS["workers"],
        dataset_options: Mapping[str, Any] | None = None, method_options: Mapping[str, Any] | None = None,
        metric_options: Mapping[str, Mapping[str, Any]] | None = None, progress: bool = True,
        executor: Any = DEFAULTS["executor"], ray_address: str | None = DEFAULTS["ray_address"],
        ray_workers: int | None = DEFAULTS["ray_workers"], shard_size: int | None = DEFAULTS["shard_size"]) -> RunSummary:
    """Run a method over a dataset, score it and write per-image rows to the store (resumable).

    ``metrics=None`` means the default metrics (``DEFAULTS["metrics"]``) for datasets with HQ images
    and none for captured-LQ datasets.  ``metric_options`` maps a metric name to its constructor options
    (``{"ifqa": {"weights": "ifqa.pth"}}``); they become part of the run identity.  ``executor="ray"``
    processes shards of ``shard_size`` samples in ``ray_workers`` Ray actors (``ray_address``: ``None`` = a
    Ray on this machine, ``"auto"`` / ``"HOST:PORT"`` = an existing cluster); the rows, the set-level
    results and the resumption are those of the default ``"local"`` executor.  Returns a
    :class:`~bench.runner.RunSummary`.
    """
    runner = Runner(method, dataset, root=root, metrics=metrics, degradation=degradation, limit=limit, seed=seed,
                    store=store, out=out, batch_size=batch_size, save_images=save_images, device=device,
                    workers=workers, dataset_options=dataset_options, method_options=method_options,
                    metric_options=metric_options, progress=progress, executor=executor, ray_address=ray_address,
                    ray_workers=ray_workers, shard_size=shard_size)
    return runner.run()


def leaderboard(store: str | Path = DEFAULTS["store"], out: str | Path = DEFAULTS["leaderboard_dir"]) -> dict[str, Path]:
    """Write the leaderboard (CSV + Markdown) of every run in ``store`` to ``out``; return the paths."""
    from leaderboards.tables import write_leaderboard

    if not Path(store).exists():
        raise FileNotFoundError(f"no results store at {store}: run `bench run` first (or pass --store)")
    return write_leaderboard(store, out)


def list_components(kind: str) -> list[tuple[str, str]]:
    """(name, one-line description) of the registered methods, metrics, datasets or degradations."""
    from .registries import REGISTRIES

    if kind not in REGISTRIES:
        from .registry import UnknownNameError

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

    human = study.read_judgements(judgements, judgement_format, mos_higher_is_better=mos_higher_is_better)
    if scores is not None:
        table = study.read_scores_csv(scores, metrics)
    else:
        table = study.store_scores(store, metrics=metrics, methods=methods, dataset=dataset, protocol=protocol,
                                   seed=seed, runs=runs)
    return study.run_study(human, table, metrics=metrics,
                           directions=study.parse_directions(higher_is_better, lower_is_better),
                           replicates=replicates, seed=bootstrap_seed, level=level, allow_missing=allow_missing,
                           out=out, figure=figure)
