"""The scenario's mix dealt from shuffled decks (benchmarks/measure/deck.py)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from benchmarks.measure.deck import Deck


def light():
    pass


def heavy():
    pass


def test_every_deck_holds_each_task_exactly_its_weight():
    deck = Deck({light: 70, heavy: 1}, random.Random(7))
    for _ in range(20):
        dealt = Counter(deck.draw() for _ in range(deck.size))
        assert dealt == {light: 70, heavy: 1}


def test_the_order_is_shuffled_not_fixed():
    deck = Deck({light: 70, heavy: 1}, random.Random(1))
    where = {[deck.draw() for _ in range(71)].index(heavy) for _ in range(30)}
    assert len(where) > 10  # the heavy task lands at many places in its deck


def test_any_run_of_draws_has_the_heavy_count_near_its_share():
    # What the deck is for: 30 s of ~600 tasks; independent draws would spread +-25 %.
    deck = Deck({light: 70, heavy: 1}, random.Random(3))
    dealt = [deck.draw() for _ in range(71 * 50)]
    counts = {dealt[s : s + 600].count(heavy) for s in range(0, len(dealt) - 600, 7)}
    # 600 draws hold 7 or 8 whole decks plus at most two partial ones: 7..10, never the 3..15
    # of independent draws (binomial, n=600, p=1/71, 99.9 % range).
    assert counts <= {7, 8, 9, 10}


@pytest.mark.parametrize("weights", [{}, {light: 0}, {light: 3, heavy: -1}])
def test_a_deck_without_whole_positive_weights_is_refused(weights):
    with pytest.raises(ValueError, match="weights >= 1"):
        Deck(weights)
