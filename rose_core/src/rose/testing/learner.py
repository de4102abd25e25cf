"""The contract every learning policy passes, as a reusable pytest test class.

A policy's tests subclass :class:`LearnerContract` and build the learner with its tasks
registered as function tasks (``as_executable=False``) returning small values; the contract
adds the stop criterion itself and drives it through the configuration::

    from rose.testing import LearnerContract

    class TestMyPolicyContract(LearnerContract):
        def make_learner(self, engine):
            learner = MyPolicy(engine)

            @learner.simulation_task(as_executable=False)
            async def simulate(*args, **kwargs):
                return {"labeled_count": 5}
            ...
            return learner

A policy whose ``start()`` does not take ``max_iter``/``initial_config``/``resume`` by those
names (a parallel learner's ``learner_configs``) overrides :meth:`LearnerContract.start`.
The checks: ``max_iter`` ends the campaign with ``max_iter_reached``; a met criterion with
``criterion_met``; ``stop()`` and a ``break`` with ``stopped``; after a ``break`` or
``aclose()`` the trackers have had ``on_stop`` before control returns; trackers see start,
then iterations, then stop; ``set_next_config`` takes effect at the next iteration; every
state value is recorded once; one stop record per campaign in each journal; and a campaign
interrupted in the middle of an iteration resumes at that iteration without re-running a task
the journal records as finished.
"""

from __future__ import annotations

import asyncio
import collections
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from rose.config import LearnerConfig, TaskConfig
from rose.journal import JOURNAL_NAME, read_journal
from rose.learner import Learner
from rose.state import IterationState
from rose.streaming import LearnerRun
from rose.testing.recording import RecordingTracker

__all__ = ["LearnerContract"]

#: the contract's criterion: mean squared error, stops below this
THRESHOLD = 0.5
NOT_MET = 1.0
MET = 0.0


