"""The report's language: a context variable, `t(...)` to translate a string, numbers per locale.

One table of strings (benchmarks/results/strings_pt.py): the English text is the key, its
Brazilian Portuguese the value; every user-visible string of results/ goes through `t`. English
is the key itself, so the English page is what it was before translation existed.

    with use("pt-BR"):
        t("Run {run_id}", run_id="...")  # -> "Rodada ..."
        fmt(1234.5)                       # -> "1.234,5" (formatting.fmt asks `decimal`)
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from benchmarks.results.strings_pt import PT

LANGUAGES = ("en", "pt-BR")
TABLES = {"en": {}, "pt-BR": PT}
# HTML's lang attribute and the decimal/thousands separators of each language.
_SEPARATORS = {"en": None, "pt-BR": str.maketrans({".": ",", ",": "."})}

_lang: ContextVar[str] = ContextVar("report_language", default="en")


class LanguageError(ValueError):
    """A language the report cannot be written in."""


def check(lang: str) -> str:
    """Return a supported language as given; raise LanguageError naming the supported ones."""
    if lang not in LANGUAGES:
        raise LanguageError(
            f"language {lang!r} is not supported: choose one of {', '.join(LANGUAGES)}"
        )
    return lang


def add_argument(parser: argparse.ArgumentParser) -> None:
    """Give a command line `--lang LANG` (default en); an unsupported one is refused by argparse
    with the supported ones named."""

    def language(value: str) -> str:
        try:
            return check(value)
        except LanguageError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    parser.add_argument(
        "--lang",
        type=language,
        default="en",
        metavar="LANG",
        help=f"the language to write in: {', '.join(LANGUAGES)} (default: en)",
    )


def current() -> str:
    """Return the language the report is being written in."""
    return _lang.get()


@contextmanager
def use(lang: str) -> Iterator[str]:
    """Write everything inside the block in `lang` (checked); restore the language after."""
    token = _lang.set(check(lang))
    try:
        yield lang
    finally:
        _lang.reset(token)


class Text(str):
    """An English text that remembers its key and arguments, so `t` can translate it later
    (e.g. an expected effect's sentence, built when the module loads)."""

    key: str
    kw: dict

    def __new__(cls, key: str, **kw) -> Text:
        text = super().__new__(cls, key.format(**kw) if kw else key)
        text.key, text.kw = key, kw
        return text


def later(key: str, **kw) -> Text:
    """Return the English text now, translatable by `t` when it is shown."""
    return Text(key, **kw)


def t(key: str, **kw) -> str:
    """Return `key` in the current language, its {fields} filled from kw.

    A Text (from `later`) is translated by its own key and arguments. A key with no entry stays
    English (tests/test_i18n.py makes sure every literal key has one)."""
    if isinstance(key, Text):
        key, kw = key.key, {**key.kw, **kw}
    text = TABLES[_lang.get()].get(key, key)
    # Arguments: a Text is translated too, a float written with the language's separators (so
    # pass floats to plain {fields} only; format anything else with `num` or formatting.fmt).
    kw = {k: t(v) if isinstance(v, Text) else num(v) if isinstance(v, float) else v
          for k, v in kw.items()}  # fmt: skip
    return text.format(**kw) if kw else text


def decimal(number: str) -> str:
    """Return a number formatted the English way ("1,234.5") in the current language's
    separators ("1.234,5" in pt-BR)."""
    table = _SEPARATORS[_lang.get()]
    return number.translate(table) if table else number


def num(value: float, spec: str = "") -> str:
    """Format a number with a format spec (e.g. ".2f"), in the current language's separators."""
    return decimal(format(value, spec))
