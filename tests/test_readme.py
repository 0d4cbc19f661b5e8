"""The README's numbers are the reference runs' (benchmarks/results/readme_numbers.py)."""

from __future__ import annotations

import pytest

from benchmarks.results import readme_numbers
from benchmarks.results.readme_numbers import README, Runs, render


@pytest.fixture(scope="module")
def runs() -> Runs:
    return Runs()


def test_the_readme_numbers_are_the_reference_runs(runs):
    text = README.read_text(encoding="utf-8")
    new, changed = render(text, runs)
    assert changed == [], (
        f"README parts {changed} differ from the reference runs: run "
        "`python -m benchmarks.results.readme_numbers --write`"
    )
    assert new == text


@pytest.mark.parametrize(
    "old,new,part",
    [
        (
            "| cache | GET top-10 | 107 [82.3–121]",
            "| cache | GET top-10 | 207 [82.3–121]",
            "headline",
        ),
        ("| 5 s → 90 ms | 8,196 → 88 ms |", "| 5 s → 90 ms | 8,196 → 8 ms |", "headline"),
        ("cuts the top-10 by ~460x alone", "cuts the top-10 by ~400x alone", "findings"),
        ("lag p50 in async-mail: 189 ms", "lag p50 in async-mail: 89 ms", "postgresql"),
    ],
)
def test_a_number_edited_by_hand_is_caught_and_rewritten(runs, old, new, part, tmp_path):
    text = README.read_text(encoding="utf-8")
    assert old in text
    doctored = text.replace(old, new, 1)
    fixed, changed = render(doctored, runs)
    assert changed == [part]
    assert fixed == text
    path = tmp_path / "README.md"
    path.write_text(doctored, encoding="utf-8")
    assert readme_numbers.main(["--readme", str(path)], runs) == 1
    assert readme_numbers.main(["--readme", str(path), "--write"], runs) == 0
    assert path.read_text(encoding="utf-8") == text


def test_a_readme_without_the_markers_is_refused(runs):
    text = README.read_text(encoding="utf-8")
    stripped = text.replace("<!-- /numbers:findings -->", "")
    with pytest.raises(ValueError, match="findings"):
        render(stripped, runs)
