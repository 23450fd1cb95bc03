"""Tables and figures built from the results store (reads the store only: no networks, no torch)."""
from leaderboards.tables import build_tables, write_leaderboard  # noqa: F401
