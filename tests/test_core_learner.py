"""The Learner base class on a real asyncflow engine: tasks, criterion, trackers, streaming."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from rose import LearnerConfig, TaskConfig
from rose.campaign import Outcome, Step
from rose.errors import CriterionOutputError, LearnerFailedError, ResourceError, TaskFailedError
from rose.journal import read_journal
from rose.learner import Learner
from rose.state import IterationState
from rose.streaming import LearnerRun, stream_learners
from rose.testing import PluginSandbox, RecordingTracker


class LoopLearner(Learner):
    """The smallest policy: simulation then criterion, every iteration."""

    required_tasks = ("simulation",)

    def start(self, max_iter: int = 0, config: LearnerConfig | None = None, **options: Any) -> LearnerRun:  # type: ignore[override]
        return super().start(max_iter, initial_config=config, **options)

    async def evaluate(self, step: Step) -> Outcome:
        result = await step.run("simulation")
        met, value = await step.criterion(result)
        return Outcome(metric_value=value, should_stop=met)


def make(engine: Any, values: list[float] | None = None, **criterion: Any) -> LoopLearner:
    learner = LoopLearner(engine)

    @learner.simulation_task(as_executable=False)
    async def simulation(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return {"n": kwargs.get("n", 0), "args": list(args)}

    if values is not None:
        feed = iter(values)

        @learner.as_stop_criterion(metric_name="mean_squared_error_mse", threshold=0.1, as_executable=False, **criterion)
        async def check(*args: Any, **kwargs: Any) -> float:
            return next(feed)

    return learner


async def test_states_stream_and_await_returns_the_final_state(rose_plugins: PluginSandbox, rose_engine: Any) -> None:
    learner = make(rose_engine, [0.5, 0.2, 0.05, 0.01])
    tracker = RecordingTracker()
    learner.add_tracker(tracker)
    cfg = LearnerConfig(simulation={0: TaskConfig(args=("a",), kwargs={"n": 1}), -1: TaskConfig(kwargs={"n": 2})})
    final = await learner.start(max_iter=10, config=cfg)
    assert final.iteration == 2 and final.should_stop and final.metric_value == 0.05
    assert final.metric_history == [0.5, 0.2, 0.05]
    assert [s.state["n"] for s in tracker.states] == [1, 2, 2]
    assert tracker.states[0].state["args"] == ["a"]
    assert tracker.stop is not None and tracker.stop[1] == "criterion_met"
    assert tracker.manifest.criterion.operator == "<" and tracker.manifest.max_iter == 10
    records = list(read_journal(learner.run_dir))
    assert [r["type"] for r in records].count("iteration") == 3
    assert records[-1]["type"] == "stop" and records[-1]["reason"] == "criterion_met"
    assert sum(1 for r in records if r["type"] == "task" and r["task"] == "simulation") == 3


async def test_max_iter_reached_and_break_reports_stopped(rose_plugins: PluginSandbox, rose_engine: Any) -> None:
    learner = make(rose_engine)
    tracker = RecordingTracker()
    learner.add_tracker(tracker)
    states = [s async for s in learner.start(max_iter=3)]
    assert [s.iteration for s in states] == [0, 1, 2]
    assert tracker.stop is not None and tracker.stop[1] == "max_iter_reached"

    tracker2 = RecordingTracker()
    learner.trackers = [tracker2]
    async with learner.start(max_iter=50) as states:
        async for state in states:
            if state.iteration == 1:
                break
    assert tracker2.stop is not None and tracker2.stop[1] == "stopped"
    assert tracker2.stop[0].iteration == 1

    tracker3 = RecordingTracker()
    learner.trackers = [tracker3]
    async for state in learner.start(max_iter=50):
        if state.iteration == 0:
            break
    await asyncio.sleep(0.05)  # a plain break: Python closes the generator on the next loop turn
    assert tracker3.stop is not None and tracker3.stop[1] == "stopped"


async def test_stop_and_set_next_config(rose_plugins: PluginSandbox, rose_engine: Any) -> None:
    learner = make(rose_engine)
    seen = []
    async for state in learner.start(max_iter=10, config=LearnerConfig(simulation=TaskConfig(kwargs={"n": 1}))):
        seen.append(state.state["n"])
        if state.iteration == 1:
            learner.set_next_config(LearnerConfig(simulation=TaskConfig(kwargs={"n": 9})))
        if state.iteration == 3:
            learner.stop()
    assert seen == [1, 1, 9, 9]


async def test_validation_happens_before_any_compute(rose_plugins: PluginSandbox, rose_engine: Any) -> None:
    learner = make(rose_engine)
    with pytest.raises(ValueError, match="Either max_iter > 0 or a stop criterion"):
        learner.start(max_iter=0)
    with pytest.raises(ValueError, match="max_iter must be a whole number"):
        learner.start(max_iter=-1)
    empty = LoopLearner(rose_engine)
    with pytest.raises(ValueError, match=r"needs task\(s\) \['simulation'\].*@learner.simulation_task"):
        empty.start(max_iter=1)
    with pytest.raises(TypeError, match="must be defined with `async def`"):
        empty.simulation_task(lambda: "echo")
    with pytest.raises(TypeError, match="unknown option.*'num_gpus'.*resources="):
        empty.simulation_task(num_gpus=4)(_noop)


async def _noop(*args: Any, **kwargs: Any) -> str:
    return "true"


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("loss is low", "did not print a number on its last line"),
        ("", "printed nothing"),
        ("nan", "produced nan, which can never meet a threshold"),
        ("inf", "produced inf"),
    ],
)
async def test_criterion_output_errors_name_the_task_and_show_the_output(
    rose_plugins: PluginSandbox, rose_engine: Any, output: str, message: str
) -> None:
    learner = make(rose_engine)

    @learner.as_stop_criterion(metric_name="mean_squared_error_mse", threshold=0.1)
    async def check(*args: Any, **kwargs: Any) -> list[str]:
        return [sys.executable, "-c", f"print({output!r})"]

    tracker = RecordingTracker()
    learner.add_tracker(tracker)
    with pytest.raises(CriterionOutputError, match=message) as info:
        await learner.start(max_iter=3)
    assert "stop criterion 'check' at iteration 0" in str(info.value)
    assert repr(output) in str(info.value) or output in str(info.value)
    assert tracker.stop is not None and tracker.stop[1] == "error"


async def test_executable_criterion_reads_the_last_line_and_dicts(rose_plugins: PluginSandbox, rose_engine: Any) -> None:
    learner = make(rose_engine)

    @learner.as_stop_criterion(metric_name="mean_squared_error_mse", threshold=0.1)
    async def check(*args: Any, **kwargs: Any) -> str:
        return f"{sys.executable} -c \"print('training done'); print(0.05)\""

    final = await learner.start(max_iter=3)
    assert final.metric_value == 0.05 and final.iteration == 0

    learner2 = make(rose_engine)

    @learner2.as_stop_criterion(metric_name="model_accuracy", threshold=0.9, as_executable=False)
    async def accuracy(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return {"metric_value": 0.95, "n_test": 100}

    final2 = await learner2.start(max_iter=3)
    assert final2.metric_value == 0.95 and final2.should_stop and final2.state["n_test"] == 100


async def test_failed_executable_names_task_exit_code_command_and_stderr(rose_plugins: PluginSandbox, rose_engine: Any) -> None:
    learner = LoopLearner(rose_engine)

    @learner.simulation_task
    async def simulation(*args: Any, **kwargs: Any) -> list[str]:
        return [sys.executable, "-c", "import sys; print('bad input', file=sys.stderr); sys.exit(3)"]

    with pytest.raises(TaskFailedError) as info:
        await learner.start(max_iter=1)
    text = str(info.value)
    assert "task 'simulation'" in text and "iteration 0" in text
    assert "exit code: 3" in text and "bad input" in text and "sys.exit(3)" in text
    assert info.value.exit_code == 3


async def test_function_task_exception_keeps_its_type(rose_plugins: PluginSandbox, rose_engine: Any) -> None:
    learner = LoopLearner(rose_engine)

    @learner.simulation_task(as_executable=False)
    async def simulation(*args: Any, **kwargs: Any) -> None:
        raise KeyError("missing column")

    with pytest.raises(KeyError, match="missing column"):
        await learner.start(max_iter=1)


async def test_quoting_survives_without_a_shell(rose_plugins: PluginSandbox, rose_engine: Any) -> None:
    learner = LoopLearner(rose_engine)

    @learner.simulation_task
    async def simulation(*args: Any, **kwargs: Any) -> str:
        return "echo 'a;b' \"it's\""

    assert await simulation() == "a;b it's\n"  # a decorated task can be run directly
    assert await learner.run_task("simulation", iteration=0) == "a;b it's\n"


async def test_retries_then_success(rose_plugins: PluginSandbox, rose_engine: Any, tmp_path: Any) -> None:
    learner = LoopLearner(rose_engine)
    marker = tmp_path / "attempts"

    @learner.simulation_task(retries=2, retry_backoff=0.01)
    async def simulation(*args: Any, **kwargs: Any) -> list[str]:
        code = f"import pathlib,sys; p=pathlib.Path({str(marker)!r}); n=len(p.read_text()) if p.exists() else 0; " \
               "p.write_text('x'*(n+1)); sys.exit(0 if n >= 2 else 1)"
        return [sys.executable, "-c", code]

    await learner.start(max_iter=1)
    assert marker.read_text() == "xxx"
    attempts = [r for r in read_journal(learner.run_dir) if r["type"] == "task"]
    assert [r["status"] for r in attempts] == ["failed", "failed", "done"]


async def test_unsatisfiable_resources_name_task_request_and_backend(rose_plugins: PluginSandbox, rose_engine: Any) -> None:
    learner = LoopLearner(rose_engine)

    @learner.simulation_task(resources={"gpus": 2})
    async def simulation(*args: Any, **kwargs: Any) -> str:
        return "true"

    with pytest.raises(ResourceError, match="task 'simulation' asks for .*gpus=2.*'test-threads' backend"):
        await learner.start(max_iter=1)


class SlowTracker(RecordingTracker):
    def on_iteration(self, state: IterationState) -> None:
        time.sleep(0.3)
        super().on_iteration(state)


class FailingTracker(RecordingTracker):
    def on_iteration(self, state: IterationState) -> None:
        raise RuntimeError("tracker server down")


async def test_slow_and_failing_trackers_never_stall_or_break_the_loop(
    rose_plugins: PluginSandbox, rose_engine: Any, caplog: pytest.LogCaptureFixture
) -> None:
    learner = make(rose_engine)
    slow, failing = SlowTracker(), FailingTracker()
    learner.add_tracker(slow)
    learner.add_tracker(failing)
    delivered_when_yielded = []
    with caplog.at_level(logging.WARNING):
        async for _ in learner.start(max_iter=4):
            delivered_when_yielded.append(len(slow.states))
    # the tracker needs 1.2 s for four states; the loop ran ahead of it instead of waiting
    assert delivered_when_yielded[-1] < 3, delivered_when_yielded
    assert len(slow.states) == 4 and slow.stop is not None  # nothing lost at the stop
    assert "tracker FailingTracker failed in on_iteration" in caplog.text
    with pytest.raises(TypeError, match="lacks on_iteration, on_stop"):
        learner.add_tracker(type("NotATracker", (), {"on_start": lambda self, m: None})())


class OneAtATimeTracker(RecordingTracker):
    """Records calls and whether two of them ever overlapped (it is not thread-safe)."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = 0
        self.overlapped = False

    def _enter(self) -> None:
        self.inside += 1
        self.overlapped |= self.inside > 1
        time.sleep(0.002)  # widen the window an overlap would need
        self.inside -= 1

    def on_start(self, manifest: Any) -> None:
        self._enter()
        super().on_start(manifest)

    def on_iteration(self, state: IterationState) -> None:
        self._enter()
        super().on_iteration(state)

    def on_stop(self, final_state: Any, reason: str) -> None:
        self._enter()
        super().on_stop(final_state, reason)


