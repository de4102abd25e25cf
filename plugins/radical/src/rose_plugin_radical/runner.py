"""Runs one ROSE function task as a RADICAL-Pilot executable task (no Raptor needed).

``python -m rose_plugin_radical.runner PAYLOAD RESULT SCRIPT_DIR`` - the backend wrote
``PAYLOAD`` (``cloudpickle.dumps((function, args, kwargs))``) into the campaign's
RADICAL folder, on the file system the pilot shares with the client. The runner puts
``SCRIPT_DIR`` (the campaign script's directory) on ``sys.path``, runs the function (a
coroutine function gets its own event loop) and writes ``("ok", value)`` or
``("error", exception, traceback text)`` to ``RESULT``, which the backend reads back when
RP reports the task done. A module that cannot be imported here is an error naming the
module and the fix. Only the standard library (and whatever the payload itself needs).
"""

from __future__ import annotations

import asyncio
import inspect
import os
import pickle
import socket
import sys
import traceback
from typing import Any

__all__ = ["main", "run"]


def run(payload_path: str, script_dir: str) -> Any:
    """Load the payload and run it; return the function's value."""
    if script_dir and os.path.isdir(script_dir) and script_dir not in sys.path:
        sys.path.insert(0, script_dir)
    with open(payload_path, "rb") as handle:
        data = handle.read()
    try:
        name, function, args, kwargs = pickle.loads(data)
    except ModuleNotFoundError as exc:
        seen = "can see" if script_dir and os.path.isdir(script_dir) else "cannot see"
        raise ModuleNotFoundError(
            f"a function task needs the module {exc.name!r}, which cannot be imported on {socket.gethostname()} "
            f"where RADICAL-Pilot runs it (No module named {exc.name!r}). The campaign script's directory "
            f"{script_dir!r} is put on sys.path, and this node {seen} it. Fix: keep the campaign script and its "
            f"modules on a file system the compute nodes share, or install {exc.name!r} in the pilot's Python "
            "environment",
            name=exc.name,
        ) from None
    try:
        result = function(*args, **kwargs)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
    except BaseException as exc:
        add_note = getattr(exc, "add_note", None)  # Python >= 3.11
        if add_note is not None:
            add_note(f"in function task {name!r} on {socket.gethostname()} (RADICAL-Pilot)")
        raise
    return result


def _write(path: str, record: tuple[Any, ...]) -> None:
    temporary = f"{path}.partial"
    with open(temporary, "wb") as handle:
        pickle.dump(record, handle)
    os.replace(temporary, path)


def main(argv: list[str]) -> int:
    """Entry point: ``runner PAYLOAD RESULT SCRIPT_DIR``; exit 0 once RESULT is written."""
    payload_path, result_path = argv[1], argv[2]
    script_dir = argv[3] if len(argv) > 3 else ""
    try:
        value = run(payload_path, script_dir)
    except BaseException as exc:  # noqa: BLE001 - the task's own failure: carried back, not a crash
        text = traceback.format_exc()
        try:
            _write(result_path, ("error", exc, text))
        except Exception:  # noqa: BLE001 - the exception cannot be pickled: keep its type name and text
            _write(result_path, ("error", RuntimeError(f"{type(exc).__name__}: {exc}"), text))
        sys.stderr.write(text)
        return 0
    try:
        _write(result_path, ("ok", value))
    except Exception as exc:  # noqa: BLE001 - reported to the client as the task's failure
        error = TypeError(f"the function task's return value ({type(value).__name__}) cannot be sent back: {exc}")
        _write(result_path, ("error", error, traceback.format_exc()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
