"""Show exactly what changed between two stages.

`python -m benchmarks.tools.stagediff load-balanced token-auth`: both stages' files side by side,
each
stage's own package name written as `stages.<stage>`, so the diff shows the architectural change.
"""

from __future__ import annotations

import argparse
import difflib
import sys

import stages
from benchmarks.paths import ROOT


def stage_files(name: str) -> dict[str, str]:
    """Return a stage's source files (relative path -> normalized text)."""
    package = stages.STAGES[name]
    folder = ROOT / package.replace(".", "/")
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in {".py", ".md"} and "__pycache__" not in path.parts:
            text = path.read_text().replace(package, "stages.<stage>")
            files[str(path.relative_to(folder))] = text
    return files


def stage_diff(old: str, new: str, *, include_readme: bool = False) -> str:
    """Return the unified diff from stage `old` to stage `new`."""
    a, b = stage_files(old), stage_files(new)
    chunks = []
    for rel in sorted(set(a) | set(b)):
        if rel.endswith(".md") and not include_readme:
            continue
        chunks.extend(
            difflib.unified_diff(
                a.get(rel, "").splitlines(keepends=True),
                b.get(rel, "").splitlines(keepends=True),
                fromfile=f"{old}/{rel}",
                tofile=f"{new}/{rel}",
            )
        )
    return "".join(chunks)


def main(argv: list[str] | None = None) -> int:
    names = stages.names()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", nargs="?", choices=names, help="default: the stage before NEW")
    parser.add_argument("new", nargs="?", choices=names)
    parser.add_argument("--readme", action="store_true", help="include the stage READMEs")
    args = parser.parse_args(argv)
    if args.old and not args.new:
        args.old, args.new = None, args.old
    pairs = (
        [(names[names.index(args.new) - 1], args.new)]
        if args.new and not args.old
        else [(args.old, args.new)]
        if args.old
        else list(zip(names, names[1:], strict=False))
    )
    for old, new in pairs:
        if old == new or names.index(new) == 0:
            parser.error(f"{new} is the first stage; nothing comes before it")
        print(f"### {old} -> {new}: {stages.topology(new).change}\n")
        print(stage_diff(old, new, include_readme=args.readme) or "(no code difference)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