async def test_a_tracker_shared_by_learners_gets_their_calls_one_at_a_time_in_order(
    rose_plugins: PluginSandbox, rose_engine: Any
) -> None:
    tracker = OneAtATimeTracker()
    learners = []
    for learner_id, length in enumerate((1, 3, 6)):
        learner = make(rose_engine, [0.5] * (length - 1) + [0.01])
        learner.learner_id = learner_id
        learner.add_tracker(tracker)
        learners.append(learner)
    runs = [(n, learner.start(max_iter=10).__aiter__()) for n, learner in enumerate(learners)]
    seen = [s async for s in stream_learners(runs)]
    assert len(seen) == 10
    kinds = [kind for kind, _ in tracker.events]
    # the one-iteration learner stops long before the others: still every start comes first
    assert kinds[:3] == ["start"] * 3 and kinds.count("stop") == 3, kinds
    assert [s.learner_id for s in tracker.states if s.learner_id == 2] == [2] * 6
    assert not tracker.overlapped


async def test_stream_learners_isolates_failures_and_cancels_on_close(rose_plugins: PluginSandbox, rose_engine: Any) -> None:
    async def good(n: int) -> AsyncIterator[IterationState]:
        for i in range(n):
            await asyncio.sleep(0.01)
            yield IterationState(iteration=i)

    async def bad() -> AsyncIterator[IterationState]:
        yield IterationState(iteration=0)
        raise RuntimeError("learner exploded")

    seen: list[tuple[Any, int]] = []
    with pytest.raises(LearnerFailedError, match="learner 1 failed: RuntimeError: learner exploded"):
        async for state in stream_learners([(0, good(5)), (1, bad()), (2, good(5))]):
            seen.append((state.learner_id, state.iteration))
    assert sorted(i for lid, i in seen if lid == 0) == [0, 1, 2, 3, 4]
    assert sorted(i for lid, i in seen if lid == 2) == [0, 1, 2, 3, 4]

    cancelled = asyncio.Event()

    async def endless() -> AsyncIterator[IterationState]:
        try:
            i = 0
            while True:
                await asyncio.sleep(0.01)
                yield IterationState(iteration=i)
                i += 1
        finally:
            cancelled.set()

    stream = stream_learners([(0, endless()), (1, endless())])
    async for state in stream:
        if state.iteration >= 2:
            break
    await stream.aclose()
    assert cancelled.is_set()


