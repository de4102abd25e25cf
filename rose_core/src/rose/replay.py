"""Reusing recorded task results on resume, only for the same call (see :mod:`rose.fingerprint`).

:func:`recorded_result` is what :meth:`rose.Learner.run_task` asks before running a task in
a resumed campaign: the result the journal recorded for this task, iteration, position among
identical calls and inputs, or nothing. When the journal holds a result of the task at that
iteration for other inputs, or the files the call names changed since it ran, the task runs
again and a warning names the task and the inputs that changed.
"""

from __future__ import annotations

import logging
from typing import Any

from rose import fingerprint, results
from rose.resume import ResumePoint

__all__ = ["journal_fields", "recorded_result"]

logger = logging.getLogger("rose.resume")

_WHY = ("a recorded result is reused only for the inputs it was computed from, so that a selection "
        "is never paired with other candidates than those it was computed for")


def recorded_result(point: ResumePoint, label: str, run_dir: str, task: str, iteration: Any, key: str) -> tuple[bool, Any]:
    """``(True, result)`` recorded for this call of ``task`` at ``iteration``, else ``(False, None)``.

    ``key`` is the call's :func:`rose.fingerprint.of_call`; ``label`` names the learner in
    warnings and ``run_dir`` is where large results are stored.
    """
    found, stored, files = point.take_call(iteration, task, key)
    if not found:
        _warn_if_inputs_changed(point, label, task, iteration, key)
        return False, None
    if files:
        now = fingerprint.file_digests(getattr(key, "paths", {}))
        moved = fingerprint.changed(files, {name: now.get(name, "") for name in files})
        if moved:
            logger.warning(
                "[%s] task %r of iteration %s: the file(s) named by its %s changed since it ran before the "
                "interruption; running it again (%s)", label, task, iteration, fingerprint.describe(moved), _WHY,
            )
            return False, None
    if not results.is_stored(stored):
        logger.warning(
            "[%s] task %r of iteration %s finished before the interruption, but its result could not be "
            "stored: running it again", label, task, iteration,
        )
        return False, None
    try:
        return True, results.decode(stored, run_dir)
    except (OSError, ValueError) as exc:
        logger.warning("[%s] cannot read the stored result of task %r (iteration %s): %s; running it again",
                       label, task, iteration, exc)
        return False, None


def _warn_if_inputs_changed(point: ResumePoint, label: str, task: str, iteration: Any, key: str) -> None:
    others = point.other_calls(iteration, task, key)
    if not others:
        return
    current = getattr(key, "inputs", {})
    nearest = min((fingerprint.changed(other, current) for other in others), key=len)
    logger.warning(
        "[%s] task %r of iteration %s was recorded before the interruption with other inputs (changed: %s); "
        "its recorded result is not reused and it runs again: %s. If the policy draws these inputs at random, "
        "keep its random state in the carry (see docs/fault-tolerance.md).",
        label, task, iteration, fingerprint.describe(nearest) or "the inputs", _WHY,
    )


def journal_fields(key: str) -> dict[str, Any]:
    """What a finished task's journal record keeps of its call: its input digests and the state
    of the files it names (so a resume can say what changed)."""
    fields: dict[str, Any] = {}
    inputs = getattr(key, "inputs", None)
    if inputs:
        fields["inputs"] = inputs
    paths = getattr(key, "paths", None)
    if paths:
        files = fingerprint.file_digests(paths)
        if files:
            fields["files"] = files
    return fields
