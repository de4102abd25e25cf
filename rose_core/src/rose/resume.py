"""Where a resumed campaign continues: :class:`ResumePoint`, read from a learner's journal."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from rose.journal_read import JOURNAL_NAME, paused_gc, read_journal
from rose.results import restore_state

__all__ = ["ResumePoint", "load_resume_point"]


class ResumePoint:
    """What the campaign loop needs to continue a learner's campaign from its journal.

    ``states`` are the finished iterations (as dicts, in order), ``next_iteration`` the first
    one to run, ``carries`` the stored hand-over of each finished iteration to the next,
    ``learner_type`` the learner class that wrote the journal, ``options`` its ``start()`` options, ``stop_reason`` how the last
    run ended (None when it was killed), ``processes`` the task processes started by the last
    run that never reported back (to end before anything runs again).
    """

    def __init__(self, run_dir: str, records: Iterable[dict[str, Any]]) -> None:
        self.run_dir = run_dir
        self.learner_type: str | None = None
        self.max_iter: int | None = None
        self.states: list[dict[str, Any]] = []
        self.carries: dict[int, Any] = {}
        self.stop_reason: str | None = None
        #: the ``start()`` options the campaign was started with (None: a journal of ROSE 0.4)
        self.options: dict[str, Any] | None = None
        # per (iteration, task, key): the recorded results in order, and how many were taken
        self._results: dict[tuple[Any, str, str], list[Any]] = {}
        self._taken: dict[tuple[Any, str, str], int] = {}
        # per (iteration, task, key): the input digests and file digests recorded with each result
        # (see rose.fingerprint), and per (iteration, task) the keys recorded with inputs
        self._details: dict[tuple[Any, str, str], dict[int, tuple[Any, Any]]] = {}
        self._keys: dict[tuple[Any, str], list[str]] = {}
        results = self._results
        spawned: dict[tuple[Any, str, str], dict[str, Any]] = {}
        for record in records:
            kind = record.get("type")
            if kind == "task":
                key = (record.get("iteration"), str(record.get("task")), str(record.get("key", "")))
                if "result" in record and record.get("status") == "done":
                    stored = results.get(key)
                    if stored is None:
                        stored = results[key] = [record["result"]]
                    else:
                        stored.append(record["result"])
                    if "inputs" in record or "files" in record:
                        self._details.setdefault(key, {})[len(stored) - 1] = (record.get("inputs"), record.get("files"))
                        keys = self._keys.setdefault(key[:2], [])
                        if key[2] not in keys:
                            keys.append(key[2])
                if spawned:
                    spawned.pop(key, None)
            elif kind == "process":
                key = (record.get("iteration"), str(record.get("task")), str(record.get("key", "")))
                spawned[key] = record
            elif kind == "iteration":
                state = record.get("state") or {}
                self.states.append(state)
                if "carry" in record:
                    self.carries[int(state.get("iteration", len(self.states) - 1))] = record["carry"]
            elif kind == "start":
                manifest = record.get("manifest") or {}
                self.learner_type = self.learner_type or manifest.get("learner_type")
                self.max_iter = manifest.get("max_iter", self.max_iter)
                self.stop_reason = None
                if self.options is None and isinstance(record.get("options"), dict):
                    self.options = record["options"]
            elif kind == "resume":
                self.stop_reason = None
                if isinstance(record.get("options"), dict):  # resumed with allow_changed_options
                    self.options = record["options"]
            elif kind == "stop":
                self.stop_reason = record.get("reason")
        self.processes = list(spawned.values())
        if self.states:  # the state a resume continues from: its values in full
            self.states[-1] = restore_state(self.states[-1], run_dir)
        self.next_iteration = (int(self.states[-1]["iteration"]) + 1) if self.states else 0

    def take_result(self, iteration: Any, task: str, key: str) -> tuple[bool, Any]:
        """``(True, stored result)`` of the next recorded run of ``task`` with ``key`` at ``iteration``."""
        found, result, _files = self.take_call(iteration, task, key)
        return found, result

    def take_call(self, iteration: Any, task: str, key: str) -> tuple[bool, Any, Mapping[str, str]]:
        """Like :meth:`take_result`, plus the digests of the files the call named when it
        finished (``{}`` if none; see :func:`rose.fingerprint.file_digests`)."""
        where = (iteration, task, key)
        stored = self._results.get(where)
        taken = self._taken.get(where, 0)
        if stored is None or taken >= len(stored):
            return False, None, {}
        result, stored[taken] = stored[taken], None  # handed over once: let it go
        self._taken[where] = taken + 1
        details = self._details.get(where)
        files = details.pop(taken, (None, None))[1] if details else None
        return True, result, files or {}

    def other_calls(self, iteration: Any, task: str, key: str) -> list[Mapping[str, str]]:
        """The input digests of recorded calls of ``task`` at ``iteration`` with another key
        that were not handed over yet (why a call found no recorded result)."""
        out: list[Mapping[str, str]] = []
        for other in self._keys.get((iteration, task), ()):
            where = (iteration, task, other)
            if other == key or self._taken.get(where, 0) >= len(self._results.get(where, ())):
                continue
            for inputs, _files in (self._details.get(where) or {}).values():
                if isinstance(inputs, Mapping):
                    out.append(inputs)
        return out

    @property
    def finished(self) -> bool:
        """True when the campaign met its criterion: there is nothing left to do."""
        return self.stop_reason == "criterion_met"


def load_resume_point(run_dir: str) -> ResumePoint:
    """Read ``run_dir``'s journal (raises FileNotFoundError naming it)."""
    path = os.path.join(run_dir, JOURNAL_NAME)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"cannot resume: no journal at {path}. Pass the campaign directory printed when it "
            f"started (see `rose runs`)."
        )
    with paused_gc():  # a million records, no cycles among them: see paused_gc
        return ResumePoint(run_dir, read_journal(path))
