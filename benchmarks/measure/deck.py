"""The scenario's mix dealt as a deck: every run of `size` draws holds each task exactly its weight
times, each task's cards spaced evenly through the deck.

Why not Locust's weighted random choice: the top-10 is 1 task in 71 but, computed live, costs as
much CPU as ~200 others (0.4 s against ~2 ms): three quarters of a stage's work. Drawn
independently, a 30 s window of ~600 tasks got 16 top-10s in one run and 24 in the next: a
Poisson count whose +-25 % became the throughput's spread. A shuffled deck fixed the count per
deck but not where in it the top-10 fell: two in a row, then none for 140 tasks, and a 3 s slice
served 22 req/s while the next served 64 (async-mail, one window), so the bootstrap over slices
read the dice as the stage's uncertainty. Dealt evenly, the top-10 comes every 71st task, the
other tasks between in a fixed interleave: every stretch of the run holds the mix, and runs and
stages differ by what the stage does, not by the order of the cards. Each task's place in the
deck starts at a phase drawn once (the same for a seeded rng). Plain Python: imported by the
locustfiles.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping


class Deck:
    """Tasks by weight; `draw()` deals them in a fixed, evenly spread order, deck after deck."""

    def __init__(self, weights: Mapping[Callable, int], rng: random.Random | None = None):
        bad = {getattr(t, "__name__", t): w for t, w in weights.items() if w < 1}
        if not weights or bad:
            raise ValueError(f"a deck needs tasks with whole weights >= 1, got {bad or 'none'}")
        rng = rng or random.Random()
        # The i-th of a task's w cards sits (i + phase) / w of the way through the deck.
        phase = {task: rng.random() for task in weights}
        places = [
            ((i + phase[task]) / int(w), n, task)
            for n, (task, w) in enumerate(weights.items())
            for i in range(int(w))
        ]
        self.cards = [task for _, _, task in sorted(places, key=lambda p: p[:2])]
        self._next = 0

    @property
    def size(self) -> int:
        return len(self.cards)

    def draw(self) -> Callable:
        task = self.cards[self._next]
        self._next = (self._next + 1) % len(self.cards)
        return task
