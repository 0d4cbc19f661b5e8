"""Build the charts and report page of a stored run: `python -m benchmarks.results.report [RUN]`."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks.paths import REPORTS_DIR
from benchmarks.results import analysis as an
from benchmarks.results.charts import build_charts
from benchmarks.results.page import page
from benchmarks.results.summary import summary_markdown


def build(run: an.Run, out: Path | None = None) -> Path:
    """Build the charts, index.html and summary.md of a run; return the page's path."""
    out = out or REPORTS_DIR / run.run_id
    out.mkdir(parents=True, exist_ok=True)
    charts = build_charts(run, out)
    (out / "summary.md").write_text(summary_markdown(run), encoding="utf-8")
    index = out / "index.html"
    index.write_text(page(run, charts), encoding="utf-8")
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run_dir", nargs="?", help="a results/<run_id> folder (default: newest)")
    parser.add_argument("--out", type=Path, help="output folder (default: reports/<run_id>/)")
    args = parser.parse_args(argv)
    index = build(an.load_cli_run(args.run_dir), args.out)
    print(index)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
