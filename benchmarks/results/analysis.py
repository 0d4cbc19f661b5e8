"""Load a results folder (the format of docs/RESULTS.md) into tidy figures; no plotting here."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from benchmarks.paths import RESULTS_DIR, ROOT  # noqa: F401 - ROOT: used by readers of a run
from benchmarks.results.catalog import (  # noqa: F401 - readers of a run use these names
    AGGREGATED,
    CPU_GROUPS,
    DOWNLOAD,
    E2E_CSV,
    E2E_MAIL,
    E2E_TYPE,
    ENDPOINT_ORDER,
    EXACT_METRICS,
    FOCUS,
    HEADLINE_COLUMNS,
    HIGHEST_RATED,
    KEY,
    LIST,
    LOCUST_CORE_LIMIT,
    LOCUST_THROTTLED_PCT,
    LOGIN,
    POST_REPORTS,
    POST_REVIEW,
    REVIEWS,
    SPECIALIST,
    STAGE_ORDER,
    WIDE_SPREAD,
    Column,
    Focus,
    Stat,
    failure_message,
    locust_bound,
    unit_of,
)
from benchmarks.results.curve_points import with_stage_point
from benchmarks.results.i18n import later  # problems: English now, translated where shown
from benchmarks.results.ladders import repeat_figures as ladder_figures
from benchmarks.results.mails import lag_over_time, mail_lags  # noqa: F401 - readers use these

# The scaling curve's folders in a run: with the run's CPU budgets, and (--scaling-contrast) the
# same replica counts with none.
SCALING, UNBUDGETED = "scaling", "scaling-unbudgeted"


def _read_csv(path: Path) -> pd.DataFrame:
    """Read a Locust CSV; Locust writes "N/A" for percentiles of an entry without requests."""
    if not path.exists():
        return pd.DataFrame()
    return pd.read_csv(path, na_values=["N/A"], keep_default_na=False, dtype={"Type": str})


def _read_json(path: Path, default):
    return json.loads(path.read_text()) if path.exists() else default


def _percentiles(values: list[float]) -> dict[str, float]:
    s = pd.Series(values, dtype=float)
    return {
        "p50": s.quantile(0.5),
        "p95": s.quantile(0.95),
        "p99": s.quantile(0.99),
        "max": s.max(),
    }


def _locust_figures(stats: pd.DataFrame, failures: pd.DataFrame) -> list[tuple]:
    """Return per-endpoint and HTTP-wide figures from Locust's stats and failures."""
    out = []
    for r in stats.to_dict("records"):
        name, count, fails = r["Name"], float(r["Request Count"]), float(r["Failure Count"])
        out += [
            (name, "requests", count),
            (name, "failures", fails),
            (name, "rps", r["Requests/s"]),
        ]
        out.append((name, "failure_rate", 100 * fails / count if count else float("nan")))
        out += [(name, f"p{q}", r.get(f"{q}%", float("nan"))) for q in (50, 95, 99)]
    # Locust's Aggregated row counts the custom E2E entries too: HTTP figures leave them out.
    http = stats[(stats["Type"] != E2E_TYPE) & (stats["Name"] != AGGREGATED)]
    count = http["Request Count"].sum()
    out += [("", "throughput", http["Requests/s"].sum()), ("", "http_requests", count)]
    # Answers that failed (a cheap 401 from the replica that forgot the session) inflate the
    # raw rate: the successful rate is what the architecture really served.
    ok = http["Requests/s"] * (1 - http["Failure Count"] / http["Request Count"].clip(lower=1))
    out.append(("", "ok_throughput", ok.sum()))
    if count:
        out.append(("", "failure_rate", 100 * http["Failure Count"].sum() / count))
    authed = http.loc[http["Name"] != LOGIN, "Request Count"].sum()
    auth = 0
    if not failures.empty:
        is_auth = failures["Error"].map(failure_message).str.startswith("auth:")
        auth = failures.loc[is_auth, "Occurrences"].sum()
    if authed:
        out.append(("", "auth_failure_rate", 100 * auth / authed))
    download = stats[stats["Name"] == DOWNLOAD]
    tried = download["Request Count"].sum()
    if tried:
        out.append(
            ("", "download_success", 100 * (tried - download["Failure Count"].sum()) / tried)
        )
    return out


