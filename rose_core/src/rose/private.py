"""Campaign directories are private by default: directories 0700, files 0600.

A campaign directory holds task results, failed tasks' stderr and journals that users may
consider private, so ROSE creates the directories it makes with mode 0700 and the files it
writes with mode 0600, whatever the umask. ``ROSE_RUNS_MODE=shared`` (:data:`MODE_ENV`) goes
back to the umask's modes (0755/0644 under the usual 022), for a group that reads each
other's runs. Files the tasks themselves write follow the task's own umask (the campaign's,
unchanged by ROSE): inside a 0700 campaign directory only the owner reaches them either way.
"""

from __future__ import annotations

import os
from collections.abc import Callable

__all__ = ["MODE_ENV", "is_shared", "make_dirs", "opener", "write_bytes"]

#: the environment variable choosing the modes: ``private`` (the default) or ``shared``
MODE_ENV = "ROSE_RUNS_MODE"
_MODES = ("private", "shared")


def is_shared() -> bool:
    """True when ``ROSE_RUNS_MODE=shared``: directories and files follow the umask.

    Raises ValueError naming the variable for any other value than ``private``/``shared``.
    """
    value = os.environ.get(MODE_ENV, "private").strip().lower() or "private"
    if value not in _MODES:
        raise ValueError(f"{MODE_ENV}={os.environ[MODE_ENV]!r} is not a mode; use one of {', '.join(_MODES)}")
    return value == "shared"


def make_dirs(path: str) -> None:
    """``os.makedirs(path, exist_ok=True)``, each directory it creates private (0700) unless shared.

    Directories that exist already keep their mode.
    """
    if is_shared():
        os.makedirs(path, exist_ok=True)
        return
    missing: list[str] = []
    current = os.path.abspath(path)
    while not os.path.isdir(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            if not os.path.isdir(directory):
                raise


def _file_mode() -> int:
    return 0o666 if is_shared() else 0o600


def opener() -> Callable[[str, int], int]:
    """An ``opener`` for :func:`open` creating the file private (0600) unless shared:
    ``open(path, "a", opener=private.opener())``. An existing file keeps its mode."""
    mode = _file_mode()

    def open_private(path: str, flags: int) -> int:
        return os.open(path, flags, mode)

    return open_private


def write_bytes(path: str, data: bytes | memoryview, *, exclusive: bool = False) -> None:
    """Write ``data`` to a new file ``path`` (0600 unless shared) through ``os.write``.

    ``exclusive`` refuses to replace an existing file (FileExistsError).
    """
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    descriptor = os.open(path, flags, _file_mode())
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(descriptor, view):]
    finally:
        os.close(descriptor)
