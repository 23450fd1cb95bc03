"""Argument types shared by the subcommands (``KEY=VALUE`` options, counts, seeds)."""
from __future__ import annotations

import argparse
from typing import Any

import yaml


def key_value(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` with a YAML-typed value (``3``, ``0.5``, ``true``, ``[1, 2]``; ``yaml.safe_load``)."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, _, value = text.partition("=")
    try:
        parsed = yaml.safe_load(value) if value else None
    except yaml.YAMLError:
        parsed = value
    return key.strip(), parsed


def metric_key_value(text: str) -> tuple[str, tuple[str, Any]]:
    """``METRIC.KEY=VALUE`` -> ``(metric, (key, value))``."""
    key, value = key_value(text)
    metric, dot, option = key.partition(".")
    if not dot or not metric or not option:
        raise argparse.ArgumentTypeError(f"expected METRIC.KEY=VALUE, got {text!r}")
    return metric, (option, value)


def count(text: str) -> int:
    """An integer >= 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def positive(text: str) -> int:
    """An integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {text}")
    return value


def seed(text: str) -> int:
    """A seed in 0 .. 2**63-1."""
    value = int(text)
    if not 0 <= value < 2 ** 63:
        raise argparse.ArgumentTypeError(f"a seed must be in 0 .. 2**63-1, got {text}")
    return value


PARSERS = {"count": count, "positive": positive, "seed": seed}


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` with each option's default, except for on/off flags (``--no-report (default: True)`` reads
    as the opposite of what it means)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            return action.help
        return super()._get_help_string(action)
