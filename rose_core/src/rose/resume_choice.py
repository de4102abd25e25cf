"""Which campaign ``resume=True`` and ``rose run --resume latest`` continue.

The newest by recorded start time (:func:`rose.runs.started_at`, the order ``rose runs``
lists them in; not the directory name, where ``...-9`` sorts after ``...-17``), among the
campaigns under the runs root written by the same learner type with the same task names and
kinds (and the learner's name in the directory name, as ``runs/<timestamp>-<name>`` has it).
When none fits, :class:`NoCampaignToResume` lists every candidate and why it was not taken.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from typing import Any

from attrs import frozen

from rose.errors import RoseError
from rose.journal import JOURNAL_NAME
from rose.runs import find_runs

__all__ = ["Candidate", "NoCampaignToResume", "choose_campaign", "first_record", "recorded_tasks", "resume_candidates"]

logger = logging.getLogger("rose.runs")


class NoCampaignToResume(RoseError, FileNotFoundError):
    """``resume=True`` / ``--resume latest`` found no campaign this learner can continue."""


@frozen(kw_only=True)
class Candidate:
    """A campaign directory considered for ``resume=True``, and why it was not taken (None: it fits)."""

    path: str
    learner_type: str
    tasks: Mapping[str, str]
    why: str | None = None


def recorded_tasks(manifest: Mapping[str, Any]) -> dict[str, str]:
    """Task name -> kind of a recorded manifest (its criterion counts as task ``criterion``)."""
    tasks = manifest.get("tasks")
    out = {str(name): str(task.get("kind") or name) if isinstance(task, Mapping) else str(name)
           for name, task in (tasks.items() if isinstance(tasks, Mapping) else ())}
    if manifest.get("criterion"):
        out["criterion"] = "criterion"
    return out


def resume_candidates(
    learner_type: str, tasks: Mapping[str, str], *, name: str | None = None,
    root: str | os.PathLike[str] | None = None,
) -> list[Candidate]:
    """Every campaign under ``root`` (default: the runs root), newest start first, with why it
    does not fit a ``learner_type`` learner with ``tasks`` (name -> kind) named ``name``.

    A campaign fits when it was written by the same learner type, records the same task names
    and kinds and (with ``name``) its directory carries the learner's name, as
    ``runs/<timestamp>-<name>`` does.
    """
    from rose.names import dirname_for

    wanted = dict(tasks)
    mark = f"-{dirname_for(name).lower()}" if name is not None else None
    found = []
    for path in reversed(find_runs(root)):
        try:
            manifest = first_record(os.path.join(path, JOURNAL_NAME)).get("manifest") or {}
        except OSError:
            manifest = {}
        kind = str(manifest.get("learner_type") or "?")
        recorded = recorded_tasks(manifest)
        why = None
        if kind != learner_type:
            why = f"written by a {kind}"
        elif recorded != wanted:
            why = "other tasks" + _task_difference(recorded, wanted)
        elif mark is not None and mark not in os.path.basename(path):
            why = f"not a campaign of learner {name!r} (its directory name lacks {mark!r})"
        found.append(Candidate(path=path, learner_type=kind, tasks=recorded, why=why))
    return found


def choose_campaign(
    learner_type: str, tasks: Mapping[str, str], *, name: str | None = None,
    root: str | os.PathLike[str] | None = None,
) -> str:
    """The campaign ``resume=True`` continues: the newest (by start time) that fits, see
    :func:`resume_candidates`. Raises :class:`NoCampaignToResume` listing every candidate
    and why it was not taken."""
    if root is None:
        from rose.engine import runs_root

        root = runs_root()
    candidates = resume_candidates(learner_type, tasks, name=name, root=root)
    for candidate in candidates:
        if candidate.why is None:
            logger.info("resume: taking %s, the newest campaign of this %s", candidate.path, learner_type)
            return candidate.path
    mine = f"{learner_type}" + (f" {name!r}" if name is not None else "") + f" (tasks: {_tasks_text(tasks)})"
    if not candidates:
        raise NoCampaignToResume(
            f"cannot resume: there is no campaign under {os.fspath(root)} to continue for this {mine}. Start a new "
            f"campaign (no resume), or pass the directory: start(resume=DIR) / rose run --resume DIR"
        )
    shown = candidates[:10]
    lines = [f"  {c.path}: {c.learner_type}, tasks {_tasks_text(c.tasks)}; not taken: {c.why}" for c in shown]
    if len(candidates) > len(shown):
        lines.append(f"  ... and {len(candidates) - len(shown)} older ones")
    listing = "\n".join(lines)
    raise NoCampaignToResume(
        f"cannot resume: no campaign under {os.fspath(root)} fits this {mine}: same learner type and "
        f"tasks. Candidates, newest first:\n{listing}\nPass the one to continue: start(resume=DIR) / "
        f"rose run --resume DIR, or start a new campaign."
    )


def _tasks_text(tasks: Mapping[str, str]) -> str:
    return ", ".join(name if kind == name else f"{name} ({kind})" for name, kind in sorted(tasks.items())) or "none"


def _task_difference(recorded: Mapping[str, str], wanted: Mapping[str, str]) -> str:
    parts = []
    missing = sorted(set(wanted) - set(recorded))
    extra = sorted(set(recorded) - set(wanted))
    changed = sorted(k for k in set(recorded) & set(wanted) if recorded[k] != wanted[k])
    if missing:
        parts.append(f"lacks {', '.join(missing)}")
    if extra:
        parts.append(f"has {', '.join(extra)} too")
    if changed:
        parts.append(", ".join(f"{k} is a {recorded[k]} task there" for k in changed))
    return f" ({'; '.join(parts)})" if parts else ""


def first_record(journal: str) -> dict[str, Any]:
    """The first record of ``journal``: a campaign's start record (``{}`` when it is not a readable JSON object)."""
    with open(journal, encoding="utf-8") as handle:
        line = handle.readline()
    try:
        first = json.loads(line or "{}")
    except ValueError:
        return {}
    return first if isinstance(first, dict) else {}