def _exact_latencies(figures: list[tuple], exact: dict) -> list[tuple]:
    """Replace Locust's rounded percentiles by latency.json's exact ones where a name has them."""
    names = {n for n, e in exact.items() if isinstance(e, dict) and e.get("count")}
    kept = [f for f in figures if not (f[0] in names and f[1] in ("p50", "p95", "p99"))]
    exact_figures = [(n, m, exact[n][m]) for n in sorted(names) for m in EXACT_METRICS]
    return kept + [f for f in exact_figures if f[2] is not None]


def _mail_figures(lags: pd.DataFrame, accepted_reviews: float) -> list[tuple]:
    """Return queue lag percentiles of review and report mails, and review mail delivery."""
    out = []
    for kind in ("review", "report"):
        values = lags.loc[lags["kind"] == kind, "lag_ms"].tolist()
        out.append(("", f"{kind}_lag_n", len(values)))
        if values:
            out += [("", f"{kind}_lag_{k}", v) for k, v in _percentiles(values).items()]
    if accepted_reviews:
        # Capped: a review committed just before Locust stopped has its mail but no counted 201.
        delivered = (lags["kind"] == "review").sum() / accepted_reviews
        out.append(("", "review_mail_success", min(100.0, 100 * delivered)))
    return out


def _cpu_figures(cpu: dict) -> list[tuple]:
    """Return the cores used by each process group, and their total."""
    window, out = cpu.get("window_seconds"), []
    for group, g in (cpu.get("groups") or {}).items():
        cores = g.get("cores")
        if cores is None and window:
            cores = g.get("cpu_seconds", 0) / window
        if cores is not None:
            out.append(("", f"cpu_{group}", cores))
    if out:
        out.append(("", "cpu_total", sum(v for _, _, v in out)))
    for group, g in (cpu.get("groups") or {}).items():  # budgets: box cores, % throttled
        if g.get("budget_cores"):
            out.append(("", f"budget_{group}", g["budget_cores"]))
            if g.get("nr_periods"):
                out.append(("", f"throttled_{group}", 100 * g["nr_throttled"] / g["nr_periods"]))
    return out


def _probe_figures(probe: dict) -> list[tuple]:
    """Return each endpoint's latency alone (one request at a time, before the load)."""
    out = []
    for name, p in (probe or {}).items():
        if p.get("ms"):
            out += [(name, f"alone_{k}", v) for k, v in _percentiles(p["ms"]).items()]
    return out


def repeat_figures(folder: Path, lags: pd.DataFrame | None = None) -> list[tuple[str, str, float]]:
    """Return (endpoint, metric, value) for one repeat folder; endpoint "" is stage-level."""
    stats = _read_csv(folder / "locust_stats.csv")
    review = stats[stats["Name"] == POST_REVIEW] if not stats.empty else stats
    accepted = (review["Request Count"] - review["Failure Count"]).sum() if len(review) else 0
    counters = _read_json(folder / "counters.json", {}) or {}
    locust = _locust_figures(stats, _read_csv(folder / "locust_failures.csv")) if len(stats) else []
    return (
        _exact_latencies(locust, _read_json(folder / "latency.json", {}))
        + _mail_figures(mail_lags(folder) if lags is None else lags, accepted)
        + _cpu_figures(_read_json(folder / "cpu.json", {}))
        + _probe_figures(_read_json(folder / "probe.json", {}))
        + ladder_figures(folder)  # capacity at SLO of the open-loop ladder
        + [("", f"counter_{k}", v) for k, v in counters.items() if isinstance(v, int | float)]
    )


def repeat_history(folder: Path) -> pd.DataFrame:
    """Return the time series of one repeat: t (s from start), name, type, rps, p50, p95."""
    h = _read_csv(folder / "locust_stats_history.csv")
    if h.empty:
        return pd.DataFrame(columns=["t", "name", "type", "rps", "p50", "p95"])
    # Locust's rolling rps needs a few seconds of data: the rows before it reports any are
    # Locust starting up, not the system under test.
    busy = h.loc[(h["Name"] == AGGREGATED) & (h["Requests/s"] > 0), "Timestamp"]
    h = h[h["Timestamp"] >= busy.min()] if len(busy) else h.iloc[0:0]
    return pd.DataFrame(
        {
            "t": h["Timestamp"] - h["Timestamp"].min(),
            "name": h["Name"],
            "type": h["Type"],
            "rps": h["Requests/s"],
            "p50": h["50%"],
            "p95": h["95%"],
        }
    )


