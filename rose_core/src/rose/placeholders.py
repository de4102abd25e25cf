"""The placeholder results of a dry run, and how a policy tells them apart.

A dry run (``rose run --dry-run``, ``rose.engine("dry-run")``) runs the campaign loop but
no task: every task "returns" a placeholder string such as ``"<dry-run simulation#3>"``
(plus a newline for an executable task, as its stdout would have). A policy that reads its
tasks' results checks them with :func:`is_placeholder` and hands something of the expected
shape on, so the dry run can show the whole task graph::

    labels = await step.run("simulation", selected)
    if rose.is_placeholder(labels):
        labels = {"labels": []}  # a dry run: nothing was labelled
"""

from __future__ import annotations

from typing import Any

__all__ = ["is_placeholder", "placeholder"]

_PREFIX = "<dry-run "


def placeholder(label: str, *, executable: bool = False) -> str:
    """The placeholder result of task ``label`` in a dry run (with a newline: an executable's stdout)."""
    return f"{_PREFIX}{label}>" + ("\n" if executable else "")


def is_placeholder(value: Any) -> bool:
    """True for a dry run's stand-in for a task's result (see :func:`placeholder`)."""
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    if not isinstance(value, str):
        return False
    text = value[:-1] if value.endswith("\n") else value
    return text.startswith(_PREFIX) and text.endswith(">") and "\n" not in text
