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
The checks are plain pytest tests that run their own event loop (``asyncio.run``): no
pytest-asyncio configuration is needed. Each failure is a :class:`ContractFailure` whose
message names the check, the policy and what to change.
The checks: ``max_iter`` ends the campaign with ``max_iter_reached``; a met criterion with
``criterion_met``; every task kind is a field of the learner's ``config_class``; ``stop()`` and
a ``break`` with ``stopped``; after a ``break`` or ``aclose()`` the trackers have had
``on_stop`` before control returns; trackers see start, then iterations, then stop;
``set_next_config`` takes effect at the next iteration; every state value is recorded once; one
stop record per campaign in each journal; and a campaign interrupted in the middle of an
iteration resumes at that iteration without re-running a task the journal records as finished
(a task the policy calls twice with the same inputs is matched in call order); and a campaign
stopped and resumed at two points gives the same task inputs, carries, metrics and stop reason
as an uninterrupted one (this catches state kept outside :attr:`rose.Outcome.carry`: on
``self``, in a closure, in a module global).
"""

from __future__ import annotations

import asyncio
import collections
import os
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import pytest

from rose import results
from rose.config import LearnerConfig, TaskConfig
from rose.fingerprint import changed, describe
from rose.journal import JOURNAL_NAME, read_journal
from rose.learner import Learner
from rose.state import IterationState
from rose.streaming import LearnerRun
from rose.testing.kinds import task_kinds_without_field
from rose.testing.policy import ContractFailure
from rose.testing.recording import RecordingTracker

__all__ = ["ContractFailure", "LearnerContract"]

#: the contract's criterion: mean squared error, stops below this
THRESHOLD = 0.5
NOT_MET = 1.0
MET = 0.0

_CARRY_FIX = (
    "keep everything the next iteration needs in the carry: return Outcome(carry=...) from evaluate() and read "
    "it back from step.inputs in prepare() (not on self, in a closure or a module global); draw random numbers "
    "from a generator whose seed or state is in the carry"
)


class LearnerContract:
    """Base test class: subclass it as ``Test<Policy>Contract`` and implement :meth:`make_learner`."""

    #: True for a parent of several children whose states arrive interleaved (parallel learners)
    streamed_children: ClassVar[bool] = False
    #: the learner ids the states carry (``[None]`` for a sequential policy)
    learner_ids: ClassVar[list[Any]] = [None]
    #: True for a policy whose task inputs depend on timing (a steady-state learner selects
    #: with whatever is pending at that moment): two runs never call the same tasks, so the
    #: interruption checks only require that no task the journal records as finished runs again
    timing_dependent: ClassVar[bool] = False

    # -- what a policy's test provides -------------------------------------------------
    def make_learner(self, engine: Any) -> Learner:
        """A new learner on ``engine`` with every task it needs registered as function tasks."""
        raise NotImplementedError("LearnerContract subclasses implement make_learner(engine)")

    def start(self, learner: Learner, *, max_iter: int, config: LearnerConfig | None, resume: Any = None) -> LearnerRun:
        """Start ``learner`` with ``config`` for every learner it runs."""
        return learner.start(max_iter=max_iter, initial_config=config, resume=resume)

    async def open_engine(self) -> Any:
        """The engine the checks run on (``rose.testing``'s thread backend); override for another."""
        from rose.engine import engine
        from rose.testing.thread_backend import TEST_BACKEND, ensure_test_backend

        ensure_test_backend()
        return await engine(TEST_BACKEND)

    # -- helpers ------------------------------------------------------------------------
    @pytest.fixture
    def contract_dir(self, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
        """A clean current directory and runs directory per check."""
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("ROSE_RUNS_DIR", os.fspath(tmp_path / "runs"))
        return tmp_path

    def run_check(self, check: Callable[[Any], Awaitable[None]]) -> None:
        """Run ``check(engine)`` in an event loop of its own, the engine shut down after it."""

        async def main() -> None:
            engine = await self.open_engine()
            try:
                await check(engine)
            finally:
                await engine.shutdown()

        asyncio.run(main())

    def expect(self, ok: Any, check: str, learner: Learner | None, problem: str, fix: str) -> None:
        """Raise :class:`ContractFailure` naming ``check``, the policy, the ``problem`` and the ``fix``."""
        if ok:
            return
        policy = type(learner) if learner is not None else None
        name = f"{policy.__module__}.{policy.__qualname__}" if policy is not None else type(self).__name__
        raise ContractFailure(f"LearnerContract check {check!r} failed for policy {name}: {problem}. Fix: {fix}.")

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

    def stop_reason(self, learner: Learner) -> str | None:
        """The reason the recording tracker received with ``on_stop`` (None if it got none)."""
        stop = self.tracker(learner).stop
        return stop[1] if stop is not None else None

    @staticmethod
    def met_at(iteration: int | None) -> LearnerConfig:
        """A configuration whose criterion is met at ``iteration`` (never for None)."""
        schedule = {-1: TaskConfig(kwargs={"value": NOT_MET})}
        if iteration is not None:
            schedule[iteration] = TaskConfig(kwargs={"value": MET})
        return LearnerConfig(criterion=schedule)

    @staticmethod
    def journal_dirs(run_dir: str) -> list[str]:
        """Every folder of a campaign directory holding a journal (children's included)."""
        return sorted(folder for folder, _dirs, files in os.walk(run_dir) if JOURNAL_NAME in files)

    def journals(self, run_dir: str) -> list[list[dict[str, Any]]]:
        """The records of every journal in a campaign directory (children's included)."""
        return [list(read_journal(folder)) for folder in self.journal_dirs(run_dir)]

    def by_learner(self, states: list[IterationState]) -> dict[Any, list[int]]:
        """Iteration numbers per learner id."""
        out: dict[Any, list[int]] = collections.defaultdict(list)
        for state in states:
            out[state.learner_id].append(state.iteration)
        return dict(out)

    async def interrupt_in(self, learner: Learner, iteration: int, max_iter: int, resume: Any = None) -> bool:
        """Run ``learner`` and cancel it as soon as a task of ``iteration`` finished (a kill in the
        middle of that iteration); True when that happened."""
        consumer = asyncio.current_task()
        assert consumer is not None
        interrupted = asyncio.Event()

        def interrupt(event: dict[str, Any]) -> None:
            if event.get("iteration") == iteration and event.get("status") == "done" and not interrupted.is_set():
                interrupted.set()
                consumer.cancel()

        learner.on_task_event(interrupt)
        try:
            async for _state in self.start(learner, max_iter=max_iter, config=self.met_at(None), resume=resume):
                pass
        except asyncio.CancelledError:
            if not interrupted.is_set():
                raise
            uncancel = getattr(consumer, "uncancel", None)  # Python >= 3.11
            if uncancel is not None:
                uncancel()
        return interrupted.is_set()

    def summary(self, run_dir: str) -> dict[str, Any]:
        """What a campaign did, from its journals: per (learner, iteration) the task calls
        (task, inputs key) counted, their input digests, the carry and the metric; the last stop reason."""
        calls: dict[tuple[Any, Any], collections.Counter[tuple[str, str]]] = collections.defaultdict(collections.Counter)
        inputs: dict[tuple[Any, Any, str, str], Any] = {}
        carries: dict[tuple[Any, Any], Any] = {}
        metrics: dict[tuple[Any, Any], Any] = {}
        reason = None
        for folder in self.journal_dirs(run_dir):
            for record in read_journal(folder):
                kind = record["type"]
                if kind == "task" and record.get("status") == "done":
                    where = (record.get("learner_id"), record.get("iteration"))
                    call = (str(record.get("task")), str(record.get("key", "")))
                    calls[where][call] += 1
                    inputs.setdefault((*where, *call), record.get("inputs") or {})
                elif kind == "iteration":
                    state = record.get("state") or {}
                    where = (state.get("learner_id", record.get("learner_id")), state.get("iteration"))
                    metrics[where] = state.get("metric_value")
                    if "carry" in record and results.is_stored(record["carry"]):
                        carries[where] = results.decode(record["carry"], folder)
                elif kind == "stop" and record.get("learner_id") is None:
                    reason = record.get("reason")
        return {"calls": dict(calls), "inputs": inputs, "carries": carries, "metrics": metrics, "reason": reason}

    def compare_runs(
        self, check: str, learner: Learner | None, reference: dict[str, Any], other: dict[str, Any], how: str
    ) -> None:
        """Fail ``check`` when ``other`` did something else than the uninterrupted ``reference``."""
        if self.timing_dependent:
            for (lid, iteration), calls in other["calls"].items():
                usual = reference["calls"].get((lid, iteration), collections.Counter())
                again = sorted(task for (task, key), count in calls.items() if count > max(1, usual[(task, key)]))
                self.expect(not again, check, learner,
                            f"{how}, iteration {iteration} ran {again} again with the inputs of a finished run",
                            "run tasks with step.run(...) so a resume hands back their recorded results")
            return
        for where in sorted(set(reference["calls"]) | set(other["calls"]), key=repr):
            want, got = reference["calls"].get(where, collections.Counter()), other["calls"].get(where, collections.Counter())
            if want == got:
                continue
            lid, iteration = where
            who = f"iteration {iteration}" + (f" of learner {lid}" if lid is not None else "")
            extra, missing = sorted((got - want).elements()), sorted((want - got).elements())
            other_inputs = [(task, key) for task, key in extra if (task, key) not in want]
            if other_inputs:
                task, key = other_inputs[0]
                now = other["inputs"].get((*where, task, key), {})
                recorded = [reference["inputs"].get((*where, *call), {}) for call in want if call[0] == task]
                moved = min((changed(old, now) for old in recorded), key=len) if recorded else []
                problem = (f"{how}, task {task!r} of {who} got other inputs than in the uninterrupted run "
                           f"(changed: {describe(moved) or 'its inputs'})")
            elif extra:
                problem = (f"{how}, {who} ran {[task for task, _key in extra]} once more than the uninterrupted run: "
                           f"a task the journal records as finished ran again")
            else:
                problem = f"{how}, {who} did not run {[task for task, _key in missing]}, which the uninterrupted run ran"
            self.expect(False, check, learner, problem, _CARRY_FIX)
        for field, what in (("carries", "carry"), ("metrics", "metric value")):
            for where, want in reference[field].items():
                got = other[field].get(where, want)
                same = results.encode(got) == results.encode(want) if _storable(got, want) else True
                self.expect(same, check, learner,
                            f"{how}, the {what} of iteration {where[1]}"
                            + (f" of learner {where[0]}" if where[0] is not None else "")
                            + f" is {got!r}, the uninterrupted run's was {want!r}", _CARRY_FIX)
        self.expect(other["reason"] == reference["reason"], check, learner,
                    f"{how}, the campaign ended with {other['reason']!r}, the uninterrupted one with {reference['reason']!r}",
                    _CARRY_FIX)

    async def reference_run(self, engine: Any, max_iter: int) -> tuple[Learner, dict[str, Any]]:
        """An uninterrupted campaign of ``max_iter`` iterations and its :meth:`summary`."""
        learner = self.learner(engine)
        async for _state in self.start(learner, max_iter=max_iter, config=self.met_at(None)):
            pass
        return learner, self.summary(learner.run_dir)

    # -- the checks -----------------------------------------------------------------------
    def test_max_iter_ends_with_max_iter_reached(self, contract_dir: Any) -> None:
        """max_iter ends the campaign with max_iter_reached; trackers see start, iterations, stop."""
        check = "max_iter ends the campaign with max_iter_reached"

        async def run(engine: Any) -> None:
            learner = self.learner(engine)
            states = [s async for s in self.start(learner, max_iter=3, config=self.met_at(None))]
            got = self.by_learner(states)
            self.expect(got == {lid: [0, 1, 2] for lid in self.learner_ids}, check, learner,
                        f"start(max_iter=3) yielded iterations {got} (per learner id), expected 0, 1, 2 for "
                        f"learner ids {self.learner_ids}",
                        "run exactly one evaluate() per iteration; set learner_ids (parallel) to the ids your states carry")
            self.expect(self.stop_reason(learner) == "max_iter_reached", check, learner,
                        f"trackers got on_stop reason {self.stop_reason(learner)!r}",
                        "let Learner.start() run the loop (do not end it yourself)")
            tracker = self.tracker(learner)
            kinds = [kind for kind, _ in tracker.events]
            self.expect(kinds and kinds[0] == "start" and kinds[-1] == "stop" and len(tracker.states) == len(states),
                        check, learner, f"trackers saw {kinds}, expected start, one iteration per state, stop",
                        "do not call trackers yourself; yield every state the campaign produces")
            for records in self.journals(learner.run_dir):
                stops = [r.get("reason") for r in records if r["type"] == "stop"]
                self.expect(stops == ["max_iter_reached"], check, learner,
                            f"a journal holds stop records {stops}", "let the campaign write the journal")

        self.run_check(run)

    def test_every_task_kind_has_a_configuration_field(self, contract_dir: Any) -> None:
        """Each ``<kind>_task`` of the learner is a field of its ``config_class`` (a configuration reaches it)."""

        async def run(engine: Any) -> None:
            learner = self.learner(engine)
            missing = task_kinds_without_field(type(learner))
            self.expect(not missing, "every task kind has a configuration field", learner,
                        f"its task kind(s) {missing} are no field of its config_class {learner.config_class.__name__}",
                        "set config_class to the configuration class of the learner's kind (hook rose_learner_kinds)")

        self.run_check(run)

    def test_criterion_met_ends_with_criterion_met(self, contract_dir: Any) -> None:
        """A met criterion ends the campaign with criterion_met."""
        check = "a met criterion ends the campaign with criterion_met"

        async def run(engine: Any) -> None:
            learner = self.learner(engine)
            states = [s async for s in self.start(learner, max_iter=5, config=self.met_at(1))]
            got = self.by_learner(states)
            fix = "run the criterion with `met, value = await step.criterion()` and return Outcome(should_stop=met, ...)"
            self.expect(got == {lid: [0, 1] for lid in self.learner_ids}, check, learner,
                        f"with the criterion met at iteration 1 the campaign ran iterations {got}", fix)
            self.expect(all(s.should_stop for s in states if s.iteration == 1), check, learner,
                        "the state of iteration 1 has should_stop False", fix)
            self.expect(self.stop_reason(learner) == "criterion_met", check, learner,
                        f"the campaign ended with {self.stop_reason(learner)!r}", fix)

        self.run_check(run)

    def test_break_reports_stopped_before_control_returns(self, contract_dir: Any) -> None:
        """After a break, on_stop('stopped') has been delivered before the next line runs."""
        check = "a break ends the campaign with stopped"

        async def run(engine: Any) -> None:
            learner = self.learner(engine)
            async for _state in self.start(learner, max_iter=50, config=self.met_at(None)):
                break
            fix = "do not catch GeneratorExit or CancelledError in prepare()/evaluate()"
            self.expect(self.stop_reason(learner) == "stopped", check, learner,
                        f"after the break the trackers had on_stop {self.stop_reason(learner)!r}, not 'stopped'", fix)
            await asyncio.sleep(0.05)  # the cancelled tasks wind down
            kinds = [kind for kind, _ in self.tracker(learner).events]
            self.expect(kinds[0] == "start" and kinds.count("stop") == 1, check, learner,
                        f"trackers saw {kinds}", fix)

        self.run_check(run)

    def test_aclose_reports_stopped_before_control_returns(self, contract_dir: Any) -> None:
        """Leaving ``async with`` delivers on_stop('stopped') before control returns."""

        async def run(engine: Any) -> None:
            learner = self.learner(engine)
            async with self.start(learner, max_iter=50, config=self.met_at(None)) as states:
                async for _state in states:
                    break
            self.expect(self.stop_reason(learner) == "stopped", "leaving `async with` ends with stopped", learner,
                        f"the trackers had on_stop {self.stop_reason(learner)!r}",
                        "do not catch GeneratorExit or CancelledError in prepare()/evaluate()")

        self.run_check(run)

    def test_stop_ends_with_stopped(self, contract_dir: Any) -> None:
        """stop() ends the campaign after the current step, with stopped."""
        check = "stop() ends the campaign with stopped"

        async def run(engine: Any) -> None:
            learner = self.learner(engine)
            states = []
            async for state in self.start(learner, max_iter=20, config=self.met_at(None)):
                states.append(state)
                learner.stop()
            fix = "let Learner.start() run the loop; a parent of children forwards stop() (rose.fanout does)"
            last = max(s.iteration for s in states)
            self.expect(last <= 1, check, learner, f"after stop() the campaign went on to iteration {last}", fix)
            self.expect(self.stop_reason(learner) == "stopped", check, learner,
                        f"the campaign ended with {self.stop_reason(learner)!r}", fix)
            for records in self.journals(learner.run_dir):
                stops = [r.get("reason") for r in records if r["type"] == "stop"]
                self.expect(stops == ["stopped"], check, learner, f"a journal holds stop records {stops}", fix)

        self.run_check(run)

    def test_set_next_config_takes_effect_at_the_next_iteration(self, contract_dir: Any) -> None:
        """set_next_config applies from the next iteration on."""
        check = "set_next_config takes effect at the next iteration"

        async def run(engine: Any) -> None:
            learner = self.learner(engine)
            changed_at: dict[Any, int] = {}
            states = []
            async for state in self.start(learner, max_iter=4, config=self.met_at(None)):
                states.append(state)
                if not changed_at:
                    changed_at[state.learner_id] = state.iteration
                    learner.set_next_config(LearnerConfig(criterion=TaskConfig(kwargs={"value": 0.75})))
            (first_id, first), = changed_at.items()
            mine = [s for s in states if s.learner_id == first_id]
            fix = "run tasks with step.run(...)/step.criterion(...), which read step.config, the configuration in force"
            before = [s.metric_value for s in mine if s.iteration <= first]
            self.expect(before == [NOT_MET] * (first + 1), check, learner,
                        f"metric values up to iteration {first} were {before}", fix)
            later = [s.metric_value for s in mine if s.iteration > first]
            if self.streamed_children:  # the next state may already have been under way
                ok = later[1:] == [0.75] * (len(later) - 1)
            else:
                ok = bool(later) and later == [0.75] * len(later)
            self.expect(ok, check, learner, f"after set_next_config the metric values were {later}, expected 0.75", fix)

        self.run_check(run)

    def test_every_state_value_is_recorded_once(self, contract_dir: Any) -> None:
        """Each state value reaches on_state_update once per iteration."""

        async def run(engine: Any) -> None:
            learner = self.learner(engine)
            seen: collections.Counter[str] = collections.Counter()
            learner.on_state_update(lambda key, value: seen.update([key]))
            states = [s async for s in self.start(learner, max_iter=3, config=self.met_at(None))]
            in_states: collections.Counter[str] = collections.Counter()
            for state in states:
                in_states.update(state.state.keys())
            self.expect(seen == in_states, "every state value is recorded once", learner,
                        f"on_state_update saw {dict(seen)}, the states hold {dict(in_states)}",
                        "record each value once per iteration (register_state, or a dict result with record_state=True)")

        self.run_check(run)

    def test_resume_continues_the_interrupted_iteration_without_rerunning_tasks(self, contract_dir: Any) -> None:
        """A resume continues the interrupted iteration; no journaled task runs twice (a task
        called twice with the same inputs is matched in call order)."""
        check = "a resume continues the interrupted iteration without re-running tasks"

        async def run(engine: Any) -> None:
            _reference, expected = await self.reference_run(engine, 4)
            learner = self.learner(engine)
            self.expect(await self.interrupt_in(learner, 2, 4), check, learner,
                        "no task of iteration 2 finished: the policy ran nothing at iteration 2",
                        "run the iteration's work as tasks (step.run) so that it is journaled")
            run_dir = learner.run_dir
            finished = self._finished_iterations(run_dir)
            resumed = self.learner(engine)
            states = [s async for s in self.start(resumed, max_iter=4, config=self.met_at(None), resume=run_dir)]
            want = {lid: list(range(finished.get(lid, -1) + 1, 4)) for lid in self.learner_ids}
            want = {lid: its for lid, its in want.items() if its}
            got = self.by_learner(states)
            self.expect(got == want, check, resumed, f"the resume ran iterations {got}, expected {want}",
                        "let Learner.start(resume=...) position the campaign; do not count iterations yourself")
            self.compare_runs(check, resumed, expected, self.summary(run_dir), "after a resume in iteration 2")

        self.run_check(run)

    def test_interrupted_campaign_equals_an_uninterrupted_one(self, contract_dir: Any) -> None:
        """Stopped in the middle of iteration 1 and after iteration 2, resumed each time, a campaign
        calls the same tasks with the same inputs, carries and metrics, and ends the same way
        as an uninterrupted one (catches state kept outside the carry)."""
        check = "an interrupted and resumed campaign equals an uninterrupted one"

        async def run(engine: Any) -> None:
            _reference, expected = await self.reference_run(engine, 4)
            learner = self.learner(engine)
            self.expect(await self.interrupt_in(learner, 1, 4), check, learner,
                        "no task of iteration 1 finished", "run the iteration's work as tasks (step.run)")
            run_dir = learner.run_dir
            second = self.learner(engine)
            async with self.start(second, max_iter=4, config=self.met_at(None), resume=run_dir) as states:
                async for state in states:  # leaving `async with` waits until every task is cancelled
                    if state.iteration >= 2:
                        break
            third = self.learner(engine)
            async for _state in self.start(third, max_iter=4, config=self.met_at(None), resume=run_dir):
                pass
            self.compare_runs(check, third, expected, self.summary(run_dir),
                              "stopped in iteration 1 and after iteration 2 and resumed each time")

        self.run_check(run)

    def _finished_iterations(self, run_dir: str) -> dict[Any, int]:
        last: dict[Any, int] = {}
        for records in self.journals(run_dir):
            for record in records:
                if record["type"] == "iteration":
                    state = record.get("state") or {}
                    lid = state.get("learner_id", record.get("learner_id"))
                    last[lid] = max(last.get(lid, -1), int(state["iteration"]))
        return last


def _storable(*values: Any) -> bool:
    try:
        for value in values:
            results.encode(value)
    except results.Unstorable:
        return False
    return True
