"""Names that become file and directory names: checked before anything is written.

Learner, algorithm, task and environment names are shown to users as they wrote them; on
disk they are reduced to letters, digits, ``.``, ``_`` and ``-``. A name that would place
files outside the campaign directory, or two names that end up the same on disk, are errors
naming both, never a silent merge of two learners' files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from rose.errors import RoseError

__all__ = ["check_distinct", "check_plain_name", "dirname_for"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def dirname_for(name: Any) -> str:
    """The file-system form of ``name``: ``algo 1/x`` -> ``algo_1_x``."""
    return _UNSAFE.sub("_", str(name)).strip("._") or "unnamed"


def check_plain_name(name: str, what: str) -> str:
    """``name`` itself, or a RoseError when it is empty or holds a path (``../x``, ``a/b``)."""
    if not isinstance(name, str) or not name.strip():
        raise RoseError(f"{what} name must be a non-empty string, got {name!r}")
    if "/" in name or "\\" in name or name.strip() in (".", "..") or "\0" in name:
        raise RoseError(
            f"{what} name {name!r} would put files outside the campaign directory: use a plain name "
            f"without '/', '\\\\' or '..' (it names a directory)"
        )
    return name


def check_distinct(names: Iterable[Any], what: str) -> dict[Any, str]:
    """``{name: dirname}``; a RoseError naming both when two names repeat or share a directory."""
    seen: dict[str, Any] = {}
    out: dict[Any, str] = {}
    for name in names:
        if name in out:
            raise RoseError(f"two {what}s are both named {name!r}: give each {what} its own name")
        directory = dirname_for(name)
        if directory in seen:
            raise RoseError(
                f"{what}s {seen[directory]!r} and {name!r} would share the directory or file {directory!r} "
                f"(names are reduced to letters, digits, '.', '_' and '-' on disk): rename one of them"
            )
        seen[directory] = name
        out[name] = directory
    return out