async def test_resume_refuses_another_learner_type_and_a_finished_campaign_runs_nothing(
    rose_plugins: PluginSandbox, rose_engine: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from rose.errors import RoseError

    class OtherLoop(LoopLearner):
        pass

    learner = make(rose_engine, [0.5, 0.05])
    final = await learner.start(max_iter=5)
    assert final.should_stop and learner.stop_reason == "criterion_met"
    with pytest.raises(RoseError, match="written by a LoopLearner.*Resume it with a LoopLearner"):
        await make_other(OtherLoop, rose_engine).start(max_iter=5, resume=learner.run_dir)
    again = make(rose_engine, [0.5])
    tracker = RecordingTracker()
    again.add_tracker(tracker)
    with caplog.at_level(logging.WARNING, logger="rose.campaign"):
        states = [s async for s in again.start(max_iter=5, resume=learner.run_dir)]
    assert states == [] and "already met its stop criterion at iteration 1" in caplog.text
    assert tracker.stop is not None and tracker.stop[1] == "criterion_met"
    kinds = [r["type"] for r in read_journal(learner.run_dir)]
    assert kinds.count("iteration") == 2


def make_other(cls: type[LoopLearner], engine: Any) -> LoopLearner:
    other = cls(engine)

    @other.simulation_task(as_executable=False)
    async def simulation(*args: Any, **kwargs: Any) -> int:
        return 0

    return other


async def test_a_nan_threshold_is_refused(rose_plugins: PluginSandbox, rose_engine: Any) -> None:
    learner = make(rose_engine)
    with pytest.raises(ValueError, match="threshold nan is not a finite number.*would not stop"):
        learner.as_stop_criterion(metric_name="mean_squared_error_mse", threshold=float("nan"))


async def test_a_hanging_or_exiting_tracker_cannot_hang_the_campaign(
    rose_plugins: PluginSandbox, rose_engine: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys
    import threading

    from rose.tracking import TrackerBase

    forever = threading.Event()

    class Hanging(TrackerBase):
        def on_stop(self, final_state: Any, reason: str) -> None:
            forever.wait(30)

    class Exiting(TrackerBase):
        def on_iteration(self, state: Any) -> None:
            sys.exit(3)

    monkeypatch.setenv("ROSE_TRACKER_TIMEOUT", "0.5")
    learner = make(rose_engine)
    recorder = RecordingTracker()
    for tracker in (Hanging(), Exiting(), recorder):
        learner.add_tracker(tracker)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="rose.tracking"):
        states = [s async for s in learner.start(max_iter=2)]
    assert time.monotonic() - started < 5
    assert len(states) == 2 and recorder.stop is not None and recorder.stop[1] == "max_iter_reached"
    assert "tracker Hanging is still in on_stop after" in caplog.text
    assert "tracker Exiting failed in on_iteration (SystemExit)" in caplog.text
    forever.set()
