"""One task run of a learner: its arguments, its replay on resume, its journal lines, its execution.

:meth:`Learner.run_task <rose.learner.Learner.run_task>` and :meth:`Learner.submit
<rose.learner.Learner.submit>` are thin calls into :func:`run_task` and :func:`submit`. A task
of a running campaign is journaled (each attempt, and the process a command spawned) through
the learner's :class:`~rose.campaign.Campaign`; in a resumed campaign a task that finished
before the interruption is not run again: its recorded result is returned.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rose import fingerprint, replay, results
from rose.campaign import Campaign
from rose.errors import RoseError
from rose.processes import owner_record
from rose.tasks import TaskContext, TaskSpec, execute

if TYPE_CHECKING:
    from rose.config import LearnerConfig
    from rose.learner import Learner

__all__ = ["call_key", "clip", "run_task", "submit"]

logger = logging.getLogger("rose.learner")


async def run_task(
    learner: Learner,
    key: str,
    iteration: int | None,
    config: LearnerConfig | None,
    deps: Sequence[Any],
    extra_kwargs: Mapping[str, Any] | None,
    record_state: bool,
) -> Any:
    """Run registered task ``key`` of ``learner`` (see :meth:`rose.learner.Learner.run_task`)."""
    spec = learner.tasks.get(key)
    if spec is None:
        raise RoseError(f"{learner.name}: no task {key!r} is registered")
    task_config = config.resolve(key, iteration if iteration is not None else 0, spec.kind) if config else None
    args = (tuple(task_config.args) if task_config else ()) + tuple(deps)
    kwargs = dict(task_config.kwargs) if task_config else {}
    if extra_kwargs:
        kwargs.update(extra_kwargs)
    campaign = learner.running_campaign
    call = fingerprint.of_call(args, kwargs, learner.task_cwd) if campaign is not None else ""
    found, result = _replayed(learner, campaign, spec, iteration, call)
    if not found:
        result = await learner.submit(spec, args, kwargs, iteration=iteration, key=call)  # a policy may override it
    if record_state and result is not None and spec.kind != "criterion" and isinstance(result, Mapping):
        learner.register_result_state(result)
    return result


def _replayed(learner: Learner, campaign: Campaign | None, spec: TaskSpec, iteration: int | None,
              call: str) -> tuple[bool, Any]:
    point = campaign.point if campaign is not None else None
    if point is None:
        return False, None
    return replay.recorded_result(point, learner.label, learner.run_dir, spec.name, iteration, call)


def submit(
    learner: Learner,
    spec: TaskSpec,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    *,
    iteration: int | None = None,
    key: str = "",
) -> Coroutine[Any, Any, Any]:
    """Execute ``spec`` with exactly these arguments on ``learner``'s engine (no replay)."""
    if learner.asyncflow is None:
        raise RoseError(
            f"{learner.name} has no engine: create it with `engine = await rose.engine('local')` "
            f"and pass it: {type(learner).__name__}(engine)"
        )
    translate = learner.translator()
    campaign = learner.running_campaign
    listeners = learner.task_listeners
    context = TaskContext(
        learner=learner.learner_id if learner.learner_id is not None else learner.name,
        iteration=iteration,
        cwd=learner.task_cwd,
        on_attempt=_journal_task(learner, campaign, iteration, key) if campaign is not None else None,
        on_event=_task_event(learner.learner_id, listeners, iteration) if listeners else None,
        on_spawn=(_journal_spawn(campaign, iteration, spec.name, key)
                  if campaign is not None and spec.as_executable else None),  # only commands spawn
        log_dir=learner.run_dir if campaign is not None else None,
    )
    running = execute(learner.asyncflow, spec, args, kwargs, context, translate)
    flights = campaign.flights if campaign is not None else None
    if flights is not None:  # counted in flight: a long one is journaled while it runs (rose.flights)
        flights.add(context.on_attempt, spec, iteration, key, running)
    return running


def _task_event(learner_id: Any, listeners: list[Callable[[dict[str, Any]], None]],
                iteration: int | None) -> Callable[[dict[str, Any]], None]:
    def emit(event: dict[str, Any]) -> None:
        event = {"learner_id": learner_id, "iteration": iteration, **event}
        for listener in list(listeners):
            listener(event)

    return emit


def _journal_task(learner: Learner, campaign: Campaign, iteration: int | None,
                  key: str) -> Callable[[dict[str, Any]], None]:
    return _TaskJournal(learner, campaign, iteration, key)


#: results the journal holds exactly as they are (what :func:`rose.results.encode` returns unchanged)
_STORED_AS_IS = (type(None), bool, int)


class _TaskJournal:
    """Writes one task's attempts to its campaign's journal (one small object per task in
    flight rather than a closure and its cells: scenario 7 holds 10,000 of them)."""

    __slots__ = ("campaign", "iteration", "key", "learner")

    def __init__(self, learner: Learner, campaign: Campaign, iteration: int | None, key: str) -> None:
        self.learner, self.campaign, self.iteration, self.key = learner, campaign, iteration, key

    def __call__(self, entry: dict[str, Any]) -> None:
        """Record ``entry`` (one attempt: its status, seconds, result or error)."""
        key = self.key
        if "result" in entry and type(entry["result"]) not in _STORED_AS_IS:
            try:
                entry["result"] = results.encode(entry["result"], self.learner.run_dir)
            except results.Unstorable as exc:
                logger.warning(
                    "[%s] the result of task %r (iteration %s) cannot be stored (%s): a resume runs it again",
                    self.learner.label, entry.get("task"), self.iteration, exc,
                )
                entry["result"] = results.UNSTORED
        if "error" in entry:
            entry["error"] = clip(str(entry["error"]))
        elif key and entry.get("status") == "done":
            entry.update(replay.journal_fields(key))
        campaign = self.campaign
        campaign.write_task(self.iteration, key, entry)
        if campaign.flights is not None:
            campaign.flights.ended(self, entry.get("status"), entry.get("attempt"))


def _journal_spawn(campaign: Campaign, iteration: int | None, task: str,
                   key: str) -> Callable[[Mapping[str, Any]], None]:
    owner = owner_record()  # host and campaign process: a resume leaves the tasks of a live campaign alone

    def write(process: Mapping[str, Any]) -> None:
        campaign.write("process", iteration=iteration, task=task, key=key,
                       **{**owner, **{k: process.get(k) for k in ("pid", "pgid", "start_time", "host") if k in process}})

    return write


def call_key(kwargs: Mapping[str, Any], args: Sequence[Any] = ()) -> str:
    """The journal key of a task call (see :func:`rose.fingerprint.of_call`)."""
    return fingerprint.of_call(args, kwargs)


def clip(text: str, limit: int = 4000) -> str:
    """``text`` cut to at most ``limit`` characters, keeping its start and end."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]} ... [{len(text) - limit} characters cut] ... {text[-half:]}"
