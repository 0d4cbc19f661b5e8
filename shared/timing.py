"""Where a request's time goes: per-component timers that feed its `Server-Timing` header.

The database layer and the adapters wrap their own calls in `timed("db")`, `timed("smtp")` ...;
the API's app class (shared.api.timing) opens a `Recorder` for each request, and what the timers
measured during that request lands in it. Outside a request (a worker, a script) there is no
recorder and a timer costs one context-variable lookup.

Times are *exclusive*: a timer nested in another (the database rows an SMTP send reads, say) is
taken out of the outer one, so the components of a request add up to its duration, never more.
"""

from __future__ import annotations

from contextvars import ContextVar
from time import perf_counter

# The components, in the order the header lists them; "app" is whatever the others do not cover.
COMPONENTS = ("db", "cache", "queue", "smtp", "hash", "storage", "app")

_current: ContextVar[Recorder | None] = ContextVar("lab_server_timing", default=None)


class Recorder:
    """The time one request spent in each component (seconds), exclusive of nested timers."""

    __slots__ = ("started", "totals", "_children", "token")

    def __init__(self):
        self.started = perf_counter()
        self.totals: dict[str, float] = {}
        # One accumulator per open timer (the first is the request itself): time spent in
        # timers nested directly inside it, to subtract from its own.
        self._children = [0.0]

    def header(self, now: float | None = None) -> str:
        """Return the Server-Timing value: each component touched, then app (the rest), in ms."""
        total = (now or perf_counter()) - self.started
        totals = self.totals
        if not totals:  # the common cheap request: nothing but the app
            return f"app;dur={total * 1000:.2f}"
        parts = [f"{name};dur={totals[name] * 1000:.2f}" for name in COMPONENTS if name in totals]
        parts.append(f"app;dur={max(0.0, total - sum(totals.values())) * 1000:.2f}")
        return ", ".join(parts)


def start() -> Recorder:
    """Open a recorder for the request running in this context and return it."""
    recorder = Recorder()
    recorder.token = _current.set(recorder)
    return recorder


def current() -> Recorder | None:
    """Return the recorder open in this context, if any."""
    return _current.get()


def stop(recorder: Recorder) -> None:
    """Close the recorder `start` opened (the context no longer records)."""
    _current.reset(recorder.token)


class timed:
    """`with timed("db"): ...` adds the block's time (minus nested timers) to the component."""

    __slots__ = ("component", "recorder", "began")

    def __init__(self, component: str):
        self.component = component

    def __enter__(self):
        self.recorder = _current.get()
        if self.recorder is not None:
            self.recorder._children.append(0.0)
            self.began = perf_counter()
        return self

    def __exit__(self, *exc):
        recorder = self.recorder
        if recorder is None:
            return False
        elapsed = perf_counter() - self.began
        nested = recorder._children.pop()
        recorder.totals[self.component] = (
            recorder.totals.get(self.component, 0.0) + elapsed - nested
        )
        recorder._children[-1] += elapsed
        return False


def timed_call(component: str, function, *args, **kwargs):
    """Call a function inside `timed(component)` and return its result."""
    with timed(component):
        return function(*args, **kwargs)
