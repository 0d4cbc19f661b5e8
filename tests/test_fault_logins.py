"""Login limits through a real stage (issue 12, items 1-2): token-auth's 2 replicas behind Caddy,
the throttle's counters in valkey. The scenarios are benchmarks/logins.py; their figures
are printed and stored in LAB_FIGURES_FILE when set.
"""

from __future__ import annotations

import pytest

from benchmarks.faults import logins
from benchmarks.stack import Options, Stack, free_port
from shared.seed import Scale

pytestmark = [pytest.mark.slow, pytest.mark.processes]  # a real stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = Stack(
        "token-auth",
        Options(
            port=free_port(),
            inbox_port=free_port(),
            smtp_port=free_port(),
            mail_delay_ms=20,
            scale=Scale(20, 20),
            quiet=True,
            state_dir=tmp_path_factory.mktemp("fault-logins"),
            env=dict(logins.LOGIN_ENV),
        ),
    ).start()
    yield stack
    stack.stop()


def test_concurrent_wrong_passwords_for_one_account_verify_at_most_the_limit(stack):
    figure = logins.login_concurrent(stack, guesses=20)
    v = figure.values
    assert v["verified_401"] <= 5, figure.summary
    assert v["verified_401"] + v["refused_429"] + v["busy_503"] == 20, figure.summary
    assert v["refused_429"] >= 15 - v["busy_503"], figure.summary
    assert v["replicas"] == ["app-1", "app-2"]
    assert figure.met


def test_a_spray_of_unknown_emails_is_refused_at_once_past_the_limits(stack):
    figure = logins.login_spray(stack, clients=8, per_client=12)
    v = figure.values
    # Per address: at most its limit (20) hashes per window (30 s here).
    assert v["verified_401"] <= 20 * v["windows"], figure.summary
    assert v["refused_429"] + v["busy_503"] >= 96 - 20 * v["windows"], figure.summary
    assert v["missing_retry_after"] == 0
    assert v["refusal_ms_median"] < v["verify_ms_median"], "refusals waited for a hash"
    assert figure.met
