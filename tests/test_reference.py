"""The committed reference runs: mails trimmed to what the analysis reads
(benchmarks/results/reference.py), and the page rebuilt from them byte for byte."""

from __future__ import annotations

import filecmp
import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.results import analysis
from benchmarks.results.reference import KEEP_COMPLETE, copy_run, trim_mails

ROOT = Path(__file__).resolve().parent.parent
REFERENCES = [ROOT / "reports" / "reference", ROOT / "reports" / "reference-postgresql"]
START = 1_800_000_000.0


def simulator_mail(i: int, kind: str) -> dict:
    """A message as the mail simulator's API returns it (body, MIME headers and all)."""
    created = START + i
    headers = {
        "To": f"specialist{i}@example.com",
        "Subject": "You have a new review",
        "X-Lab-Created-At": f"{created:.6f}",
        "Content-Type": 'text/plain; charset="utf-8"',
        "Content-Transfer-Encoding": "7bit",
        "MIME-Version": "1.0",
        "From": "no-reply@scaling-lab.test",
    }
    headers["X-Lab-Review-Id" if kind == "review" else "X-Lab-Report-Id"] = f"{kind}-{i}"
    return {
        "id": i,
        "from": headers["From"],
        "to": [headers["To"]],
        "subject": headers["Subject"],
        "text": "Hello Dr. Someone,\r\n\r\nYou have a new review.\r\n" * 3,
        "headers": headers,
        "received_at": created + 0.1 + i / 1000,
        "received_at_iso": "2027-01-15T08:00:00Z",
    }


@pytest.fixture
def repeat(tmp_path) -> Path:
    folder = tmp_path / "run" / "async-reports" / "r1"
    folder.mkdir(parents=True)
    (folder / "stage.json").write_text(
        json.dumps({"measure_start": START, "measure_end": START + 100})
    )
    mails = [simulator_mail(i, "review" if i % 3 else "report") for i in range(60)]
    (folder / "mails.json").write_text(json.dumps({"total": 60, "messages": mails}, indent=2))
    (folder / "logs").mkdir()
    (folder / "logs" / "app.log").write_text("a log line\n")
    return folder


def test_trimming_keeps_every_figure_the_analysis_reads(repeat):
    lags_before = analysis.mail_lags(repeat)
    before, after = trim_mails(repeat / "mails.json")
    assert after < before / 3
    assert analysis.mail_lags(repeat).equals(lags_before)
    assert len(lags_before) == 60
    data = json.loads((repeat / "mails.json").read_text())
    assert data["total"] == 60 and "trimmed" in data
    complete = [m for m in data["messages"] if "text" in m]
    assert len(complete) == 2 * KEEP_COMPLETE  # the first of each kind, as examples
    assert {
        m["headers"][
            "X-Lab-Review-Id" if "X-Lab-Review-Id" in m["headers"] else "X-Lab-Report-Id"
        ].split("-")[0]
        for m in complete
    } == {"review", "report"}
    short = data["messages"][-1]
    assert set(short) == {"id", "headers", "received_at"}
    assert set(short["headers"]) == {"To", "X-Lab-Created-At", "X-Lab-Review-Id"}


def test_trimming_twice_changes_nothing(repeat):
    trim_mails(repeat / "mails.json")
    once = (repeat / "mails.json").read_bytes()
    trim_mails(repeat / "mails.json")
    assert (repeat / "mails.json").read_bytes() == once


def test_a_copied_run_leaves_the_logs_out_and_trims_the_mails(repeat, tmp_path):
    target = tmp_path / "reference" / "run"
    copy_run(repeat.parent.parent, target)
    copied = target / "async-reports" / "r1"
    assert not (copied / "logs").exists()
    assert "trimmed" in json.loads((copied / "mails.json").read_text())
    assert "trimmed" not in json.loads((repeat / "mails.json").read_text())  # source untouched


@pytest.mark.parametrize("reference", REFERENCES, ids=lambda p: p.name)
def test_the_committed_reference_mails_are_trimmed(reference):
    files = sorted((reference / "run").rglob("mails.json"))
    assert files, f"no mails.json under {reference}"
    untrimmed = [
        str(f.relative_to(ROOT)) for f in files if "trimmed" not in json.loads(f.read_text())
    ]
    assert untrimmed == [], "run `python -m benchmarks.results.reference trim` on them"
    # 37 runs at up to ~350 req/s: one mail per review (~70,000 in all), trimmed to ~190 bytes
    # each (~13.5 MB); untrimmed, they would take ~4x that.
    assert sum(f.stat().st_size for f in files) < 16e6


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.parametrize("reference", REFERENCES, ids=lambda p: p.name)
def test_the_committed_page_rebuilds_byte_identical_from_its_run(reference, tmp_path):
    run = reference.relative_to(ROOT) / "run"  # the page names the run folder as given
    built = subprocess.run(
        [sys.executable, "-m", "benchmarks.results.report", str(run), "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    names = sorted(p.name for p in tmp_path.iterdir())
    committed = sorted(p.name for p in reference.iterdir() if p.is_file())
    assert names == committed
    _, mismatch, errors = filecmp.cmpfiles(tmp_path, reference, names, shallow=False)
    assert (mismatch, errors) == ([], [])
