"""Errors shared by every layer of the harness (bottom layer: imports nothing of the suite).

The command line turns each of them into one line on stderr (no traceback unless asked) and an exit
code: :class:`ConfigurationError` 2, :class:`bench.harness.leases.RunBusyError` 75 (try again later).
"""
from __future__ import annotations


class ConfigurationError(ValueError):
    """The requested run cannot be made (unknown option, wrong metric for the dataset, no metric applies...)."""