def _repeat_dirs(folder: Path) -> list[tuple[int, Path]]:
    found = [(int(p.name[1:]), p) for p in folder.glob("r*") if re.fullmatch(r"r\d+", p.name)]
    return sorted(found)


def stage_sort_key(stage: str) -> tuple[int, str]:
    """Sort stages in the course's order; unknown ones after, by name."""
    norm = stage.replace("_", "-")
    return (STAGE_ORDER.index(norm) if norm in STAGE_ORDER else len(STAGE_ORDER), stage)


def load_tree(base: Path, label: str = "stage"):
    """Load every <label>/r<k>/ under base into (figures, history, mails, problems).

    figures, history and mails are long tables; problems lists (group, text) for repeats that
    were not measured or whose verification failed.
    """
    figures, history, mails, problems = [], [], [], []
    groups = [p for p in base.iterdir() if p.is_dir() and _repeat_dirs(p)] if base.exists() else []
    for group in groups:
        for k, folder in _repeat_dirs(group):
            for check in _read_json(folder / "verify.json", []):
                if not check.get("ok", True):
                    problems.append(
                        (
                            group.name,
                            later(
                                "r{k} verification failed: {check}", k=k, check=check.get("check")
                            ),
                        )
                    )
            # The bench leaves a folder without Locust output when a stage failed to start.
            if not (folder / "locust_stats.csv").exists():
                problems.append((group.name, later("r{k} was not measured", k=k)))
                continue
            lags = mail_lags(folder)
            for endpoint, metric, value in repeat_figures(folder, lags):
                figures.append((group.name, k, endpoint, metric, float(value)))
            tag = {label: group.name, "repeat": k}
            history.append(repeat_history(folder).assign(**tag))
            mails.append(lags.assign(**tag))
    figs = pd.DataFrame(figures, columns=[label, "repeat", "endpoint", "metric", "value"])
    hist = pd.concat(history, ignore_index=True) if history else pd.DataFrame()
    mails = pd.concat(mails, ignore_index=True) if mails else pd.DataFrame()
    return figs, hist, mails, problems


def summarise(figures: pd.DataFrame, label: str = "stage") -> pd.DataFrame:
    """Return median, min, max and n across repeats of every figure."""
    f = figures.dropna(subset=["value"])
    g = f.groupby([label, "endpoint", "metric"])["value"]
    out = g.agg(median="median", lo="min", hi="max", n="count").reset_index()
    out["unit"] = out["metric"].map(unit_of)
    stats = [_stat(r) for r in out.to_dict("records")]
    out["spread"] = [s.spread for s in stats]
    out["wide"] = [s.wide for s in stats]
    return out


def _stat(row: dict) -> Stat:
    return Stat(
        float(row["median"]), float(row["lo"]), float(row["hi"]), int(row["n"]), row["unit"]
    )


@dataclass
class Run:
    """One run folder, loaded: its metadata, figures per repeat and their summary."""

    path: Path
    meta: dict
    figures: pd.DataFrame
    history: pd.DataFrame  # Locust's time series: stage, repeat, t, name, type, rps, p50, p95
    mails: pd.DataFrame  # one row per mail: stage, repeat, kind, t, lag_ms
    summary: pd.DataFrame
    scaling: pd.DataFrame | None = None  # summary with a "replicas" column, if scaling/ exists
    problems: list[tuple[str, str]] = field(default_factory=list)  # (stage, what went wrong)
    # Each scaling curve's figures per repeat, by folder (SCALING, and UNBUDGETED if measured).
    curves: dict[str, pd.DataFrame] = field(default_factory=dict)
    _index: tuple | None = field(default=None, repr=False, compare=False)

    @property
    def run_id(self) -> str:
        return self.meta.get("run_id") or self.path.name

    @property
    def stages(self) -> list[str]:
        """Return the stages measured in this run, in the course's order."""
        return sorted(self.figures["stage"].unique(), key=stage_sort_key)

    @property
    def cpu_count(self) -> int | None:
        return self.meta.get("cpu_count")

    def stat(self, stage: str, metric: str, endpoint: str = "") -> Stat | None:
        """Return a figure of a stage across repeats, or None when it was not measured."""
        # Indexed once per summary table: the page asks ~1,000 times, and a pandas filter each
        # time cost seconds per report.
        key = id(self.summary), len(self.summary)
        if self._index is None or self._index[0] != key:
            s = self.summary
            keys = zip(s["stage"], s["metric"], s["endpoint"], strict=True)
            # Reversed: the first row of a (stage, metric, endpoint) wins, as a filter's iloc[0].
            self._index = (key, dict(reversed(list(zip(keys, s.to_dict("records"), strict=True)))))
        row = self._index[1].get((stage, metric, endpoint))
        return _stat(row) if row is not None else None

    def values(self, stage: str, metric: str, endpoint: str = "") -> list[float]:
        """Return a figure's value in each repeat of a stage."""
        f = self.figures
        sel = (f["stage"] == stage) & (f["metric"] == metric) & (f["endpoint"] == endpoint)
        return f.loc[sel, "value"].dropna().tolist()

    def endpoints(self) -> list[str]:
        """Return the request names measured in any stage, in the scenario's order."""
        names = set(self.summary["endpoint"]) - {"", AGGREGATED}
        known = [n for n in ENDPOINT_ORDER if n in names]
        return known + sorted(names - set(known))


