"""Runs on the Dask workers: commands as process groups that can be killed by task id.

Imported by the workers (so ``rose-plugin-dask`` must be installed in the workers'
environment, as with any function a Dask client sends). Only the standard library.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from typing import Any

__all__ = ["kill_command", "run_command"]

_running: dict[str, subprocess.Popen[bytes]] = {}
_cancelled: dict[str, None] = {}  # cancelled before they started (bounded, oldest dropped)
_CANCELLED_KEPT = 4096
_lock = threading.Lock()


def run_command(
    argv: list[str],
    uid: str,
    cwd: str | None = None,
    env: dict[str, str] | None = None,
    shell: bool = False,
    capture_dir: str | None = None,
) -> tuple[str, str, int]:
    """Run ``argv`` in its own process group; return ``(stdout, stderr, exit code)``.

    ``env`` adds to (not replaces) the worker's environment. With ``capture_dir`` the
    output goes to ``<uid>.stdout`` / ``<uid>.stderr`` there and their paths are returned.
    A command that cannot start returns exit code 127 (not found) or 126.
    """
    full_env = {**os.environ, **env} if env else None
    command: Any = " ".join(argv) if shell else argv
    with contextlib.ExitStack() as stack:
        out: Any = subprocess.PIPE
        err: Any = subprocess.PIPE
        if capture_dir:
            out_path = os.path.join(capture_dir, f"{uid}.stdout")
            err_path = os.path.join(capture_dir, f"{uid}.stderr")
            out = stack.enter_context(open(out_path, "wb"))
            err = stack.enter_context(open(err_path, "wb"))
        with _lock:
            if uid in _cancelled:
                del _cancelled[uid]
                return "", "cancelled before it started", -int(signal.SIGTERM)
            try:
                process = subprocess.Popen(
                    command, shell=shell, cwd=cwd, env=full_env, stdout=out, stderr=err, start_new_session=True
                )
            except FileNotFoundError:
                if cwd is not None and not os.path.isdir(cwd):
                    return "", f"working directory {cwd!r} does not exist on worker {os.uname().nodename}", 126
                return "", f"command not found: {argv[0]!r} (on worker {os.uname().nodename})", 127
            except (PermissionError, NotADirectoryError) as exc:
                return "", f"cannot execute {argv[0]!r}: {exc}", 126
            _running[uid] = process
        try:
            stdout, stderr = process.communicate()
        finally:
            with _lock:
                _running.pop(uid, None)
        if capture_dir:
            return out_path, err_path, process.returncode
        return stdout.decode(errors="replace"), stderr.decode(errors="replace"), process.returncode


def kill_command(uid: str, grace: float = 2.0) -> bool:
    """SIGTERM the process group of task ``uid`` on this worker, SIGKILL after ``grace`` s.

    Returns whether the task was running here. A task not started yet is remembered, so
    it does not start later. Does not block (the SIGKILL comes from a timer thread).
    """
    with _lock:
        process = _running.get(uid)
        if process is None:
            _cancelled[uid] = None
            while len(_cancelled) > _CANCELLED_KEPT:
                del _cancelled[next(iter(_cancelled))]
            return False
    _signal_group(process.pid, signal.SIGTERM)
    timer = threading.Timer(grace, _signal_group, (process.pid, signal.SIGKILL))
    timer.daemon = True
    timer.start()
    return True


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
