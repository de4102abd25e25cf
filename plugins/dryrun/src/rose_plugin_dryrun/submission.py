"""What the dry-run backend needs to know about a task, captured when ROSE submits it.

An asyncflow backend only sees a command line or a function; a dry-run report also wants
the learner, the iteration, the task kind, the inputs the task was given and, for the
stop criterion, its threshold and operator (to answer "not met"). ROSE calls the
backend's ``translate`` synchronously while submitting a task, so the translator reads
them from the submission in progress and passes them to the backend inside the task
description (key ``rose_dry_run``), which asyncflow delivers verbatim.

The core publishes the submission in progress (:func:`rose.tasks.current_submission`).
"""

from __future__ import annotations

from typing import Any

from attrs import frozen

from rose.records import Resources
from rose.tasks import CriterionSpec

__all__ = ["DESCRIPTION_KEY", "Submission", "current_submission", "translate"]

#: the task-description key carrying the submission to the backend
DESCRIPTION_KEY = "rose_dry_run"


@frozen(kw_only=True)
class Submission:
    """One task as ROSE submits it: who, when, with what inputs and resources."""

    name: str
    kind: str = ""
    learner: Any = None
    iteration: int | None = None
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}
    resources: Resources = Resources()
    shell: bool = False
    #: the learner's working directory (inside its campaign directory), when ROSE gave one
    cwd: str | None = None
    #: ``(metric_name, threshold, operator)`` when the task is the stop criterion
    criterion: tuple[str, float, str] | None = None


def current_submission(task: str, resources: Resources, shell: bool) -> Submission:
    """The task ROSE is submitting right now (called from a backend's ``translate``)."""
    from rose.tasks import current_submission as core_submission

    submitted = core_submission()
    if submitted is None:
        return Submission(name=task, resources=resources, shell=shell)
    spec, context = submitted.spec, submitted.context
    criterion = (spec.metric_name, spec.threshold, spec.operator) if isinstance(spec, CriterionSpec) else None
    return Submission(
        name=spec.name,
        kind=spec.kind,
        learner=context.learner,
        iteration=context.iteration,
        args=submitted.args,
        kwargs=submitted.kwargs,
        resources=resources,
        shell=shell,
        cwd=context.cwd,
        criterion=criterion,
    )


def translate(task: str, resources: Resources, shell: bool) -> dict[str, Any]:
    """The ``dry-run`` translator: accept the request, carry the submission along.

    Whether the request fits is checked by the backend against its ``target`` backend
    (``local`` by default), which only the backend instance knows.
    """
    return {"shell": shell, DESCRIPTION_KEY: current_submission(task, resources, shell)}
