"""The scenario's mix drawn as a shuffled deck: every run of `size` draws holds each task exactly
its weight times, in random order.

Why not Locust's weighted random choice: the top-10 is 1 task in 71 but, computed live, costs as
much CPU as ~200 others (0.4 s against ~2 ms). Drawn independently, a 30 s window of ~600 tasks
got 16 top-10s in one run and 24 in the next: a Poisson count whose +-25 % became the throughput's
spread. A deck shared by all users of a Locust process keeps the count within one per partial
deck of its share, so runs differ by what the stage does, not by the dice. Plain Python:
imported by the locustfiles.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping


class Deck:
    """Tasks by weight; `draw()` deals them from a shuffled deck, a new one when it runs out."""

    def __init__(self, weights: Mapping[Callable, int], rng: random.Random | None = None):
        bad = {getattr(t, "__name__", t): w for t, w in weights.items() if w < 1}
        if not weights or bad:
            raise ValueError(f"a deck needs tasks with whole weights >= 1, got {bad or 'none'}")
        self.cards = [task for task, weight in weights.items() for _ in range(int(weight))]
        self.rng = rng or random.Random()
        self._left: list[Callable] = []

    @property
    def size(self) -> int:
        return len(self.cards)

    def draw(self) -> Callable:
        if not self._left:
            self._left = list(self.cards)
            self.rng.shuffle(self._left)
        return self._left.pop()
