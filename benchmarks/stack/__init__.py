"""Bring a stage up and down as real local processes: its topology, its data, its servers."""

from benchmarks.stack.runner import (  # noqa: F401 - the room's front: what callers import
    HOST,
    LAB_DIR,
    ROOT,
    Options,
    Stack,
    StackError,
    binary,
    free_port,
    valkey_binary,
)
