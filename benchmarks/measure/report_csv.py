"""Is a downloaded report the expected CSV? One check, for the verification pass and Locust."""

from __future__ import annotations

import csv
import io


def csv_problem(text: str, rows_expected: int = 10) -> str | None:
    """Say what is wrong with a downloaded report (the locustfile checks the same)."""
    rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    if not rows or "name" not in [c.strip().lower() for c in rows[0]]:
        return f"no CSV header row with 'name': {text[:80]!r}"
    if len(rows) - 1 != rows_expected:
        return f"{len(rows) - 1} data rows, expected {rows_expected}"
    return None
