"""The cache-corrupt scenario (benchmarks/faults/services.py) on a real external-storage stage:
2 replicas behind Caddy, valkey with a password, a worker building reports through the cache
into object storage (so any replica serves the file).
Its figure is in the README's Reliability table."""

from __future__ import annotations

import pytest
from test_faults import start

from benchmarks import faults

pytestmark = pytest.mark.slow


@pytest.mark.processes
def test_corrupt_cache_entries_under_load_give_no_5xx_and_no_wrong_answer(tmp_path):
    stack = start("external-storage", tmp_path / "stack")
    try:
        figure = faults.cache_corrupt(stack)
    finally:
        stack.stop()
    v = figure.values
    assert v["gets"] > 50 and v["corrupt_entries_written"] > 20, "no load or no corruption"
    assert v["5xx"] == 0 and v["non_200"] == 0, figure.summary
    assert v["wrong_answers"] == 0 and v["forged_served"] == 0, figure.summary
    assert v["reports_failed"] == 0 and v["reports_wrong"] == 0, figure.summary
    assert v["entries_rejected"] > 0  # counted, as the report's counters table shows
    assert figure.met
