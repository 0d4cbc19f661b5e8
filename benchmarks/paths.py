"""Where the lab keeps things on disk: the checkout, its state folder, the runs' results."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAB_DIR = ROOT / ".lab"  # seeds, run state; git-ignored
RESULTS_DIR = ROOT / "results"  # one folder per bench run; git-ignored
REPORTS_DIR = ROOT / "reports"
