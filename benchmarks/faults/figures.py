"""A fault scenario's result as a figure: printed, stored in LAB_FIGURES_FILE, tabled.

`record_figure` prints `FIGURE name: summary` and, if LAB_FIGURES_FILE is set, stores the figure
in that JSON file (an object keyed by figure name); `figures_table` renders such a file as the
Markdown table of the README's Reliability section.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass
class Figure:
    """One measured result of a fault scenario."""

    name: str
    summary: str
    values: dict
    target: str
    met: bool

    def line(self) -> str:
        return f"FIGURE {self.name}: {self.summary}"


def record_figure(figure: Figure) -> Figure:
    """Print the figure and, if LAB_FIGURES_FILE is set, store it there (keyed by name)."""
    print(figure.line(), flush=True)
    path = os.environ.get("LAB_FIGURES_FILE")
    if path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "a+", encoding="utf-8") as f:
            fcntl.flock(f, fcntl.LOCK_EX)  # several pytest processes may write at once
            f.seek(0)
            try:
                data = json.loads(f.read() or "{}")
            except ValueError:
                data = {}
            data[figure.name] = {
                "summary": figure.summary,
                "values": figure.values,
                "target": figure.target,
                "met": figure.met,
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            f.seek(0)
            f.truncate()
            f.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return figure


def figures_table(path: str | Path) -> str:
    """Render a LAB_FIGURES_FILE as the Markdown table of the README's Reliability section."""
    data = json.loads(Path(path).read_text())
    lines = ["| figure | measured | target | met |", "|---|---|---|---|"]
    for name in sorted(data):
        f = data[name]
        lines.append(
            f"| `{name}` | {f['summary']} | {f['target']} | {'yes' if f['met'] else '**no**'} |"
        )
    return "\n".join(lines)
