"""A process as its shape: what it does, with its placement masked; the two ways to run compared.

The embedded runner and a compose file must start the same processes (the same commands,
copies, stop signals, grace periods and CPU budgets); `differences` names any that do not.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from benchmarks.stack.processes import PLACEMENT_FLAGS, ProcessSpec

# --- comparing the two ways to run -----------------------------------------------------------


def command_shape(argv) -> tuple[str, ...]:
    """A command with its placement masked: the program's name (any Python is "python"), and
    "<where>" for addresses, ports and paths. What is left is what the process *does*."""
    argv = list(argv)
    program = os.path.basename(argv[0])
    shape = ["python" if program.startswith("python") else program]
    mask_next = False
    for arg in argv[1:]:
        if mask_next:
            shape.append("<where>")
            mask_next = False
        elif arg in PLACEMENT_FLAGS:
            shape.append(arg)
            mask_next = True
        elif arg.startswith("/"):
            shape.append("<where>")  # a path (rclone's data folder)
        else:
            shape.append(arg)
    return tuple(shape)


@dataclass(frozen=True)
class Shape:
    """What must agree between the embedded runner and a compose file, for one process group."""

    group: str
    replicas: int
    command: tuple[str, ...]
    env_keys: frozenset[str]
    stop_signal: str
    stop_grace_s: int
    cpus: float | None = None


def shapes(specs: list[ProcessSpec]) -> dict[str, Shape]:
    """Fold specs by group (embedded app-1..app-N become one group of N replicas)."""
    out: dict[str, Shape] = {}
    for s in specs:
        before = out.get(s.group)
        out[s.group] = Shape(
            s.group,
            (before.replicas if before else 0) + s.replicas,
            command_shape(s.argv),
            frozenset(s.env),
            s.stop_signal,
            s.stop_grace_s,
            s.cpus,
        )
    return out


def differences(embedded: dict[str, Shape], compose: dict[str, Shape]) -> list[str]:
    """Say every way two folded process lists disagree (empty: they agree)."""
    problems = []
    for group in sorted(set(embedded) | set(compose)):
        a, b = embedded.get(group), compose.get(group)
        if a is None or b is None:
            problems.append(
                f"process group {group!r} runs only {'in compose' if a is None else 'embedded'}"
            )
            continue
        for attr in ("replicas", "command", "stop_signal", "stop_grace_s", "cpus"):
            if getattr(a, attr) != getattr(b, attr):
                problems.append(
                    f"{group}: {attr} differs: embedded {getattr(a, attr)!r}, "
                    f"compose {getattr(b, attr)!r}"
                )
        if a.env_keys != b.env_keys:
            problems.append(
                f"{group}: environment keys differ: only embedded "
                f"{sorted(a.env_keys - b.env_keys)}, only compose "
                f"{sorted(b.env_keys - a.env_keys)}"
            )
    return problems
