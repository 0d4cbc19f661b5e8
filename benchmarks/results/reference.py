"""Make a run a committed reference: copy what the analysis reads, nothing more.

`nox -s reference` copies the newest run with `python -m benchmarks.results.reference copy`: the
logs are left out and every mails.json is trimmed. The analysis reads a mail's `X-Lab-*` headers
(which work it carries, when that work was created) and `received_at`; the bodies, the MIME
boilerplate and the copies of To/Subject/From outside the headers made the reference 24 MB. A
trimmed message keeps its id, `To` and `X-Lab-*` headers and `received_at`; the first
KEEP_COMPLETE mails of each kind (review, report) in every repeat stay whole, as examples.
The file says so in its `trimmed` field; trimming a trimmed file changes nothing.

    python -m benchmarks.results.reference copy [RUN_DIR] [--to reports/reference/run]
    python -m benchmarks.results.reference trim reports/reference/run \
                                                 reports/reference-postgresql/run
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from benchmarks.paths import ROOT

KEEP_COMPLETE = 2
LEFT_OUT = ("logs", "locust.log")


def _kind(headers: dict) -> str:
    names = {k.lower() for k in headers}
    return (
        "review"
        if "x-lab-review-id" in names
        else "report"
        if "x-lab-report-id" in names
        else "other"
    )


def trim_message(message: dict) -> dict:
    """A message as the analysis needs it: id, To and X-Lab-* headers, received_at."""
    headers = message.get("headers") or {}
    kept = {k: v for k, v in headers.items() if k == "To" or k.lower().startswith("x-lab-")}
    return {"id": message.get("id"), "headers": kept, "received_at": message.get("received_at")}


def trim_mails(path: Path) -> tuple[int, int]:
    """Trim one mails.json in place; return its size before and after, in bytes."""
    before = path.stat().st_size
    data = json.loads(path.read_text(encoding="utf-8"))
    messages = data.get("messages", []) if isinstance(data, dict) else data
    complete: dict[str, int] = {}
    out = []
    for message in messages:
        kind = _kind(message.get("headers") or {})
        if complete.get(kind, 0) < KEEP_COMPLETE:
            complete[kind] = complete.get(kind, 0) + 1
            out.append(message)
        else:
            out.append(trim_message(message))
    head = {k: v for k, v in data.items() if k != "messages"} if isinstance(data, dict) else {}
    head["trimmed"] = (
        f"the first {KEEP_COMPLETE} mails of each kind are complete; the others "
        "keep id, To and X-Lab-* headers and received_at "
        "(benchmarks/results/reference.py)"
    )
    # One message per line: small, and a diff shows which mails changed.
    lines = ",\n".join(json.dumps(m, ensure_ascii=False) for m in out)
    text = json.dumps(head, ensure_ascii=False)[:-1] + ', "messages": [\n' + lines + "\n]}\n"
    path.write_text(text, encoding="utf-8")
    return before, path.stat().st_size


def trim_run(run_dir: Path) -> tuple[int, int]:
    """Trim every mails.json under a run folder; return the total sizes before and after."""
    before = after = 0
    for path in sorted(Path(run_dir).rglob("mails.json")):
        b, a = trim_mails(path)
        before, after = before + b, after + a
    return before, after


def copy_run(source: Path, target: Path) -> tuple[int, int]:
    """Replace target with a copy of the run at source, logs left out and mails trimmed."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(*LEFT_OUT))
    return trim_run(target)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    cp = sub.add_parser("copy", help="copy a run (the newest by default) into the reference")
    cp.add_argument("run_dir", nargs="?", type=Path)
    cp.add_argument("--to", type=Path, default=ROOT / "reports" / "reference" / "run")
    tr = sub.add_parser("trim", help="trim the mails.json files of runs in place")
    tr.add_argument("run_dirs", nargs="+", type=Path)
    args = p.parse_args(argv)
    if args.command == "copy":
        from benchmarks.results.analysis import newest_run

        source = args.run_dir or newest_run()
        if not (Path(source) / "meta.json").exists():
            p.error(f"{source} is not a run folder (no meta.json)")
        before, after = copy_run(Path(source), args.to)
        print(f"{source} -> {args.to}: mails {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB")
        return 0
    for run_dir in args.run_dirs:
        if not run_dir.is_dir():
            p.error(f"{run_dir}: no such folder")
        before, after = trim_run(run_dir)
        print(f"{run_dir}: mails {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
