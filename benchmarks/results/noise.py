"""Where the spread may come from, measured: the machine's other work, steal, the generator.

Reads what the bench records beside each window (stage.json "host": the machine's busy %, CPU
steal and load average at the window's start and end, benchmarks/measure/hostload.py; cpu.json:
the cores of every process group, Locust's included; ladder.json: behind-schedule steps) and
turns it into the report's caveats, with numbers. The other work on the machine is what the
whole machine used minus what the stage's processes and the load generator used.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from pathlib import Path

from scipy import stats

from benchmarks.results.i18n import num, t


def _read(path: Path) -> dict | list:
    return json.loads(path.read_text()) if path.exists() else {}


def windows(run_path: Path, stages: list[str]) -> list[dict]:
    """Return one row per measured repeat: stage, repeat, busy/steal %, loads, cores used."""
    rows = []
    for stage in stages:
        for folder in sorted((run_path / stage).glob("r*")):
            if not re.fullmatch(r"r\d+", folder.name):
                continue
            host = (_read(folder / "stage.json") or {}).get("host") or {}
            if "busy_pct" not in host:
                continue
            groups = (_read(folder / "cpu.json") or {}).get("groups") or {}
            cores = {g: v.get("cores") or 0.0 for g, v in groups.items()}
            n = host.get("cpu_count") or 1
            used = sum(cores.values())
            rows.append({
                "stage": stage, "repeat": folder.name, "busy_pct": host["busy_pct"],
                "steal_pct": host.get("steal_pct", 0.0),
                "load": [x for x in (host.get("load1_start"), host.get("load1_end")) if x],
                "cpus": n, "locust": cores.get("locust", 0.0),
                "worker": cores.get("worker", 0.0), "app": cores.get("app", 0.0),
                "other": max(0.0, host["busy_pct"] / 100 * n - used),
                "speed": host.get("speed_ms") or [],
                "speed_in": host.get("speed_ms_during") or [],
            })  # fmt: skip
    return rows


def window_speed(row: dict) -> float | None:
    """Return a window's speed: the median of the loop's times inside it where the bench took
    them (every few seconds), else the mean of its two ends; None where none was taken."""
    if row["speed_in"]:
        return statistics.median(row["speed_in"])
    return statistics.mean(row["speed"]) if row["speed"] else None


def _range(values: list[float], spec: str = ".2f") -> str:
    lo, hi = num(min(values), spec), num(max(values), spec)
    return lo if lo == hi else f"{lo}–{hi}"


def behind(run_path: Path, stages: list[str]) -> dict[str, list[float]]:
    """Return {stage: offered rates at which the ladder's generator fell behind schedule}."""
    out = {}
    for stage in stages:
        rates = set()
        for path in (run_path / stage).glob("r*/ladder.json"):
            rates |= {p["offered_rps"] for p in _read(path) if p.get("behind_schedule")}
        if rates:
            out[stage] = sorted(rates)
    return out


FULL = 0.95  # a box using this share of its budget or more was full
MOVED = 0.10  # a spread of CPU per request over this share of its lowest value is said


def full_repeats(run_path: Path, stage: str) -> dict[str, tuple[float, float]]:
    """Return {repeat: (app CPU ms per HTTP request, HTTP req/s)} for a stage whose app boxes were
    full in every repeat with under 1 % failed requests; {} otherwise."""
    out = {}
    for folder in sorted((run_path / stage).glob("r*")):
        if not re.fullmatch(r"r\d+", folder.name):
            continue
        app = ((_read(folder / "cpu.json") or {}).get("groups") or {}).get("app") or {}
        lat = _read(folder / "latency.json") or {}
        window = lat.get("_window") or {}
        seconds = (window.get("stop") or 0) - (window.get("start") or 0)
        http = [e for k, e in lat.items() if k != "_window" and not k.startswith("E2E")]
        requests = sum(e.get("count", 0) for e in http)
        failed = sum(e.get("failures", 0) for e in http)
        budget, cores = app.get("budget_cores"), app.get("cores")
        # Where requests fail (load-balanced's cheap 401s), the mix itself moved: left out.
        full = budget and cores and cores >= FULL * budget
        if not (full and seconds > 0 and requests) or failed > 0.01 * requests:
            return {}
        out[folder.name] = (1000 * cores / (requests / seconds), requests / seconds)
    return out


def cpu_per_request(run_path: Path, stages: list[str]) -> dict[str, tuple[float, float]]:
    """Return {stage: (lowest, highest) app CPU ms per HTTP request over its repeats}, for the
    stages whose app boxes were full in every repeat and whose figure moved by over MOVED."""
    out = {}
    for stage in stages:
        ms = [m for m, _ in full_repeats(run_path, stage).values()]
        if len(ms) >= 2 and max(ms) > (1 + MOVED) * min(ms):
            out[stage] = (min(ms), max(ms))
    return out


def speed_and_throughput(run_path: Path, stages: list[str]) -> tuple[float, int] | None:
    """Return (Pearson r, windows) between each full-box window's speed loop (the mean of its two
    ends) and its throughput over its stage's median: how much of the spread the VM's own speed
    explains. None with fewer than 4 such windows or no speed recorded."""
    xs, ys = [], []
    for stage in stages:
        reps = full_repeats(run_path, stage)
        speed = {r["repeat"]: window_speed(r) for r in windows(run_path, [stage])
                 if window_speed(r) and r["repeat"] in reps}  # fmt: skip
        if len(speed) < 2:
            continue
        mid = statistics.median(reps[k][1] for k in speed)
        xs += list(speed.values())
        ys += [reps[k][1] / mid for k in speed]
    if len(xs) < 4 or len(set(xs)) < 2 or len(set(ys)) < 2:
        return None
    return float(stats.pearsonr(xs, ys).statistic), len(xs)


def caveats(run) -> list[str]:
    """Return the measured noise caveats of a run (none for runs recorded before hostload)."""
    rows, out = windows(run.path, run.stages), []
    if rows:
        n = rows[0]["cpus"]
        loads = [x for r in rows for x in r["load"]]
        busy, steal = [r["busy_pct"] for r in rows], [r["steal_pct"] for r in rows]
        other = _range([r["other"] for r in rows])
        out.append(
            t(
                "The machine during the measured windows: {busy} % of its {n} CPUs busy, load "
                "average {loads}, CPU steal {steal} %; work other than the stage and its load "
                "generator took {other} cores of {n}. Where that share moves between repeats, "
                "so do the figures: compare them with the intervals.",
                busy=_range(busy, ".0f"),
                n=n,
                loads=_range(loads, ".1f") if loads else "?",
                steal=_range(steal),
                other=other,
            )
        )
        out.append(
            t(
                "The load generator (Locust) used {locust} cores of the same machine; the "
                "mail/report worker {worker} cores beside the app's {app} (SQLite checkpoints "
                "are not recorded separately: they are inside the app's and worker's CPU).",
                locust=_range([r["locust"] for r in rows]),
                worker=_range([r["worker"] for r in rows]),
                app=_range([r["app"] for r in rows]),
            )
        )
    speeds = [x for r in rows for x in r["speed"]]
    if len(speeds) >= 2:
        out.append(
            t(
                "The machine's own speed: a fixed CPU loop, timed in the bench's process at each "
                "window's start and end, took {range} ms (the more, the slower). A VM's core "
                "shared with a busy neighbour runs slower with no steal recorded; where the loop "
                "was slow, the same work took longer.",
                range=_range(speeds, ".1f"),
            )
        )
        inside = [r["speed_in"] for r in rows if len(r["speed_in"]) >= 2]
        if inside:
            swing = max((max(x) - min(x)) / min(x) for x in inside)
            out[-1] += " " + t(
                "Timed every few seconds inside the windows as well, it moved by up to {swing} "
                "within a single window.",
                swing=f"{swing:.0%}",
            )
        tied = speed_and_throughput(run.path, run.stages)
        if tied:
            out[-1] += " " + t(
                "Over the {n} windows whose app boxes were full, a window's throughput (against "
                "its stage's median) and the loop's time correlate at r = {r}.",
                n=tied[1],
                r=num(tied[0], ".2f"),
            )
    per = cpu_per_request(run.path, run.stages)
    if per:
        out.append(
            t(
                "The app's boxes were full in every repeat (at their CPU budget), yet the CPU "
                "they spent per request moved between repeats: {where}. With the CPU fixed, "
                "that is what moved the throughput: the same mix, dealt the same way, cost more "
                "or less CPU per request (CPU steal and the machine's other work, above, do not "
                "account for it).",
                where="; ".join(
                    t("{stage} {lo}–{hi} ms", stage=stage, lo=num(lo, ".2f"), hi=num(hi, ".2f"))
                    for stage, (lo, hi) in per.items()
                ),
            )
        )
    late = behind(run.path, run.stages)
    if late:
        where = "; ".join(t("{stage} at {rates} req/s", stage=s,
                            rates=", ".join(num(r, "g") for r in rates))
                          for s, rates in late.items())  # fmt: skip
        out.append(
            t(
                "The ladder's generator fell behind its schedule ({where}): those points offered "
                "less than their rate (hollow in the chart) and stop the capacity climb.",
                where=where,
            )
        )
    return out


def speeds(run_path: Path, folders: dict) -> str:
    """Say the machine's speed (the fixed loop of benchmarks/measure/hostload.py) at the windows
    of each labelled folder, e.g. each point of a ratio: a VM whose speed moved between them
    moved the ratio with it. "" when a folder's windows have no speed recorded (older runs)."""
    found = []
    for label, folder in folders.items():
        ms = [x for r in windows(run_path, [folder]) for x in r["speed"]]
        if not ms:
            return ""
        found.append(f"{label}: {_range(ms, '.1f')} ms")
    return t("; the machine's speed loop at the windows' ends, by replicas: {found}",
             found=", ".join(found))  # fmt: skip


TAIL_FEW = 10  # a percentile with fewer requests beyond it moves with one slow request
TAILS = {"p95": 0.95, "p99": 0.99, "p999": 0.999}
GROWING = 1.5  # lag at a window's end this many times its start's: the queue kept growing


def per_repeat(run, stage: str, endpoint: str, metric: str) -> list[int]:
    """Return a count figure's value in each repeat (requests, http_requests)."""
    f = run.figures
    rows = f[(f["stage"] == stage) & (f["endpoint"] == endpoint) & (f["metric"] == metric)]
    return [int(n) for n in rows["value"] if n == n]  # n == n: not NaN


def thin(counts: list[int], q: float | None) -> bool:
    """Tell whether percentile q, over these requests per repeat, rests on fewer than TAIL_FEW
    requests beyond it in every repeat."""
    return bool(q and counts and max(counts) * (1 - q) < TAIL_FEW)


def thin_tails(run, cells: list[tuple[str, str, str, str]]) -> str | None:
    """Say which spread percentiles rest on a handful of requests (the k slowest of n).

    `cells`: (stage, endpoint, metric, label) of the ⚠ figures; a p99 of 90 requests is their
    slowest one, so one recomputation or one throttled period decides it."""
    found = []
    for stage, endpoint, metric, label in cells:
        q, counts = TAILS.get(metric), per_repeat(run, stage, endpoint, "requests")
        if not thin(counts, q):
            continue
        beyond = [max(1, math.ceil(n * (1 - q))) for n in counts]
        found.append(
            t("{stage} {label}: the {k} slowest of {n} requests", stage=stage, label=t(label),
              k=_range(beyond, "d"), n=_range(counts, "d"))
        )  # fmt: skip
    if not found:
        return None
    return t(
        "Tail percentiles resting on a handful of requests per repeat ({where}): one slow request "
        "(a cache recomputation, a throttled period) moves such a figure; longer windows give it "
        "more requests.",
        where="; ".join(found),
    )


def review_mails(run, stage: str):
    """Yield each repeat's review mails of a stage (its rows of run.mails)."""
    m = getattr(run, "mails", None)
    if m is None or m.empty:
        return
    for _, group in m[(m["stage"] == stage) & (m["kind"] == "review")].groupby("repeat"):
        yield group


def growing(run, stages: list[str]) -> dict[str, tuple[float, float]]:
    """Return {stage: (first, last)}: the stages whose review mails' lag kept growing through the
    window (medians over repeats of its first and last third, the last GROWING times the first or
    more): the worker fell behind, so the lag says how long the window ran and from what backlog
    it began, and its figures spread with that."""
    found = {}
    for stage in stages:
        firsts, lasts = [], []
        for g in review_mails(run, stage):
            end = g["t"].max()
            first, last = g[g["t"] < end / 3]["lag_ms"], g[g["t"] > 2 * end / 3]["lag_ms"]
            if end > 0 and len(first) and len(last):
                firsts.append(first.median())
                lasts.append(last.median())
        if firsts and statistics.median(lasts) >= GROWING * statistics.median(firsts):
            found[stage] = (statistics.median(firsts), statistics.median(lasts))
    return found


def growing_queues(run, stages: list[str]) -> str | None:
    """Say in which stages the review mails' lag kept growing through the window (`growing`)."""
    found = [
        t("{stage} {a} → {b} ms", stage=stage, a=num(a, ",.0f"), b=num(b, ",.0f"))
        for stage, (a, b) in growing(run, stages).items()
    ]
    if not found:
        return None
    return t(
        "Mail queues that kept growing through the window (review mails' lag in its first third "
        "→ its last, medians over repeats: {where}): the worker sent mails slower than reviews "
        "came in, so the lag says how long the window ran and from what backlog it began more "
        "than how fast the stage is, and it spreads between repeats.",
        where="; ".join(found),
    )
