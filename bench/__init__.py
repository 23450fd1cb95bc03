"""frbench: a benchmark of blind face restoration that measures attribute (age, gender) bias.

The harness: registry, datasets, degradation, runner, results store, asset manager and CLI.
Python API: :mod:`bench.api` (``bench.api.run``, ``bench.api.leaderboard``).
"""
__version__ = "0.3.0"
