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
        progress: bool = True) -> RunSummary:
    """Run a method over a dataset, score it and write per-image rows to the store (resumable).

    ``metrics=None`` means the default metrics (``DEFAULTS["metrics"]``) for datasets with HQ images
    and none for captured-LQ datasets.  Returns a :class:`~bench.runner.RunSummary`.
    """
    runner = Runner(method, dataset, root=root, metrics=metrics, degradation=degradation, limit=limit, seed=seed,
                    store=store, out=out, batch_size=batch_size, save_images=save_images, device=device,
                    workers=workers, dataset_options=dataset_options, method_options=method_options,
                    progress=progress)
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