class LearnerContract:
    """Base test class: subclass it as ``Test<Policy>Contract`` and implement :meth:`make_learner`."""

    #: True for a parent of several children whose states arrive interleaved (parallel learners)
    streamed_children: ClassVar[bool] = False
    #: the learner ids the states carry (``[None]`` for a sequential policy)
    learner_ids: ClassVar[list[Any]] = [None]

    # -- what a policy's test provides -------------------------------------------------
    def make_learner(self, engine: Any) -> Learner:
        """A new learner on ``engine`` with every task it needs registered as function tasks."""
        raise NotImplementedError("LearnerContract subclasses implement make_learner(engine)")

    def start(self, learner: Learner, *, max_iter: int, config: LearnerConfig | None, resume: Any = None) -> LearnerRun:
        """Start ``learner`` with ``config`` for every learner it runs."""
        return learner.start(max_iter=max_iter, initial_config=config, resume=resume)

    # -- helpers ------------------------------------------------------------------------
    @pytest.fixture
    async def contract_engine(self, rose_engine: Any) -> AsyncIterator[Any]:
        """The engine the checks run on (``rose.testing``'s thread backend)."""
        yield rose_engine

    def learner(self, engine: Any) -> Learner:
        """:meth:`make_learner` plus the contract's criterion and a recording tracker."""
        learner = self.make_learner(engine)

        @learner.as_stop_criterion(metric_name="mean_squared_error_mse", threshold=THRESHOLD, as_executable=False)
        async def contract_criterion(*args: Any, value: float = NOT_MET, **kwargs: Any) -> float:
            return value

        learner.add_tracker(RecordingTracker())
        return learner

    @staticmethod
    def tracker(learner: Learner) -> RecordingTracker:
        """The learner's recording tracker."""
        return next(t for t in learner.trackers if isinstance(t, RecordingTracker))

    @staticmethod
    def met_at(iteration: int | None) -> LearnerConfig:
        """A configuration whose criterion is met at ``iteration`` (never for None)."""
        schedule = {-1: TaskConfig(kwargs={"value": NOT_MET})}
        if iteration is not None:
            schedule[iteration] = TaskConfig(kwargs={"value": MET})
        return LearnerConfig(criterion=schedule)

    @staticmethod
    def journals(run_dir: str) -> list[list[dict[str, Any]]]:
        """The records of every journal in a campaign directory (children's included)."""
        found = []
        for folder, _dirs, files in os.walk(run_dir):
            if JOURNAL_NAME in files:
                found.append(list(read_journal(folder)))
        return found

    def by_learner(self, states: list[IterationState]) -> dict[Any, list[int]]:
        """Iteration numbers per learner id."""
        out: dict[Any, list[int]] = collections.defaultdict(list)
        for state in states:
            out[state.learner_id].append(state.iteration)
        return dict(out)

    # -- the checks -----------------------------------------------------------------------
    async def test_max_iter_ends_with_max_iter_reached(self, contract_engine: Any) -> None:
        """max_iter ends the campaign with max_iter_reached; trackers see start, iterations, stop."""
        learner = self.learner(contract_engine)
        states = [s async for s in self.start(learner, max_iter=3, config=self.met_at(None))]
        assert self.by_learner(states) == {lid: [0, 1, 2] for lid in self.learner_ids}
        tracker = self.tracker(learner)
        assert tracker.stop is not None and tracker.stop[1] == "max_iter_reached"
        assert [kind for kind, _ in tracker.events][0] == "start" and tracker.events[-1][0] == "stop"
        assert len(tracker.states) == len(states)
        for records in self.journals(learner.run_dir):
            stops = [r for r in records if r["type"] == "stop"]
            assert len(stops) == 1 and stops[0]["reason"] == "max_iter_reached"

    async def test_criterion_met_ends_with_criterion_met(self, contract_engine: Any) -> None:
        """A met criterion ends the campaign with criterion_met."""
        learner = self.learner(contract_engine)
        states = [s async for s in self.start(learner, max_iter=5, config=self.met_at(1))]
        assert self.by_learner(states) == {lid: [0, 1] for lid in self.learner_ids}
        assert all(s.should_stop for s in states if s.iteration == 1)
        assert self.tracker(learner).stop[1] == "criterion_met"  # type: ignore[index]

    async def test_break_reports_stopped_before_control_returns(self, contract_engine: Any) -> None:
        """After a break, on_stop('stopped') has been delivered before the next line runs."""
        learner = self.learner(contract_engine)
        async for _state in self.start(learner, max_iter=50, config=self.met_at(None)):
            break
        tracker = self.tracker(learner)
        assert tracker.stop is not None and tracker.stop[1] == "stopped", "on_stop must arrive before the next line"
        assert tracker.events[0][0] == "start" and tracker.events[-1][0] == "stop"
        await asyncio.sleep(0.05)  # the cancelled tasks wind down
        assert [kind for kind, _ in tracker.events].count("stop") == 1

    async def test_aclose_reports_stopped_before_control_returns(self, contract_engine: Any) -> None:
        """Leaving ``async with`` delivers on_stop('stopped') before control returns."""
        learner = self.learner(contract_engine)
        async with self.start(learner, max_iter=50, config=self.met_at(None)) as states:
            async for _state in states:
                break
        assert self.tracker(learner).stop is not None and self.tracker(learner).stop[1] == "stopped"  # type: ignore[index]

    async def test_stop_ends_with_stopped(self, contract_engine: Any) -> None:
        """stop() ends the campaign after the current step, with stopped."""
        learner = self.learner(contract_engine)
        states = []
        async for state in self.start(learner, max_iter=20, config=self.met_at(None)):
            states.append(state)
            learner.stop()
        assert max(s.iteration for s in states) <= 1
        assert self.tracker(learner).stop[1] == "stopped"  # type: ignore[index]
        for records in self.journals(learner.run_dir):
            assert [r["reason"] for r in records if r["type"] == "stop"] == ["stopped"]

    async def test_set_next_config_takes_effect_at_the_next_iteration(self, contract_engine: Any) -> None:
        """set_next_config applies from the next iteration on."""
        learner = self.learner(contract_engine)
        changed_at: dict[Any, int] = {}
        states = []
        async for state in self.start(learner, max_iter=4, config=self.met_at(None)):
            states.append(state)
            if not changed_at:
                changed_at[state.learner_id] = state.iteration
                learner.set_next_config(LearnerConfig(criterion=TaskConfig(kwargs={"value": 0.75})))
        (first_id, first), = changed_at.items()
        mine = [s for s in states if s.learner_id == first_id]
        assert [s.metric_value for s in mine if s.iteration <= first] == [NOT_MET] * (first + 1)
        later = [s.metric_value for s in mine if s.iteration > first]
        if self.streamed_children:  # the next state may already have been under way
            assert later[1:] == [0.75] * (len(later) - 1)
        else:
            assert later == [0.75] * len(later) and later

    async def test_every_state_value_is_recorded_once(self, contract_engine: Any) -> None:
        """Each state value reaches on_state_update once per iteration."""
        learner = self.learner(contract_engine)
        seen: collections.Counter[str] = collections.Counter()
        learner.on_state_update(lambda key, value: seen.update([key]))
        states = [s async for s in self.start(learner, max_iter=3, config=self.met_at(None))]
        in_states: collections.Counter[str] = collections.Counter()
        for state in states:
            in_states.update(state.state.keys())
        assert seen == in_states

    async def test_resume_continues_the_interrupted_iteration_without_rerunning_tasks(
        self, contract_engine: Any, tmp_path: Path
    ) -> None:
        """A resume continues the interrupted iteration; no journaled task runs twice."""
        learner = self.learner(contract_engine)
        consumer = asyncio.current_task()
        assert consumer is not None
        interrupted = asyncio.Event()

        def interrupt(event: dict[str, Any]) -> None:
            if event.get("iteration") == 2 and event.get("status") == "done" and not interrupted.is_set():
                interrupted.set()
                consumer.cancel()

        learner.on_task_event(interrupt)
        first: list[IterationState] = []
        with pytest.raises(asyncio.CancelledError):
            async for state in self.start(learner, max_iter=4, config=self.met_at(None)):
                first.append(state)
        if hasattr(consumer, "uncancel"):
            consumer.uncancel()
        assert interrupted.is_set(), "no task of iteration 2 finished: the policy ran nothing at iteration 2"
        run_dir = learner.run_dir
        done_before = self._done_tasks(run_dir)
        finished = self._finished_iterations(run_dir)
        resumed = self.learner(contract_engine)
        states = [s async for s in self.start(resumed, max_iter=4, config=self.met_at(None), resume=run_dir)]
        expected = {lid: list(range(finished.get(lid, -1) + 1, 4)) for lid in self.learner_ids}
        assert self.by_learner(states) == {lid: its for lid, its in expected.items() if its}
        done = self._done_tasks(run_dir)
        repeated = [key for key, count in done.items() if count > 1]
        assert not repeated, f"tasks run twice across the interruption: {repeated}"
        assert set(done_before) <= set(done)
        assert self.tracker(resumed).stop[1] == "max_iter_reached"  # type: ignore[index]

    def _finished_iterations(self, run_dir: str) -> dict[Any, int]:
        last: dict[Any, int] = {}
        for records in self.journals(run_dir):
            for record in records:
                if record["type"] == "iteration":
                    state = record.get("state") or {}
                    lid = state.get("learner_id", record.get("learner_id"))
                    last[lid] = max(last.get(lid, -1), int(state["iteration"]))
        return last

    def _done_tasks(self, run_dir: str) -> collections.Counter[tuple[Any, ...]]:
        done: collections.Counter[tuple[Any, ...]] = collections.Counter()
        for records in self.journals(run_dir):
            for record in records:
                if record["type"] == "task" and record.get("status") == "done":
                    done[(record.get("learner_id"), record.get("iteration"), record.get("task"), record.get("key"))] += 1
        return done
