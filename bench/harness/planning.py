"""Planning a run: components built from a :class:`~bench.harness.config.RunConfig`, protocol, identity.

:class:`RunPlan` turns a configuration into what a run needs before it touches the store:

* the dataset, the method and the metrics, built through the registries, each inside a file recorder
  (:mod:`bench.core.provenance`), so the sha256 of every weights or parameter file they load is known;
  metrics load their networks now (``prepare``): a missing asset is reported before any image;
* the protocol: ``captured`` when the dataset provides the LQ images (whatever ``degradation`` says:
  the summary notes it), else the degradation protocol;
* the run identity (:meth:`RunPlan.identity`): the frbench version, the method's description and the
  sha256 of its files, the dataset, the protocol with its parameters, the seed and the sample selection;
  each metric's full configuration is recorded per run (:meth:`RunPlan.metric_entries`);
* the samples in the run's seeded order (:mod:`bench.harness.selection`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from bench import __version__
from bench.core.defaults import DEFAULTS
from bench.core.errors import ConfigurationError
from bench.core.provenance import record_files
from bench.core.registry import DATASETS, DEGRADATIONS, METHODS, METRICS
from bench.core.types import Dataset, Sample, SetMetric, output_direction
from bench.data.alignment import make_aligner
from bench.data.framing import dataset_framing, resolve_alignment, scored_framing
from bench.harness import selection
from bench.harness.config import RunConfig
from bench.harness.processing import MetricGroups, metric_extra_outputs


def parse_metric_names(metrics: str | Sequence[str] | None, has_hq: bool) -> list[str]:
    """Metric names of a run: the given ones, or the default (full-reference) metrics when there is HQ."""
    if metrics is None:
        return list(DEFAULTS["metrics"]) if has_hq else []
    if isinstance(metrics, str):
        metrics = metrics.split(",")
    return [m.strip().lower() for m in metrics if m and m.strip()]


def leaderboard_layout(metric: Any) -> dict[str, Any]:
    """How the leaderboard shows a metric (stored in ``metric_info.layout``; the CSV keeps everything).

    ``headline``: result keys shown in the Markdown table (set-level metrics; default ``["value"]``);
    ``counts``: keys shown as plain counts (no arrow, never bold); ``hidden``: not in the Markdown table.
    All three are declared on the metric class (:class:`bench.core.types.PerImageMetric`, ``SetMetric``).
    """
    layout: dict[str, Any] = {}
    if metric.leaderboard_headline:
        layout["headline"] = list(metric.leaderboard_headline)
    if metric.leaderboard_counts:
        layout["counts"] = list(metric.leaderboard_counts)
    if metric.leaderboard_hidden:
        layout["hidden"] = True
    return layout


def declared_directions(metric: Any) -> dict[str, str]:
    """The metric's declared output directions (patterns, in order) with ``value`` resolved."""
    declared = dict(metric.outputs or {})
    return {"value": output_direction(metric, "value"), **{k: v for k, v in declared.items() if k != "value"}}


def _sha_list(files: Mapping[str, str]) -> list[str]:
    return sorted(set(files.values()))


