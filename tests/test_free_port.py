"""The stack's free ports (benchmarks/stack/host.py) come from below the kernel's ephemeral range,
where no client socket can take them between the choice and the server's bind."""

from __future__ import annotations

import socket

from benchmarks.stack import host


def test_free_ports_are_below_the_ephemeral_range_and_bindable():
    low = host._ephemeral_low()
    ports = {host.free_port() for _ in range(50)}
    assert all(1024 <= p < low for p in ports), sorted(ports)
    assert len(ports) > 40  # drawn at random: two stacks starting at once do not collide
    with socket.socket() as s:
        s.bind((host.HOST, ports.pop()))


def test_a_taken_port_is_never_handed_out(monkeypatch):
    draw = host._random.randrange
    tried: list[int] = []

    def pick(*a):
        # The taken port twice, then real draws: any fixed "next" port could itself be taken by
        # a parallel test's client socket (seen in CI: port + 1 was).
        tried.append(port if len(tried) < 2 else draw(*a))
        return tried[-1]

    with socket.socket() as taken:
        taken.bind((host.HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setattr(host._random, "randrange", pick)
        got = host.free_port()
    assert tried[:2] == [port, port]
    assert got != port
