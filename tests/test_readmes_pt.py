"""The Portuguese READMEs keep step with the English ones: both exist, and quote the same numbers.

Numbers are compared as multisets, each read with its language's separators: "1,083.5" in
English is "1.083,5" in Brazilian Portuguese. Code (fenced blocks and `inline`), link targets
and URLs are left out: they are the same text in both languages, not prose to translate.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STAGES = ROOT / "stages"
PT = "README.pt-BR.md"

_CODE_BLOCK = re.compile(r"^```.*?^```", re.S | re.M)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_LINK_TARGET = re.compile(r"\]\([^)]*\)")
_URL = re.compile(r"https?://\S+")
# A number not glued to a word before it (p50, HS256 and S3 are names, not quantities).
_NUMBER = {
    "en": re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"),
    "pt-BR": re.compile(r"(?<![\w.,])(\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d+(?:,\d+)?)"),
}


def prose(markdown: str) -> str:
    """The text a translator translates: no code, no link targets, no URLs."""
    for pattern in (_CODE_BLOCK, _CODE_SPAN, _LINK_TARGET, _URL):
        markdown = pattern.sub(" ", markdown)
    return markdown


def numbers(markdown: str, lang: str) -> Counter:
    """The numbers quoted in a README's prose, as a multiset of canonical strings ("1083.5")."""
    found = Counter()
    for raw in _NUMBER[lang].findall(prose(markdown)):
        if lang == "en":
            value = raw.replace(",", "")
        else:
            value = raw.replace(".", "").replace(",", ".")
        found[str(float(value)).removesuffix(".0")] += 1
    return found


def test_numbers_are_read_with_each_languages_separators():
    assert numbers(
        "p95 1,083 ms, 3.8 ms, 49.7 % of 1,000 x 1,000; HS256 in `127.0.0.1:8123`", "en"
    ) == Counter({"1083": 1, "3.8": 1, "49.7": 1, "1000": 2})
    assert numbers(
        "p95 1.083 ms, 3,8 ms, 49,7 % de 1.000 x 1.000; HS256 em `127.0.0.1:8123`", "pt-BR"
    ) == Counter({"1083": 1, "3.8": 1, "49.7": 1, "1000": 2})
    # Lists and ranges keep their parts apart.
    assert numbers("1, 2, 4 s; 34–36 ms", "pt-BR") == Counter(
        {"1": 1, "2": 1, "4": 1, "34": 1, "36": 1}
    )
    # An English decimal left in the Portuguese text reads differently, so it is caught.
    assert numbers("3.8 ms", "pt-BR") != numbers("3.8 ms", "en")


def stage_folders() -> list[Path]:
    return sorted(p for p in STAGES.iterdir() if p.is_dir() and not p.name.startswith("_"))


@pytest.mark.parametrize("folder", stage_folders(), ids=lambda p: p.name)
def test_each_stage_readme_exists_in_both_languages(folder):
    english, portuguese = folder / "README.md", folder / PT
    assert english.is_file() == portuguese.is_file(), (
        f"{folder.name}: only {'README.md' if english.is_file() else PT} exists; "
        "write the other language's README too"
    )
    assert english.is_file(), f"{folder.name} has no README"


@pytest.mark.parametrize("folder", stage_folders(), ids=lambda p: p.name)
def test_each_stage_readme_quotes_the_same_numbers_in_both_languages(folder):
    en = numbers((folder / "README.md").read_text(), "en")
    pt = numbers((folder / PT).read_text(), "pt-BR")
    only_en, only_pt = en - pt, pt - en
    assert not only_en and not only_pt, (
        f"{folder.name}: numbers only in README.md: {dict(only_en)}; only in {PT}: {dict(only_pt)}"
    )


@pytest.mark.parametrize("folder", [ROOT, *stage_folders()], ids=lambda p: p.name)
def test_each_language_links_to_the_other_in_its_first_lines(folder):
    english = (folder / "README.md").read_text().splitlines()[:5]
    portuguese = (folder / PT).read_text().splitlines()[:5]
    assert any(f"]({PT})" in line for line in english), f"{folder.name}/README.md -> {PT}"
    assert any("](README.md)" in line for line in portuguese), f"{folder.name}/{PT} -> README.md"
