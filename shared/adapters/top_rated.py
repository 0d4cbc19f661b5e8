"""Top-rated queries: computed on every call (legacy), or kept in a Redis-protocol cache."""

from __future__ import annotations

from shared import services


class LiveTopRated:
    """Run the aggregate over every review on each call."""

    def top(self, limit: int) -> list[dict]:
        return services.highest_rated(limit)
