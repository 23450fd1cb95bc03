"""What a run did, as the command line prints it: :class:`RunSummary`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.harness.dataset_counts import format_counts


@dataclass
class RunSummary:
    """What a run did: identity, counts and the per-metric means (printed by the CLI)."""

    run_id: str
    store: str
    method: str
    dataset: str
    protocol: str
    n_planned: int
    n_skipped: int
    n_processed: int
    n_ok: int
    n_failed: int
    seconds: float
    metric_means: dict[str, dict[str, float]] = field(default_factory=dict)
    set_results: dict[str, dict[str, float | None]] = field(default_factory=dict)
    errors: list[tuple[str, str, str]] = field(default_factory=list)
    synthetic: bool = False
    #: problems found while indexing the dataset (malformed names, bad label rows): (path, reason)
    dataset_issues: list[tuple[str, str]] = field(default_factory=list)
    #: leaderboard layout of each metric (which set-level keys are headline values)
    layouts: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: where the images were processed ("local", or e.g. "ray: 2 workers, 6 shards of 16")
    executor: str = "local"
    #: how the samples were chosen (e.g. "first 100 of 8,778 in seeded random order (seed 0)")
    selection: str = ""
    #: what the user should know (an ignored --degradation, a recovered lease...)
    notes: list[str] = field(default_factory=list)
    #: dataset entries not used (or kept coarse), by reason (:mod:`bench.harness.dataset_counts`)
    dataset_counts: list[dict[str, Any]] = field(default_factory=list)

    def format(self, max_errors: int = 10) -> str:
        label = f"{self.dataset} (SYNTHETIC faces)" if self.synthetic else self.dataset
        lines = [f"run {self.run_id}: method={self.method} dataset={label} protocol={self.protocol}",
                 f"  images: {self.n_planned} planned, {self.n_skipped} already done, {self.n_processed} processed now "
                 f"in {self.seconds:.1f} s; in store: {self.n_ok} ok, {self.n_failed} failed"]
        if self.selection:
            lines.append(f"  samples: {self.selection}")
        if self.executor != "local":
            lines.append(f"  executor: {self.executor}")
        for note in self.notes:
            lines.append(f"  note: {note}")
        for metric, stats in sorted(self.metric_means.items()):
            inf = f" (+{stats['n_infinite']} infinite)" if stats.get("n_infinite") else ""
            lines.append(f"  {metric:>12}: mean {stats['mean']:.4f} over {stats['n']} images{inf}")
        for metric, values in sorted(self.set_results.items()):
            headline = self.layouts.get(metric, {}).get("headline")
            if headline:  # many keys: show the headline values with their intervals, the rest is in the CSV
                parts = []
                for key in headline:
                    if key in values:
                        lo, hi = values.get(f"{key}_lo"), values.get(f"{key}_hi")
                        interval = f" [{lo:.4g}, {hi:.4g}]" if isinstance(lo, float) and isinstance(hi, float) else ""
                        parts.append(f"{key}={values[key]:.4g}{interval}")
                shown = ", ".join(parts) + f" (+{len(values) - len(parts)} more values in the store)"
            else:
                shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())
            lines.append(f"  {metric:>12}: {shown}")
        lines.extend(format_counts(self.dataset_counts, hint=" (`bench errors --examples` shows examples)"))
        if self.dataset_issues:
            lines.append(f"  dataset indexing reported {len(self.dataset_issues)} issue(s) (files skipped or unlabelled; "
                         f"stored with the run, `bench errors` lists them all):")
            for path, reason in self.dataset_issues[:max_errors]:
                lines.append(f"    {path}: {reason}")
            if len(self.dataset_issues) > max_errors:
                lines.append(f"    ... {len(self.dataset_issues) - max_errors} more")
        if self.errors:
            lines.append(f"  {len(self.errors)} error(s):")
            for sample_id, stage, cause in self.errors[:max_errors]:
                lines.append(f"    {sample_id} [{stage}] {cause}")
            if len(self.errors) > max_errors:
                lines.append(f"    ... {len(self.errors) - max_errors} more (bench errors --store {self.store})")
        lines.append(f"  store: {self.store}")
        return "\n".join(lines)
