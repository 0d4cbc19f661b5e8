"""The queue/cache server wants a password: huey's tasks are pickles, so writing to it runs code.

The stack's own valkey is started exactly as planned (benchmarks.stack), with a password made
for the run in a config file (not in argv); a client without it is refused, the stack's URL and
the harness's Redis readers (counters, the fault scenarios' probe) work with it. A Redis given
by URL (`--redis redis://:pass@host:port/db`) is prepared with its password.
"""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest
import redis

from benchmarks.faults.kill import redis_up
from benchmarks.measure.counters import redis_counters
from benchmarks.stack import Options, Stack, valkey_binary
from benchmarks.stack.redis_db import prepare_redis
from shared.adapters.cache import CachedTopRated
from shared.queue import make_huey


@pytest.fixture
def valkey_of_a_stack(free_port, tmp_path):
    """The cache stage's plan, with only its valkey started (as `Stack.start` starts it)."""
    stack = Stack(
        "cache",
        Options(
            port=free_port(),
            inbox_port=free_port(),
            smtp_port=free_port(),
            state_dir=tmp_path / "stack",
            quiet=True,
        ),
    )
    (stack.state / "logs").mkdir(parents=True)
    stack.site, stack.specs = stack.plan("sqlite:///unused.sqlite3")
    stack.env = {"LAB_REDIS_URL": stack.site.values["LAB_REDIS_URL"]}
    spec = next(s for s in stack.specs if s.group == "redis")
    try:
        stack._launch(spec)
        stack._wait_ready(spec)
        yield stack, spec
    finally:
        stack.stop()


@pytest.mark.processes
def test_the_stacks_valkey_refuses_a_client_without_the_password(valkey_of_a_stack):
    stack, spec = valkey_of_a_stack
    url = stack.site.values["LAB_REDIS_URL"]
    password = urlsplit(url).password
    assert password and len(password) >= 24
    anonymous = redis.Redis(host="127.0.0.1", port=spec.port, socket_timeout=2)
    with pytest.raises(redis.AuthenticationError):
        anonymous.ping()
    with pytest.raises(redis.AuthenticationError):
        anonymous.set("lab:counter:x", 1)
    wrong = redis.Redis(host="127.0.0.1", port=spec.port, password="guess", socket_timeout=2)
    with pytest.raises(redis.AuthenticationError):
        wrong.ping()
    assert redis.Redis.from_url(url).ping()


@pytest.mark.processes
def test_the_password_is_not_on_the_command_line_and_its_file_is_private(valkey_of_a_stack):
    stack, spec = valkey_of_a_stack
    password = urlsplit(stack.site.values["LAB_REDIS_URL"]).password
    proc = next(p for p in stack.procs if p.group == "redis")
    assert password not in " ".join(psutil.Process(proc.popen.pid).cmdline())
    assert password not in " ".join(spec.argv)
    config = Path(stack.site.redis_config)
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert password in config.read_text()
    assert password not in str(stack.describe())  # the run's metadata


@pytest.mark.processes
def test_the_harness_reads_the_stacks_redis_with_the_password(valkey_of_a_stack):
    stack, spec = valkey_of_a_stack
    url = stack.site.values["LAB_REDIS_URL"]
    redis.Redis.from_url(url).set("lab:counter:top_rated_computed", 3)
    assert redis_counters(stack) == {"top_rated_computed": 3}

    # A rejected cache entry is a lab:counter:* like the others: the run's counters.json and the
    # report's counters table show it.
    class NoRanking:
        def top(self, limit):
            return []

    cache = CachedTopRated.from_url(url, 30, live=NoRanking())
    redis.Redis.from_url(url).set(cache.key(10), '{"at": "x", "data": []}')
    assert cache.top(10) == []
    assert redis_counters(stack) == {"top_rated_computed": 4, "cache_entries_rejected": 1}
    assert redis_up(url)
    assert not redis_up(f"redis://127.0.0.1:{spec.port}/0")  # NOAUTH is not up for us
    queue = make_huey("test", url)
    queue.enqueue(queue.task()(lambda: None).s())
    assert queue.pending_count() == 1


@pytest.mark.processes
def test_a_redis_url_with_a_password_is_prepared_and_used(free_port, tmp_path, poll):
    port, password = free_port(), "s3cret-Pass_word"
    proc = subprocess.Popen(
        [
            valkey_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--requirepass",
            password,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"redis://:{password}@127.0.0.1:{port}/3"
        poll(lambda: redis_up(url), timeout=10, what="valkey with a password")
        prepared = prepare_redis(url)
        assert prepared.db == 3 and password not in str(prepared.describe())
        assert redis.Redis.from_url(url).exists("scaling-lab:owner")
        with pytest.raises(Exception, match="cannot use Redis"):
            prepare_redis(f"redis://127.0.0.1:{port}/3")  # no password: a clear refusal
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.slow
def test_a_stage_runs_on_a_redis_given_by_url_with_a_password(launch, free_port, tmp_path, poll):
    from benchmarks.client import LabClient

    port, password = free_port(), "given-Pass_word-123"
    proc = subprocess.Popen(
        [
            valkey_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--requirepass",
            password,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"redis://:{password}@127.0.0.1:{port}/4"
        poll(lambda: redis_up(url), timeout=10, what="valkey with a password")
        stack = launch("cache", redis_url=url)
        try:
            assert "valkey" not in stack.describe()["processes"]  # none of its own
            api = LabClient(stack.urls["api"].removesuffix("/api")).login()
            assert all(api.get("/api/specialists/highest_rated").status == 200 for _ in range(4))
            assert redis_counters(stack)["top_rated_computed"] == 1
            assert password not in str(stack.describe())
        finally:
            stack.stop()
    finally:
        proc.terminate()
        proc.wait(10)
