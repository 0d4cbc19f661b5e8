"""How figures read: number formats by unit, "median [95 % interval]", the stages' colours."""

from __future__ import annotations

import math
import re

from benchmarks.results import analysis as an
from benchmarks.results.i18n import decimal

DASH = "–"

STAGE_COLOURS = dict(
    zip(an.STAGE_ORDER, ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860",
                         "#DA8BC3"), strict=True)
)  # fmt: skip
GROUP_COLOURS = {
    "app": "#4C72B0",
    "worker": "#DD8452",
    "proxy": "#55A868",
    "redis": "#C44E52",
    "mail": "#8172B3",
    "storage": "#937860",
    "locust": "#7F7F7F",
}

# Server-Timing's components: the same colour in every "Where the time goes" chart.
COMPONENT_COLOURS = {
    "db": "#4C72B0",
    "cache": "#55A868",
    "queue": "#DD8452",
    "smtp": "#C44E52",
    "hash": "#8172B3",
    "storage": "#937860",
    "app": "#B0B0B0",
}


def colour(stage: str) -> str:
    """Return a stage's colour, the same in every chart."""
    return STAGE_COLOURS.get(stage.replace("_", "-"), "#999999")


def fmt(value: float | None, unit: str = "") -> str:
    """Format a figure for a table: precision that suits its unit and size, in the report's
    language's decimal separator ("1,234.5" in English, "1.234,5" in pt-BR)."""
    return decimal(_fmt(value, unit))


def _fmt(value: float | None, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    if unit == "cores":
        return f"{value:.2f}"
    if unit == "%":
        return "0" if value == 0 else "100" if value == 100 else f"{value:.1f}"
    if abs(value) >= 100 or (unit == "ms" and abs(value) >= 10):
        return f"{value:,.0f}"
    # Locust's latencies are whole ms: "3", not "3.0".
    return f"{value:.1f}".removesuffix(".0") if abs(value) >= 1 or value == 0 else f"{value:.2g}"


def stat_parts(stat: an.Stat | None) -> tuple[str, str, bool]:
    """Return a figure's median, its "min–max" over repeats ("" if none) and its wide flag."""
    if not isinstance(stat, an.Stat):
        return DASH, "", False
    lo, hi = fmt(stat.lo, stat.unit), fmt(stat.hi, stat.unit)
    spread = f"{lo}–{hi}" if stat.n > 1 and lo != hi else ""
    return fmt(stat.median, stat.unit), spread, stat.wide


def fmt_stat(stat: an.Stat | None) -> str:
    """Format a figure as "median (min–max)", flagged when its repeats disagree too much."""
    text, spread, wide = stat_parts(stat)
    return text + (f" ({spread})" if spread else "") + (" ⚠" if wide else "")


def fmt_interval(interval, unit: str = "") -> str:
    """Format a 95 % interval as "lo–hi" ("" when there is none or it has no width)."""
    if interval is None or math.isnan(interval.lo) or math.isnan(interval.hi):
        return ""
    lo, hi = fmt(interval.lo, unit), fmt(interval.hi, unit)
    return "" if lo == hi else f"{lo}–{hi}"


def fmt_stat_ci(stat: an.Stat | None, interval) -> str:
    """Format a figure as "median [95 % interval]", flagged ⚠ when its repeats disagree."""
    text, _, wide = stat_parts(stat)
    ci = fmt_interval(interval, stat.unit) if isinstance(stat, an.Stat) else ""
    return text + (f" [{ci}]" if ci else "") + (" ⚠" if wide else "")


def slug(name: str) -> str:
    """Return a file-name-safe form of a request name."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