class RunPlan(MetricGroups):
    """The components and identity of one run (see the module documentation)."""

    def __init__(self, config: RunConfig) -> None:
        c = self.config = config
        if c.batch_size < 1:
            raise ConfigurationError(f"batch size must be >= 1, got {c.batch_size}")
        if c.limit is not None and c.limit < 0:
            raise ConfigurationError(f"limit must be >= 0, got {c.limit}")
        if c.subset not in selection.SUBSET_ORDERS:
            raise ConfigurationError(f"--subset must be one of {', '.join(selection.SUBSET_ORDERS)}, got {c.subset!r}")
        self.notes: list[str] = []
        self.dataset: Dataset = (DATASETS.build(c.dataset, root=c.root, **dict(c.dataset_options or {}))
                                 if isinstance(c.dataset, str) else c.dataset)
        self.captured = self._captured()
        with record_files() as files:
            self.method = (METHODS.build(c.method, device=c.device, **dict(c.method_options or {}))
                           if isinstance(c.method, str) else c.method)
        self.method_files = files.digests()
        # a method whose outputs are files named by sample id (baselines.external) indexes them against the
        # dataset before the identity is taken; what it reports (unmatched files...) goes to the run's notes
        bind = getattr(self.method, "bind_dataset", None)
        if callable(bind):
            self.notes.extend(bind(self.dataset) or [])
        # the method's own name tells its options apart (codeformer-w0.7, debiasfr[labels]); else the registered one
        self.method_name = getattr(self.method, "name", None) or (c.method if isinstance(c.method, str)
                                                                  else type(self.method).__name__)
        self.degradation = self._degradation(c.degradation)
        # the alignment protocol step (bench.data.framing), before the metrics: their chips follow the frame
        self.align, self.aligner, self.alignment_files = self._alignment(c.align)
        self.framing = scored_framing(self.align, self.dataset)
        self.metric_options = {k: dict(v) for k, v in (c.metric_options or {}).items() if v}
        self.metrics, self.metric_files = self._metrics(parse_metric_names(c.metrics, self.dataset.has_hq))
        self.channels = {name: self._channels(metric) for name, metric in self.set_metrics.items()}
        self.seed = int(c.seed)
        self.subset_seed = self.seed if c.subset_seed is None else int(c.subset_seed)
        # input images above it are refused from their header (bench.core.imageio); not part of the identity:
        # it decides which files are refused, never the result of an accepted one
        self.max_pixels = int(c.max_pixels)

    # -- components -----------------------------------------------------------------------------
    def _captured(self) -> bool:
        """True when the dataset provides the LQ images (every sample has one); mixed sets are refused."""
        kinds = {sample.lq is not None for sample in self.dataset.samples}
        if kinds == {True, False}:
            n = sum(1 for s in self.dataset.samples if s.lq is not None)
            raise ConfigurationError(f"dataset '{self.dataset.name}' mixes {n} samples with a captured LQ and "
                                     f"{len(self.dataset.samples) - n} without: one run has one protocol")
        return kinds == {True}

    def _degradation(self, degradation: Any) -> Any:
        if self.captured:
            if degradation is not None and getattr(degradation, "name", degradation) != "none":
                self.notes.append(f"dataset '{self.dataset.name}' provides captured LQ images: --degradation "
                                  f"{getattr(degradation, 'name', degradation)} is not used (protocol 'captured')")
            return None
        degradation = DEFAULTS["degradation"] if degradation is None else degradation
        return DEGRADATIONS.create(degradation) if isinstance(degradation, str) else degradation

    def _alignment(self, align: str | None) -> tuple[str, Any, dict[str, str]]:
        """``(mode, aligner or None, files it loaded)`` of the alignment step; its reason goes to the notes."""
        try:
            mode, note = resolve_alignment(align, self.method, self.dataset, self.captured)
            with record_files() as files:
                aligner = make_aligner(mode)
        except (ValueError, ImportError) as exc:
            raise ConfigurationError(str(exc)) from None
        self.notes.extend([note] if note else [])
        return mode, aligner, files.digests()

    def _metrics(self, names: list[str]) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
        if not names:
            raise ConfigurationError(
                f"no metric to compute: the default metrics ({', '.join(DEFAULTS['metrics'])}) compare with HQ "
                f"images and dataset '{self.dataset.name}' has none (captured LQ); choose no-reference metrics, "
                f"e.g. --metrics niqe,brisque,attr")
        unused = sorted(set(self.metric_options) - set(names))
        if unused:
            raise ConfigurationError(f"options given for metric(s) {', '.join(unused)} that the run does not compute "
                                     f"(metrics: {', '.join(names)})")
        metrics, files_of = {}, {}
        for name in names:
            with record_files() as files:
                metric = METRICS.build(name, **self.metric_options.get(name, {}))
                if getattr(metric, "follows_framing", False) and "framing" not in self.metric_options.get(name, {}):
                    # the frame of the scored images (bench.data.framing), kept with the options (workers, record)
                    self.metric_options[name] = {**self.metric_options.get(name, {}), "framing": self.framing}
                    metric = METRICS.build(name, **self.metric_options[name])
                if metric.needs_reference and not self.dataset.has_hq:
                    raise ConfigurationError(
                        f"metric '{name}' needs an HQ reference image, but dataset '{self.dataset.name}' has none "
                        f"(captured LQ); use no-reference metrics for it")
                metric.prepare()  # networks and parameter files load now
            metrics[name], files_of[name] = metric, files.digests()
        return metrics, files_of

    def _channels(self, metric: SetMetric) -> dict[str, tuple[str, str]]:
        channels = dict(metric.channels())
        if not self.dataset.has_hq:  # no HQ side (label protocol, no-reference set metrics)
            channels = {v: c for v, c in channels.items() if c[0] != "reference"}
        return channels

    # -- samples --------------------------------------------------------------------------------
    def ordered_samples(self) -> list[Sample]:
        """Every sample of the dataset in the run's seeded order (the first ``limit`` are the run's)."""
        return selection.ordered(self.dataset.samples, self.config.subset, self.subset_seed)

    def selection_note(self, planned: int) -> str:
        total = len(self.dataset.samples)
        how = ("in name order (--subset first: NOT a random sample)" if self.config.subset == "first"
               else f"in seeded random order (seed {self.subset_seed})")
        return f"{'all' if planned == total else f'first {planned} of'} {total:,} {how}"

    # -- identity -------------------------------------------------------------------------------
    def protocol_name(self) -> str:
        return "captured" if self.captured else getattr(self.degradation, "name", type(self.degradation).__name__)

    def identity(self) -> dict[str, Any]:
        """What the run id is a hash of: everything that determines the restored images."""
        dataset = self.dataset.describe()
        if dataset.get("root"):
            dataset["root"] = str(Path(dataset["root"]).resolve())
        describe = getattr(self.method, "describe", None)
        degradation = getattr(self.degradation, "describe", None)
        return {
            "frbench": __version__,
            "method": describe() if callable(describe) else {"name": self.method_name},
            "method_files_sha256": _sha_list(self.method_files),
            "dataset": dataset,
            "protocol": self.protocol_name(),
            "degradation": degradation() if callable(degradation) and not self.captured else None,
            "seed": self.seed,
            "selection": selection.describe(self.config.subset, self.subset_seed),
            # only when applied, so that the ids of unaligned runs stay as they were (bench.harness.identity)
            **({"alignment": {**self.aligner.describe(), "dataset_framing": dataset_framing(self.dataset),
                               "files_sha256": _sha_list(self.alignment_files)}} if self.aligner is not None else {}),
        }

    def metric_entries(self) -> dict[str, dict[str, Any]]:
        """Per metric: options, full configuration (with defaults and parameter-file sha256), channels."""
        entries = {}
        for name, metric in self.metrics.items():
            config = {"describe": metric.describe(), "files_sha256": _sha_list(self.metric_files.get(name, {}))}
            entries[name] = {"options": self.metric_options.get(name, {}), "config": config,
                             "channels": self.channels.get(name, {}), "frbench_version": __version__}
        return entries

    def metric_infos(self) -> list[dict[str, Any]]:
        """``metric_info`` rows: direction, unit, layout and output directions of every metric and extra."""
        infos = []
        for name, metric in self.metrics.items():
            infos.append({"name": name, "higher_is_better": metric.higher_is_better, "unit": metric.unit,
                          "set_level": isinstance(metric, SetMetric),
                          "description": METRICS.describe(name) if name in METRICS else "",
                          "layout": leaderboard_layout(metric), "directions": declared_directions(metric)})
            for extra in metric_extra_outputs(metric):
                direction = output_direction(metric, extra)
                infos.append({"name": f"{name}.{extra}", "higher_is_better": direction == "higher", "unit": "",
                              "set_level": False, "directions": {"value": direction},
                              "description": f"per-image extra output '{extra}' of {name} (see its documentation)"})
        return infos
