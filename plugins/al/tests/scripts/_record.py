"""Shared by the test task scripts: record how a script was called, read --options."""

import json
import os
import sys
import time


def record(task: str) -> None:
    """Append this call (task, argv, cwd) to calls.jsonl in the working directory."""
    with open("calls.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"task": task, "argv": sys.argv[1:], "cwd": os.getcwd()}) + "\n")
    pause = option("--sleep")
    if pause:
        time.sleep(float(pause))


def option(name: str, default: str | None = None) -> str | None:
    """The value after ``name`` on the command line."""
    argv = sys.argv[1:]
    if name in argv:
        return argv[argv.index(name) + 1]
    return default


def calls_so_far(task: str) -> int:
    """How many times ``task`` was called in this working directory (including this call)."""
    if not os.path.exists("calls.jsonl"):
        return 0
    with open("calls.jsonl", encoding="utf-8") as handle:
        return sum(json.loads(line)["task"] == task for line in handle if line.strip())
