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
    with socket.socket() as taken:
        taken.bind((host.HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        picks = iter([port, port, port + 1 if port + 1 < 65536 else port - 1])
        monkeypatch.setattr(host._random, "randrange", lambda *a: next(picks))
        assert host.free_port() != port