def load_run(path: str | Path) -> Run:
    """Load a run folder."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"no run folder at {path}")
    meta = _read_json(path / "meta.json", {})
    figures, history, mails, problems = load_tree(path)
    if figures.empty:
        raise ValueError(f"{path} holds no measured <stage>/r<k>/ folders: is it a run folder?")
    curves = {}
    for name in (SCALING, UNBUDGETED):
        sfig, _, _, sproblems = load_tree(path / name, "replicas")
        problems += [(later("scaling {n} replicas", n=n) if name == SCALING else
                      later("scaling without budgets {n} replicas", n=n), text)
                     for n, text in sproblems]  # fmt: skip
        if not sfig.empty:
            curves[name] = sfig.astype({"replicas": int})
    if SCALING in curves:
        curves[SCALING] = with_stage_point(path, meta, figures, curves[SCALING])
    scaling = summarise(curves[SCALING], "replicas") if SCALING in curves else None
    return Run(path, meta, figures, history, mails, summarise(figures), scaling, problems, curves)


def newest_run(results_dir: str | Path = RESULTS_DIR) -> Path:
    """Return the newest finished run folder (run ids sort by time), else the newest one."""
    base = Path(results_dir)
    runs = sorted(p.parent for p in base.glob("*/meta.json")) if base.is_dir() else []
    if not runs:
        raise FileNotFoundError(f"no run in {base}: measure one with `nox -s bench`")
    # A run still being measured has no finished_at yet: its report would be partial.
    finished = [p for p in runs if _read_json(p / "meta.json", {}).get("finished_at")]
    return (finished or runs)[-1]


def key_endpoint(stage: str) -> str | None:
    """Return the endpoint a stage is about, or None."""
    focus = FOCUS.get(stage.replace("_", "-"))
    return focus.key if focus else None


def headline(run: Run) -> pd.DataFrame:
    """Return the headline table: one row per stage (every course stage), a Stat or None a cell."""
    stages = list(STAGE_ORDER) + [s for s in run.stages if s not in STAGE_ORDER]
    rows = []
    for stage in stages:
        key = key_endpoint(stage)
        row = {"stage": stage, "key_endpoint": key}
        for col in HEADLINE_COLUMNS:
            endpoint = key if col.endpoint is KEY else col.endpoint
            row[col.name] = run.stat(stage, col.metric, endpoint) if endpoint is not None else None
        rows.append(row)
    return pd.DataFrame(rows, dtype=object).set_index("stage")  # object: keep None, not NaN


def timeseries(run: Run, value: str, name: str | None = None) -> pd.DataFrame:
    """Return (stage, t, value) over time, the median across repeats at each second.

    `name` picks a request name; None sums the HTTP requests' rps (or uses Aggregated for latency).
    """
    h = run.history
    if h.empty:
        return pd.DataFrame(columns=["stage", "t", value])
    if name is not None:
        part = h[h["name"] == name]
    elif value == "rps":
        # Throughput over time, HTTP only (Aggregated would count the E2E entries too).
        http = h[(h["type"] != E2E_TYPE) & (h["name"] != AGGREGATED)]
        part = http.groupby(["stage", "repeat", "t"], as_index=False)["rps"].sum()
        if part.empty:  # history written without --csv-full-history
            part = h[h["name"] == AGGREGATED]
    else:
        part = h[h["name"] == AGGREGATED]
    out = part.groupby(["stage", "t"], as_index=False)[value].median()
    return out.dropna(subset=[value])
