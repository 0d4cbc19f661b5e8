"""The nox sessions that run a stack let it stop on Ctrl-C (noxfile.py's STOPS).

Ctrl-C reaches the lab's process and nox alike; by default nox sends SIGTERM 0.3 s later and
SIGKILL 0.2 s after that, which cut an interrupted bench's stop short and left its cgroups
behind (seen from a real terminal: `nox -s bench -- legacy --quick`, Ctrl-C mid-window).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


class FakeSession:
    posargs: list[str] = []

    def __init__(self) -> None:
        self.env: dict[str, str] = {}
        self.runs: list[tuple[tuple, dict]] = []

    def install(self, *args, **kwargs) -> None:
        pass

    def run(self, *args, **kwargs) -> None:
        self.runs.append((args, kwargs))


@pytest.fixture(scope="module")
def noxfile():
    spec = importlib.util.spec_from_file_location("lab_noxfile", ROOT / "noxfile.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["up", "play", "bench", "reference"])
def test_a_session_running_a_stack_waits_for_it_to_stop(noxfile, name):
    session = FakeSession()
    getattr(noxfile, name).func(session)
    stack = [kw for args, kw in session.runs if args[:2] == ("python", "-m") and
             args[2] in ("benchmarks.stack.up", "benchmarks.measure.play",
                         "benchmarks.measure.bench")]  # fmt: skip
    assert stack, session.runs
    for kwargs in stack:
        # The stop takes ~0.5 s for a stack (1-2 s with a bench's summary): ample margin.
        assert kwargs.get("interrupt_timeout", 0.3) >= 10, kwargs
        assert kwargs.get("terminate_timeout", 0.2) >= 5, kwargs
