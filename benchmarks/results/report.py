"""Build the charts and report page of a stored run: `python -m benchmarks.results.report [RUN]
[--lang pt-BR]`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.paths import REPORTS_DIR
from benchmarks.results import analysis as an
from benchmarks.results import i18n, usl
from benchmarks.results.charts import build_charts
from benchmarks.results.cli import load_cli_run
from benchmarks.results.page import page
from benchmarks.results.summary import summary_markdown
from benchmarks.results.where_charts import build_where_charts


def default_out(run: an.Run, lang: str = "en") -> Path:
    """Return where a run's report goes: reports/<run_id>/, another language in a subfolder
    (reports/<run_id>/pt-BR/), since its charts carry their own words."""
    out = REPORTS_DIR / run.run_id
    return out if lang == "en" else out / lang


def build(run: an.Run, out: Path | None = None, lang: str = "en") -> Path:
    """Build the charts, index.html and summary.md of a run in `lang`; return the page's path."""
    with i18n.use(lang):
        out = out or default_out(run, lang)
        out.mkdir(parents=True, exist_ok=True)
        return write_page(run, out, draw_charts(run, out))


def draw_charts(run: an.Run, out: Path) -> dict[str, str]:
    """Draw every chart of the run into `out`, in the current language; return {key: file}."""
    return build_charts(run, out) | build_where_charts(run, out)


def write_page(run: an.Run, out: Path, charts: dict[str, str]) -> Path:
    """Write summary.md and index.html (linking `charts`) in the current language."""
    (out / "summary.md").write_text(summary_markdown(run), encoding="utf-8")
    index = out / "index.html"
    index.write_text(page(run, charts), encoding="utf-8")
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run_dir", nargs="?", help="a results/<run_id> folder (default: newest)")
    parser.add_argument(
        "--out",
        type=Path,
        help="output folder (default: reports/<run_id>/, "
        "reports/<run_id>/<lang>/ for a language other than en)",
    )
    parser.add_argument(
        "--write-scaling",
        action="store_true",
        help="also write <run>/scaling.json (the bench's way: one load of the run for both)",
    )
    i18n.add_argument(parser)
    args = parser.parse_args(argv)
    run = load_cli_run(args.run_dir)
    if args.write_scaling and run.curves:
        doc = usl.of_run(run)
        (run.path / "scaling.json").write_text(json.dumps(doc, indent=2) + "\n")
        print(f"{run.path / 'scaling.json'}: {usl.said(doc['usl'])}")
    index = build(run, args.out, args.lang)
    print(index)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
