"""The scenario's mix dealt evenly from decks (benchmarks/measure/deck.py)."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest

from benchmarks.measure.deck import Deck


def light():
    pass


def heavy():
    pass


def medium():
    pass


def test_every_deck_holds_each_task_exactly_its_weight():
    deck = Deck({light: 70, heavy: 1}, random.Random(7))
    for _ in range(20):
        dealt = Counter(deck.draw() for _ in range(deck.size))
        assert dealt == {light: 70, heavy: 1}


def test_the_heavy_task_comes_every_deck_at_an_even_spacing():
    deck = Deck({light: 70, heavy: 1}, random.Random(1))
    dealt = [deck.draw() for _ in range(71 * 20)]
    where = [i for i, task in enumerate(dealt) if task is heavy]
    assert len(where) == 20 and set(np.diff(where)) == {71}  # never two close, never a long gap


def test_every_task_is_spread_by_its_weight_at_a_phase_of_its_own():
    starts = set()
    for seed in range(20):
        deck = Deck({light: 60, heavy: 1, medium: 10}, random.Random(seed))
        where = [i for i, task in enumerate(deck.cards) if task is medium]
        assert set(np.diff(where)) <= {6, 7, 8}  # 10 cards in 71: one every ~7
        starts.add(deck.cards.index(heavy))
    assert len(starts) > 10  # the phase is drawn: the heavy task's place differs by seed


def test_any_run_of_draws_has_the_heavy_count_at_its_share():
    # What the deck is for: 30 s of ~600 tasks; independent draws would spread +-25 %, and a
    # shuffled deck (a whole deck fixed, the heavy card anywhere in it) 7..10.
    deck = Deck({light: 70, heavy: 1}, random.Random(3))
    dealt = [deck.draw() for _ in range(71 * 50)]
    counts = {dealt[s : s + 600].count(heavy) for s in range(0, len(dealt) - 600, 7)}
    assert counts <= {8, 9}  # 600 / 71 = 8.45


@pytest.mark.parametrize("weights", [{}, {light: 0}, {light: 3, heavy: -1}])
def test_a_deck_without_whole_positive_weights_is_refused(weights):
    with pytest.raises(ValueError, match="weights >= 1"):
        Deck(weights)
