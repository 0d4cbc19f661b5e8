"""The SLO floor: one rule, read by the bench (measure/) and by the analysis (results/).

A request whose fastest answer alone (the probe: one at a time, before any load) took the SLO or
longer cannot be faster under load (the monotonic assumption); when it is over 1 % of the
arrivals (the deck deals the mix exactly), over 1 % of every ladder step's answers take the SLO
or longer: the p99 is over it at any offered rate. The top-10 computed live in a quarter-core box
(1-2.5 s alone, 1 arrival in 71) does this to every stage before the cache.
"""

from __future__ import annotations

SLO_MS, MAX_FAILURES_PCT = 500.0, 1.0


def floor(shares: dict[str, float], probe: dict, slo_ms: float = SLO_MS):
    """Return (request, its fastest answer alone in ms, its share of the arrivals) when that
    request puts the p99 over the SLO at every offered rate, else None.

    `shares`: each first request's share of the arrivals (measure/mix.py, stage.json's
    ladder.mix); `probe`: probe.json's {request name: {"ms": [...]}}."""
    for name, share in shares.items():
        alone = (probe.get(name) or {}).get("ms") or []
        if 100 * share > MAX_FAILURES_PCT and alone and min(alone) >= slo_ms:
            return name, min(alone), share
    return None
