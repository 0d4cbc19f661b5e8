"""Bring one stage up and keep it running until Ctrl-C: `python -m benchmarks.stack.up legacy`."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Callable

import stages
from benchmarks.stack import Options, Stack, StackError, boxes
from benchmarks.stack.embedded_pg import resolve_db_option
from shared.seed import Scale


def parser(description: str | None = __doc__) -> argparse.ArgumentParser:
    """Return the options of `up` (benchmarks.measure.play adds its own)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("stage", choices=stages.names())
    parser.add_argument("--port", type=int, default=8123, help="API port (default 8123)")
    parser.add_argument("--inbox-port", type=int, default=8025, help="mail inbox port")
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument(
        "--mail-delay-ms", type=int, default=100, help="simulated mail provider latency per message"
    )
    parser.add_argument("--replicas", type=int, help="app replicas (default: the stage's)")
    parser.add_argument("--workers", type=int, help="queue worker threads (default: the stage's)")
    parser.add_argument(
        "--db",
        help="database URL, or `postgres` for an embedded PostgreSQL "
        "(default: embedded SQLite, freshly restored)",
    )
    parser.add_argument("--redis", help="Redis URL (default: embedded valkey when needed)")
    parser.add_argument("--specialists", type=int, default=Scale.specialists)
    parser.add_argument("--reviews-per-specialist", type=int, default=Scale.reviews_per_specialist)
    boxes.add_arguments(parser)
    return parser


def options(args: argparse.Namespace) -> Options:
    """Turn parsed `up` arguments into the stack's Options."""
    return Options(
        port=args.port,
        inbox_port=args.inbox_port,
        smtp_port=args.smtp_port,
        mail_delay_ms=args.mail_delay_ms,
        replicas=args.replicas,
        workers=args.workers,
        database_url=resolve_db_option(args.db),
        redis_url=args.redis,
        scale=Scale(args.specialists, args.reviews_per_specialist),
        replica_cpus=None if args.no_budgets else args.replica_cpus,
    )


def serve(stack: Stack, then: Callable[[Stack], Callable[[], str | None]] | None = None) -> int:
    """Start the stack, print its URLs and wait for Ctrl-C (or SIGTERM, or a death); stop it all.

    `then(stack)`, if given, starts more once the stack is up and returns a check that names
    what died (or None): its part is stopped by the context it set up."""
    # SIGTERM behaves like Ctrl-C: every process the stack started is stopped.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        stack.start()
        t = stack.topology
        print(f"\n{t.stage}: {t.title}")
        login = (
            "   (demo login: email@example.com / 12345678)"
            if stack.options.demo
            else "   (LAB_DEMO=0: no demo user)"
        )
        print(f"  API     {stack.urls['api']}{login}")
        print(f"  inbox   {stack.urls['inbox']}")
        for name, group in stack.describe()["processes"].items():
            print(f"  process {name:<8} ({group}{stack.boxes.where(name)})")
        print(f"  budgets {stack.boxes.summary()}")
        print(f"  logs    {stack.state / 'logs'}")
        extra_dead = then(stack) if then else (lambda: None)
        print("Ctrl-C stops every process.", flush=True)
        while True:
            dead = stack.dead()
            names = [f"{p.name} (exit {p.popen.returncode}, log {p.log})" for p in dead]
            names += [n for n in [extra_dead()] if n]
            if names:
                print(f"stopping: {', '.join(names)} died", file=sys.stderr)
                return 1
            time.sleep(0.5)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nstopping ...", flush=True)
        return 0
    finally:
        stack.stop()


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    boxes.replica_cpus(args, p)  # a budget the kernel cannot enforce ends here, named
    return serve(Stack(args.stage, options(args)))


if __name__ == "__main__":
    sys.exit(main())
