"""``DryRunBackend``: every task completes at once, unexecuted, and is reported.

Built on radical.asyncflow's ``NoopExecutionBackend``. What a task "returns" under a dry run:

* an ordinary task: a placeholder string, ``"<dry-run simulation#3>"`` (stdout of an
  executable, return value of a function). When a later task receives it as an input,
  the report lists ``simulation#3`` in that task's ``depends_on``. Command builders
  therefore see placeholders where upstream results would be.
* the stop criterion: a number that does **not** meet it (for ``<`` a value above the
  threshold, for ``>`` one below, for ``==`` a different one), so ``max_iter`` bounds the
  run. A campaign without ``max_iter`` would never end, so after ``criterion_met_after``
  checks (default 100) per learner the criterion reports "met" instead; set it to
  ``None`` to never meet it.

Where the report goes: ``dry-run.txt`` (readable) and ``dry-run.jsonl`` (one JSON record
per task) in the campaign directory when the backend can tell it (a learner's working
directory inside it, or ``report_dir``), else in the engine's folder. ``dry-run.jsonl`` in
a campaign directory marks the campaign as a dry run: ``rose runs`` and ``rose show`` then
say so and show its metric values as the placeholders they are. At shutdown the backend
logs (WARNING, so it is seen) that nothing ran and where the report is.

Requests are checked against a ``target`` backend (default ``local`` when installed): a
request the target cannot satisfy fails the task with that backend's
:class:`~rose.errors.ResourceError`, as the real run would, and the report marks it
``rejected``.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
from collections.abc import Callable
from typing import Any

from radical.asyncflow import NoopExecutionBackend

from rose.errors import ResourceError
from rose.metrics import compare
from rose.placeholders import placeholder
from rose.records import Resources
from rose_plugin_dryrun.report import DryRunReport, DryRunTask
from rose_plugin_dryrun.submission import DESCRIPTION_KEY, Submission

__all__ = ["DryRunBackend", "create_backend", "report_of"]

logger = logging.getLogger(__name__)

REPORT_TEXT = "dry-run.txt"
REPORT_JSON = "dry-run.jsonl"


class DryRunBackend(NoopExecutionBackend):  # type: ignore[misc]
    """An asyncflow backend that executes nothing and records everything.

    ``target`` names the backend whose resource rules apply (``None``: accept every
    request). ``criterion_met_after`` is explained in the module documentation. The
    report is :attr:`report`; it is also written, task by task, to ``dry-run.txt`` and
    ``dry-run.jsonl`` in ``report_dir`` (default: the campaign directory, else the
    engine's folder); :attr:`report_paths` lists the files written.
    """

    def __init__(self, target: str | None = "local", criterion_met_after: int | None = 100, name: str = "dry-run",
                 report_dir: str | None = None):
        super().__init__(name=name)
        self.report_dir = report_dir
        self.report_paths: list[str] = []
        self.target = target
        self.criterion_met_after = criterion_met_after
        self.report = DryRunReport()
        self._target_translate: Callable[[str, Resources, bool], dict[str, Any]] | None = None
        if target is not None:
            from rose.plugins import lookup

            spec = lookup("backend", target)
            self._target_translate = spec.translate
        self._producers: dict[str, str] = {}
        self._criterion_checks: dict[Any, int] = {}

    def __await__(self) -> Any:
        async def ready() -> DryRunBackend:
            return self

        return ready().__await__()

    async def submit_tasks(self, tasks: list[dict[str, Any]]) -> None:
        """Record each task and complete it at once with its placeholder result."""
        for task in tasks:
            record, outcome = self._plan(task)
            self.report.tasks.append(record)
            self._write(record, self._folder_for(task))
            logger.info("dry run: %s", record.render())
            if isinstance(outcome, BaseException):
                task.update({"exception": outcome, "stderr": str(outcome), "stdout": "", "exit_code": None})
                self._callback_func(task, "FAILED")
                continue
            task["return_value"] = outcome
            task["stdout"] = outcome if isinstance(outcome, str) else f"{outcome}\n"
            task["exit_code"] = 0
            self._callback_func(task, "DONE")

    def _plan(self, task: dict[str, Any]) -> tuple[DryRunTask, Any]:
        options = dict(task.get("task_backend_specific_kwargs") or {})
        submission = options.pop(DESCRIPTION_KEY, None)
        if not isinstance(submission, Submission):
            submission = Submission(name=str(task.get("name", "task")), args=tuple(task.get("args") or ()),
                                    kwargs=dict(task.get("kwargs") or {}))
        record = DryRunTask(
            index=len(self.report.tasks),
            name=submission.name,
            kind=submission.kind,
            learner=submission.learner,
            iteration=submission.iteration,
        )
        inputs = list(submission.args) + list(submission.kwargs.values())
        if not inputs and task.get("function"):
            inputs = list(task.get("args") or ()) + list((task.get("kwargs") or {}).values())
        record.depends_on = self._dependencies(inputs)
        if task.get("executable"):
            argv = [str(task["executable"]), *(str(a) for a in task.get("arguments") or ())]
            record.command = shlex.join(argv)
            if shutil.which(argv[0]) is None:
                record.warnings.append(f"{argv[0]!r} is not on this machine's PATH")
        else:
            record.call = _call_text(task.get("function"), task.get("args") or (), task.get("kwargs") or {})
        record.description = self._describe(submission, options)
        if self._target_translate is not None:
            try:
                self._target_translate(submission.name, submission.resources, submission.shell)
            except ResourceError as exc:
                record.status, record.error = "rejected", str(exc)
                return record, exc
        outcome: Any
        if submission.criterion is not None:
            value = self._criterion_value(submission)
            outcome = value if task.get("function") else f"{value}\n"
        else:
            outcome = placeholder(record.label)
            self._producers[outcome] = record.label
            if task.get("executable"):
                outcome = placeholder(record.label, executable=True)
                self._producers[outcome] = record.label
        record.result = repr(outcome)
        return record, outcome

    def _dependencies(self, inputs: list[Any]) -> list[str]:
        found: list[str] = []

        def visit(value: Any, depth: int) -> None:
            if isinstance(value, str):
                label = self._producers.get(value)
                if label and label not in found:
                    found.append(label)
            elif depth < 2 and isinstance(value, (list, tuple, set)):
                for item in value:
                    visit(item, depth + 1)
            elif depth < 2 and isinstance(value, dict):
                for item in value.values():
                    visit(item, depth + 1)

        for value in inputs:
            visit(value, 0)
        return found

    def _describe(self, submission: Submission, options: dict[str, Any]) -> dict[str, Any]:
        described: dict[str, Any] = {"target": self.target}
        resources = submission.resources
        if not resources.is_default():
            described["resources"] = {
                key: value
                for key, value in (
                    ("cores", resources.cores), ("gpus", resources.gpus), ("ranks", resources.ranks),
                    ("memory_mb", resources.memory_mb), ("env", dict(resources.env)), ("cwd", resources.cwd),
                )
                if value not in (None, {}, 0) and not (key in ("cores", "ranks") and value == 1)
            }
        extra = {k: v for k, v in options.items() if k != "shell"}
        if extra:
            described["task_description"] = extra
        return described

    def _criterion_value(self, submission: Submission) -> float:
        assert submission.criterion is not None
        metric, threshold, operator = submission.criterion
        checks = self._criterion_checks.get(submission.learner, 0) + 1
        self._criterion_checks[submission.learner] = checks
        meet = self.criterion_met_after is not None and checks > self.criterion_met_after
        if meet:
            logger.warning(
                "dry run: reporting criterion %s of learner %s as met after %d checks (criterion_met_after=%d) "
                "so a campaign without max_iter ends", metric, submission.learner, checks - 1, self.criterion_met_after,
            )
        step = max(1.0, abs(threshold))
        for candidate in (threshold + step, threshold - step, threshold):
            if compare(candidate, threshold, operator) == meet:
                return candidate
        return threshold + step  # pragma: no cover - every operator is decided above

    def _folder_for(self, task: dict[str, Any]) -> str:
        """Where this task's report lines go: ``report_dir``, its campaign directory, or the engine's folder."""
        if self.report_dir:
            return self.report_dir
        submission = (task.get("task_backend_specific_kwargs") or {}).get(DESCRIPTION_KEY)
        campaign = _campaign_of(getattr(submission, "cwd", None))
        return campaign or self._work_dir

    def _write(self, record: DryRunTask, folder: str) -> None:
        try:
            os.makedirs(folder, exist_ok=True)
            text_path = os.path.join(folder, REPORT_TEXT)
            with open(text_path, "a", encoding="utf-8") as text:
                text.write(record.render() + "\n")
            with open(os.path.join(folder, REPORT_JSON), "a", encoding="utf-8") as lines:
                import json

                lines.write(json.dumps(record.to_dict()) + "\n")
            if text_path not in self.report_paths:
                self.report_paths.append(text_path)
        except OSError:
            logger.warning("dry run: cannot write the report to %s", folder, exc_info=True)

    async def shutdown(self) -> None:
        """Say that nothing ran, and where the report is."""
        where = ", ".join(self.report_paths) or "nowhere (no task was submitted)"
        # under `rose run --dry-run` the command prints the report's final place itself
        level = logging.INFO if os.environ.get("ROSE_DRY_RUN") else logging.WARNING
        logger.log(level, "dry run: nothing was executed; %d task(s) planned, report: %s", len(self.report), where)


def _campaign_of(cwd: str | None) -> str | None:
    """The campaign directory holding ``cwd``: its outermost ancestor (or itself) with a journal."""
    if not cwd:
        return None
    from rose.runs import is_run_dir

    found = None
    path = os.path.abspath(cwd)
    for _ in range(4):  # a campaign, its learners, their sub-learners
        if is_run_dir(path):
            found = path
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return found


def _call_text(function: Any, args: Any, kwargs: Any) -> str:
    name = getattr(function, "__name__", None) or repr(function)
    parts = [_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in dict(kwargs).items()]
    return f"{name}({', '.join(parts)})"


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + " ...)"


def report_of(engine: Any) -> DryRunReport:
    """The report of a dry-run engine (``engine.backend.report``), or a clear error."""
    backend = getattr(engine, "backend", None)
    if not isinstance(backend, DryRunBackend):
        raise TypeError(f"{engine!r} is not a dry-run engine; create it with rose.engine('dry-run')")
    return backend.report


async def create_backend(target: str | None = "local", criterion_met_after: int | None = 100,
                         report_dir: str | None = None) -> DryRunBackend:
    """The ``dry-run`` backend for ``rose.engine("dry-run", target=..., criterion_met_after=..., report_dir=...)``."""
    if target is not None:
        from rose.plugins import registry

        if target not in registry().backends:
            logger.info("dry run: backend %r is not installed; resource requests are not checked", target)
            target = None
    return DryRunBackend(target=target, criterion_met_after=criterion_met_after, report_dir=report_dir)
