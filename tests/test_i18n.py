"""The report in either language (benchmarks/results/i18n.py): the fixture run rendered in English
and Brazilian Portuguese, no English heading left in the Portuguese page, decimal commas, every
string the code translates present in the one table, and an unknown language refused."""

from __future__ import annotations

import ast
import re
import string
from html.parser import HTMLParser
from pathlib import Path

import pytest

from benchmarks.results import analysis as an
from benchmarks.results import check, i18n, report
from benchmarks.results.formatting import fmt
from benchmarks.results.strings_pt import CHARTS, PAGE, PT

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
FIXTURE = ROOT / "tests" / "fixtures" / "runs" / "20260101-120000-abc1234"
HEADINGS = ("h1", "h2", "h3", "th", "figcaption")
# Heading texts that are the same in both languages: names of things, not words to translate.
SAME_IN_BOTH = {"p50", "p95", "p99", "SLO", "CSV", "Redis", "Python", "top_rated_computed"}
SAME_IN_BOTH |= set(an.ENDPOINT_ORDER) | set(an.STAGE_ORDER)
# Keys the code passes to t() as values rather than literals: the check's statuses, the kinds of
# resampling unit an interval names (results/intervals.py), a unit word.
DYNAMIC_KEYS = ["PASS", "FAIL", "INCONCLUSIVE", "SKIP", "N/A", "cores", "hdr slices", "hdr slice",
                "history slices", "history slice", "repeats", "repeat", "probe requests",
                "probe request"]  # fmt: skip


