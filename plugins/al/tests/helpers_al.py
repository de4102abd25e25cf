"""Helpers for the rose-plugin-al tests (not a test module)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def read_calls(directory: str | Path) -> list[tuple[str, list[str]]]:
    """``(task, argv)`` of every recorded call in a learner's directory, in order."""
    path = Path(directory) / "calls.jsonl"
    if not path.exists():
        return []
    return [(c["task"], c["argv"]) for c in map(json.loads, path.read_text().splitlines())]


def read_cwds(directory: str | Path) -> set[str]:
    """Every working directory the recorded calls ran in."""
    path = Path(directory) / "calls.jsonl"
    return {json.loads(line)["cwd"] for line in path.read_text().splitlines()}


def expected_al_calls(
    sim_args: Callable[[int], list[str]],
    last_iteration: int,
    train_args: Callable[[int], list[str]] = lambda k: ["--learning_rate", "0.1"],
    criterion: str = "check_mse",
) -> list[tuple[str, list[str]]]:
    """What a sequential AL loop runs: pre-loop sim/train, then AL + criterion (+ next sim/train)."""
    calls: list[tuple[str, list[str]]] = [("sim", sim_args(0)), ("train", train_args(0))]
    for i in range(last_iteration + 1):
        calls += [("active", []), (criterion, [])]
        if i < last_iteration:
            calls += [("sim", sim_args(i + 1)), ("train", train_args(i + 1))]
    return calls


def journal(directory: str | Path) -> list[dict[str, Any]]:
    """The records of a run directory's journal."""
    from rose.journal import read_journal

    return list(read_journal(str(directory)))
