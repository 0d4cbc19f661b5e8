"""CLI: python -m mailsim [--host H] [--smtp-port P] [--http-port P] [--delay-ms MS] [--reject]."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from mailsim.server import MailSimulator


def number(text: str) -> float:
    """Parse --delay-ms, keeping whole numbers as int so the JSON config shows 100, not 100.0."""
    value = float(text)
    return int(value) if value.is_integer() else value


def main(argv: list[str] | None = None) -> int:
    """Run the simulator until SIGINT/SIGTERM; returns the process exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m mailsim", description="Mail provider simulator (SMTP sink + HTTP inbox)."
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--smtp-port", type=int, default=1025, help="SMTP port (default 1025)")
    parser.add_argument("--http-port", type=int, default=8025, help="HTTP port (default 8025)")
    parser.add_argument(
        "--delay-ms",
        type=number,
        default=100,
        help="latency before each 250 OK (default 100)",
    )
    parser.add_argument("--reject", action="store_true", help="start in reject (451) mode")
    args = parser.parse_args(argv)

    try:
        sim = MailSimulator(args.host, args.smtp_port, args.http_port, args.delay_ms, args.reject)
    except ValueError as exc:
        parser.error(str(exc))

    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())

    try:
        sim.start()
    except OSError as exc:  # port in use, bad address, ...: one line, no traceback
        print(f"mailsim: cannot start: {exc}", file=sys.stderr, flush=True)
        return 2

    mode = ", REJECTING all mail" if sim.reject else ""
    print(
        f"mailsim: SMTP on {sim.host}:{sim.smtp_port}, inbox {sim.http_url}/ "
        f"(delay {sim.delay_ms:g} ms{mode})",
        flush=True,
    )
    try:
        # Timed waits keep the main thread responsive to signals on every platform.
        while not stopping.wait(1.0):
            pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
