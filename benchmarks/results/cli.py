"""How the results' command lines (report, check) find the run they were given."""

from __future__ import annotations

import sys
from pathlib import Path

from benchmarks.results.analysis import Run, load_run, newest_run


def load_cli_run(run_dir: str | None) -> Run:
    """Load the run a CLI was given (the newest if none), or exit with a clear message."""
    try:
        return load_run(Path(run_dir) if run_dir else newest_run())
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None  # 2, not 1: check exits 1 when an effect does not hold
