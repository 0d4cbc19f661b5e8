"""The scenario's mix: each task's first request and its weight, in one place for the locustfile
(which deals them) and for what a run records of it (stage.json's ladder entry: the share of
each request among the ladder's arrivals, which results/ladders.py reasons with)."""

from __future__ import annotations

LIST = "GET /api/specialists"
ONE = "GET /api/specialists/{id}"
REVIEWS = "GET /api/specialists/{id}/reviews"
CREATE = "POST /api/specialists/{id}/reviews"
TOP = "GET /api/specialists/highest_rated"
REPORT = "POST /api/reports"

# The top-10 is 1 task in 71 (measure/locustfile.py says why); the report flow, where the stage
# has reports, 1 more.
WEIGHTS = {LIST: 20, ONE: 20, REVIEWS: 20, CREATE: 10, TOP: 1}
REPORT_WEIGHT = 1


def weights(features) -> dict[str, int]:
    """Return each task's weight by its first request's name, for a stage's features."""
    return {**WEIGHTS, **({REPORT: REPORT_WEIGHT} if "reports" in set(features) else {})}


def shares(features) -> dict[str, float]:
    """Return each first request's share of the arrivals (the deck deals them exactly)."""
    w = weights(features)
    return {name: round(weight / sum(w.values()), 6) for name, weight in w.items()}