class Headings(HTMLParser):
    """Collect the text of every heading-like element (nested tags' text included)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self._open: list[tuple[str, list[str]]] = []

    def handle_starttag(self, tag, attrs):
        if tag in HEADINGS:
            self._open.append((tag, []))

    def handle_endtag(self, tag):
        if self._open and self._open[-1][0] == tag:
            name, parts = self._open.pop()
            self.found.append((name, " ".join("".join(parts).split())))

    def handle_data(self, data):
        for _, parts in self._open:
            parts.append(data)


def headings(page: str) -> list[tuple[str, str]]:
    parser = Headings()
    parser.feed(page)
    return parser.found


def cells(page: str) -> list[str]:
    """The headline table's cells (their visible text)."""
    table = page.split("<table class=headline>")[1].split("</table>")[0]
    return [re.sub(r"<[^>]+>", " ", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", table)]


@pytest.fixture(scope="module")
def pages(fixture_report) -> dict[str, Path]:
    """Each language's page and summary.md (other languages link the English charts)."""
    return {lang: fixture_report(lang, charts=False) for lang in i18n.LANGUAGES}


@pytest.mark.slow  # draws every chart again in each language (~10 s each)
def test_every_chart_is_drawn_in_each_language(fixture_report):
    pages = {lang: fixture_report(lang) for lang in i18n.LANGUAGES}
    en = sorted(p.name for p in pages["en"].parent.glob("*.png"))
    pt = sorted(p.name for p in pages["pt-BR"].parent.glob("*.png"))
    assert en == pt and len(en) >= 8
    differ = [n for n in en if (pages["en"].parent / n).read_bytes()
              != (pages["pt-BR"].parent / n).read_bytes()]  # fmt: skip
    assert differ == en  # every chart has words (titles, axes) in its language


def test_the_pt_br_page_has_no_english_heading_left(pages):
    en = headings(pages["en"].read_text(encoding="utf-8"))
    pt = headings(pages["pt-BR"].read_text(encoding="utf-8"))
    assert [tag for tag, _ in en] == [tag for tag, _ in pt]  # the same page, other words
    assert len(en) > 40
    left = [(tag, e) for (tag, e), (_, p) in zip(en, pt, strict=True)
            if e == p and e not in SAME_IN_BOTH]  # fmt: skip
    assert left == []
    titles = dict(pt)
    assert titles["h1"] == "Laboratório de escalabilidade: sete estágios de arquitetura, medidos"
    assert ("h2", "Efeitos esperados") in pt and ("h2", "Onde o tempo é gasto") in pt


def test_the_pt_br_page_writes_numbers_with_decimal_commas(pages):
    en, pt = (cells(pages[lang].read_text(encoding="utf-8")) for lang in ("en", "pt-BR"))
    assert "34.1 32.5–35.7" in " ".join(en[2].split()) and "34,1 32,5–35,7" in " ".join(
        pt[2].split()
    )  # legacy's throughput and its interval
    assert "1,300" in " ".join(en) and "1.300" in " ".join(pt)  # a thousands separator
    # No decimal point left in a Portuguese figure: "1.300" is a thousand, "34.1" would be English.
    assert [c for c in pt if re.search(r"\d\.\d{1,2}(?!\d)", c)] == []
    page = pages["pt-BR"].read_text(encoding="utf-8")
    assert "<html lang=pt-BR>" in page
    assert "O Locust usou mais de 0,8 núcleo em load-balanced (0,90)" in page  # a caveat
    assert "razão 0,0755, IC de 95 % 0,0726-0,08074" in page  # an expected effect's figures


def test_summary_md_is_written_in_the_chosen_language(pages):
    en = (pages["en"].parent / "summary.md").read_text(encoding="utf-8")
    pt = (pages["pt-BR"].parent / "summary.md").read_text(encoding="utf-8")
    assert en.startswith("# Results of run ") and pt.startswith("# Resultados da rodada ")
    assert "| estágio | endpoint principal | vazão (req/s) |" in pt
    assert "Ressalvas:" in pt and "| 34,1 [32,5–35,7] |" in pt
    assert "| 34.1 [32.5–35.7] |" in en


def test_chart_ticks_use_the_language_decimal_separator():
    from benchmarks.results.charts import plt
    from benchmarks.results.ticks import localize_ticks

    def ticks(lang: str) -> list[str]:
        with i18n.use(lang):
            fig, ax = plt.subplots()
            ax.plot([0, 1], [0, 2.5])
            localize_ticks(fig)
            fig.canvas.draw()
            labels = [label.get_text() for label in ax.get_yticklabels()]
            plt.close(fig)
        return labels

    assert "0.5" in ticks("en") and "0,5" in ticks("pt-BR")


def test_fmt_and_t_follow_the_context_language():
    assert (fmt(1234.5), fmt(3.25), fmt(0.5, "cores")) == ("1,234", "3.2", "0.50")
    with i18n.use("pt-BR"):
        assert (fmt(1234.5), fmt(3.25), fmt(0.5, "cores")) == ("1.234", "3,2", "0,50")
        assert i18n.t("Where the time goes: {endpoint}", endpoint="x") == "Onde o tempo é gasto: x"
        assert i18n.t(
            "Locust used more than {limit} core in {where}: there the load generator, "
            "not the app, may be what limits throughput.",
            limit=0.8,
            where="a",
        ).startswith("O Locust usou mais de 0,8 núcleo em a")  # floats localized
    assert i18n.current() == "en"  # the block restored the language
    says = i18n.later("capacity at SLO at least {before}'s", before="legacy")
    assert says == "capacity at SLO at least legacy's"  # English at once, translated when shown
    with i18n.use("pt-BR"):
        assert i18n.t(says) == "capacidade no SLO pelo menos a do legacy"


def _literal_keys() -> dict[str, str]:
    """Every literal first argument of t(...) / later(...) in benchmarks/results/."""
    keys = {}
    for path in sorted(RESULTS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("t", "later") and node.args
                    and isinstance(node.args[0], ast.Constant)):  # fmt: skip
                keys.setdefault(node.args[0].value, f"{path.name}:{node.lineno}")
    return keys


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_translated_string_has_a_portuguese_entry_with_the_same_fields():
    keys = _literal_keys()
    assert len(keys) > 150  # the scan really found the page's, charts' and checks' strings
    missing = {k: where for k, where in keys.items() if k not in PT}
    assert missing == {}
    assert [k for k in DYNAMIC_KEYS if k not in PT] == []
    assert [k for k in PT if _fields(k) != _fields(PT[k])] == []
    assert set(PAGE) & set(CHARTS) == set()  # one table in two files: no key twice
    unused = set(PT) - set(keys) - set(DYNAMIC_KEYS)
    assert unused == set()  # an entry nothing asks for is a string the code no longer says


def test_an_unknown_language_is_refused_naming_the_supported_ones(capsys):
    with pytest.raises(SystemExit) as exit_:
        report.main([str(FIXTURE), "--lang", "xx"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "--lang" in err and "'xx' is not supported: choose one of en, pt-BR" in err
    with pytest.raises(i18n.LanguageError, match="en, pt-BR"), i18n.use("fr"):
        pass


def test_another_language_goes_to_its_own_folder_beside_the_english_page():
    run = an.load_run(FIXTURE)
    assert report.default_out(run) == report.REPORTS_DIR / run.run_id
    assert report.default_out(run, "pt-BR") == report.REPORTS_DIR / run.run_id / "pt-BR"


def test_the_check_speaks_the_chosen_language_with_the_same_verdicts(capsys):
    codes = {}
    for lang in i18n.LANGUAGES:
        codes[lang] = check.main([str(FIXTURE), "--lang", lang])
        out = capsys.readouterr().out
        if lang == "pt-BR":
            assert out.startswith("rodada 20260101-120000-abc1234: efeitos esperados")
            said = "PASSOU  async-mail: p50 do POST review sozinho no máximo 1/3 do p50 do legacy"
            assert said in out
            assert "razão 0,0755" in out and "PASS " not in out
        else:
            assert "PASS  async-mail: POST review p50 alone at most 1/3 of legacy's - " in out
    assert codes["en"] == codes["pt-BR"]


def test_a_repeat_that_was_not_measured_is_said_in_the_chosen_language(tmp_path):
    import shutil

    from benchmarks.results.summary import warnings

    run_dir = tmp_path / "run"
    shutil.copytree(FIXTURE, run_dir)
    (run_dir / "legacy" / "r7").mkdir()  # a repeat folder the bench left without Locust output
    run = an.load_run(run_dir)
    assert "legacy: r7 was not measured." in warnings(run)
    with i18n.use("pt-BR"):
        assert "legacy: r7 não foi medida." in warnings(run)


def test_the_scaling_paragraphs_are_in_portuguese_with_the_same_numbers(pages):
    pt = pages["pt-BR"].read_text(encoding="utf-8")
    said = re.findall(r"<p class=law>(.*?)</p>", pt)
    assert len(said) == 3  # sigma, kappa, the contrast without budgets
    assert said[0].startswith("<b>Contenção, σ = 0,20</b>") and "<b>160 req/s</b>" in said[0]
    assert said[1].startswith("<b>Coerência, κ = 0,013</b>") and "7,9 réplicas" in said[1]
    assert said[2].startswith("<b>Sem orçamentos de CPU</b>") and "<b>1,10x</b>" in said[2]
    english = ("Contention", "Coherency", "waits in line", "replicas", "Without CPU budgets")
    assert [w for w in english if w in " ".join(said)] == []
