"""Chart tick numbers in the report's language: matplotlib's default labels, "1,5" in pt-BR."""

from __future__ import annotations

from matplotlib.ticker import ScalarFormatter

from benchmarks.results.i18n import current, decimal


class LocaleFormatter(ScalarFormatter):
    """matplotlib's default tick numbers, in the report language's decimal separator."""

    def __call__(self, x, pos=None):
        return decimal(super().__call__(x, pos))


def localize_ticks(fig) -> None:
    """Default-formatted (linear) axes get the language's decimal separator (English: as is).

    Log axes (10^n labels) and axes given their own labels (e.g. the ladder's rates, written by
    formatting.fmt) are left alone."""
    if current() == "en":
        return
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if type(axis.get_major_formatter()) is ScalarFormatter:
                axis.set_major_formatter(LocaleFormatter())
