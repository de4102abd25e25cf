"""The dry-run report: every task a campaign would run, in order, grouped by iteration."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from attrs import asdict, define, field

__all__ = ["DryRunReport", "DryRunTask"]


@define(kw_only=True)
class DryRunTask:
    """One task the campaign would have run.

    ``command`` is the exact command line (argv, quoted as a shell would need it) for an
    executable task, ``call`` the function call for a function task. ``depends_on`` labels
    (``"simulation#0"``) the earlier tasks whose results this task received.
    ``status`` is ``"planned"``, or ``"rejected"`` when the target backend could not
    satisfy the task's resources (``error`` says why).
    """

    index: int
    name: str
    kind: str = ""
    learner: Any = None
    iteration: int | None = None
    depends_on: list[str] = field(factory=list)
    command: str | None = None
    call: str | None = None
    description: dict[str, Any] = field(factory=dict)
    result: str = ""
    status: str = "planned"
    error: str | None = None
    warnings: list[str] = field(factory=list)

    @property
    def label(self) -> str:
        """``name#index``, how other tasks refer to this one in ``depends_on``."""
        return f"{self.name}#{self.index}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of this record."""
        data = asdict(self)
        data["label"] = self.label
        data["learner"] = _jsonable(self.learner)
        data["description"] = _jsonable(self.description)
        return data

    def render(self) -> str:
        """Two or three lines for ``dry-run.txt`` and the log."""
        where = f"iteration {self.iteration}" if self.iteration is not None else "outside the loop"
        who = f"[learner {self.learner}] " if self.learner is not None else ""
        inputs = f" <- {', '.join(self.depends_on)}" if self.depends_on else ""
        lines = [f"{who}{where}: {self.label} ({self.kind or 'task'}){inputs}"]
        lines.append(f"    $ {self.command}" if self.command is not None else f"    call {self.call}")
        if self.status != "planned":
            lines.append(f"    {self.status.upper()}: {self.error}")
        lines.extend(f"    warning: {w}" for w in self.warnings)
        return "\n".join(lines)


@define
class DryRunReport:
    """The tasks of a dry run, in submission order."""

    tasks: list[DryRunTask] = field(factory=list)

    def __iter__(self) -> Iterator[DryRunTask]:
        return iter(self.tasks)

    def __len__(self) -> int:
        return len(self.tasks)

    def by_iteration(self, learner: Any = None) -> dict[int | None, list[DryRunTask]]:
        """Tasks grouped by iteration (of one learner, or of all when ``learner`` is None)."""
        grouped: dict[int | None, list[DryRunTask]] = {}
        for task in self.tasks:
            if learner is None or task.learner == learner:
                grouped.setdefault(task.iteration, []).append(task)
        return grouped

    def commands(self) -> list[str]:
        """Every command line and function call, in order."""
        return [t.command if t.command is not None else str(t.call) for t in self.tasks]

    def render(self) -> str:
        """The whole report as text."""
        return "\n".join(task.render() for task in self.tasks)

    def to_json_lines(self) -> str:
        """One JSON object per task."""
        return "".join(json.dumps(task.to_dict()) + "\n" for task in self.tasks)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return repr(value)
