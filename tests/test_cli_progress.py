"""rose.builtin.progress.ProgressTracker: plain lines off a terminal, a live rich table on one."""

from __future__ import annotations

import io

from test_cli_runs import run_small_campaign

from rose.builtin.progress import ProgressTracker, short_metric_name
from rose.state import IterationState
from rose.testing import check_tracker
from rose.tracking import CriterionManifest, PipelineManifest


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def manifest(parallel: int | None = 2) -> PipelineManifest:
    return PipelineManifest(
        learner_type="ParallelActiveLearner", parallel_count=parallel, max_iter=5, run_dir="/tmp/run",
        criterion=CriterionManifest(func_name="check", func_module="m", as_executable=True,
                                    metric_name="root_mean_squared_error_rmse", threshold=3.0, operator="<"),
    )


def test_contract():
    check_tracker(ProgressTracker(stream=io.StringIO()))


async def test_plain_lines_for_a_real_campaign(rose_engine):
    out = io.StringIO()
    learner, states = await run_small_campaign(rose_engine, trackers=[ProgressTracker(stream=out)])
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[rose] SequentialActiveLearner: 1 learner, stop when MSE < 0.05, at most 8 iterations in ")
    iteration_lines = [line for line in lines if "] iteration " in line]
    assert len(iteration_lines) == len(states)
    assert iteration_lines[0].startswith("[rose] [only] iteration 1, MSE 0.2 (target < 0.05), labeled 5, ")
    assert iteration_lines[-1].endswith("criterion met")
    assert lines[-1].startswith("[rose] campaign finished: criterion met after ")


def test_running_tasks_and_rows_per_learner():
    tracker = ProgressTracker(stream=io.StringIO(), labels={0: "uncertainty"}, unit="m")
    tracker.on_start(manifest())
    assert [(r.learner_id, r.label, r.status) for r in tracker.rows()] == [
        (0, "uncertainty", "starting"), (1, "learner 1", "starting")]
    tracker.on_task({"learner_id": 1, "iteration": 0, "task": "simulation", "status": "running"})
    tracker.on_task({"learner_id": 0, "iteration": 0, "task": "training", "status": "running"})
    tracker.on_task({"learner_id": 0, "iteration": 0, "task": "training", "status": "done", "seconds": 0.2})
    rows = {r.learner_id: r for r in tracker.rows()}
    assert list(rows[1].running) == ["simulation"] and rows[1].status == "running"
    assert rows[0].running == {} and rows[0].tasks_done == 1
    tracker.on_iteration(IterationState(iteration=0, metric_name="root_mean_squared_error_rmse", metric_value=12.5,
                                        learner_id=1, state={"labeled_count": 18, "learner_label": "random"}))
    rows = {r.learner_id: r for r in tracker.rows()}
    assert (rows[1].label, rows[1].iteration, rows[1].metric, rows[1].labeled) == ("random", 0, 12.5, 18)
    assert rows[0].label == "uncertainty"  # an explicit label wins over the reported one
    tracker.on_iteration(IterationState(iteration=4, metric_name="root_mean_squared_error_rmse", metric_value=9.0,
                                        learner_id=1))
    assert {r.learner_id: r.status for r in tracker.rows()}[1] == "max_iter reached"
    tracker.on_stop(None, "max_iter_reached")
    assert {r.learner_id: r.status for r in tracker.rows()} == {0: "max iter reached", 1: "max_iter reached"}


def test_live_table_on_a_terminal():
    screen = FakeTerminal()
    tracker = ProgressTracker(stream=screen, labels={0: "uncertainty", 1: "random"}, unit="m")
    tracker.on_start(manifest())
    tracker.on_task({"learner_id": 1, "task": "simulation", "status": "running"})
    tracker.on_iteration(IterationState(iteration=2, metric_name="root_mean_squared_error_rmse", metric_value=2.5,
                                        should_stop=True, learner_id=0, state={"labeled_count": 26}))
    tracker.on_stop(None, "criterion_met")
    text = screen.getvalue()
    assert "[rose]" not in text  # no plain lines on a terminal
    assert "ParallelActiveLearner: stop when RMSE < 3 m" in text
    assert "uncertainty" in text and "2.5 m" in text and "26" in text and "criterion met" in text
    assert "random" in text


def test_short_metric_names():
    assert short_metric_name("root_mean_squared_error_rmse") == "RMSE"
    assert short_metric_name("mean_squared_error_mse") == "MSE"
    assert short_metric_name("model_accuracy") == "model_accuracy"
    assert short_metric_name(None) == "metric"


async def test_running_tasks_of_a_real_campaign(rose_engine):
    seen = []

    class Watching(ProgressTracker):
        def on_task(self, event):
            super().on_task(event)
            seen.append((event["iteration"], event["task"], event["status"], dict(self.rows()[0].running)))

    learner, states = await run_small_campaign(rose_engine, trackers=[Watching(stream=io.StringIO())])
    assert seen[0][:3] == (0, "simulation", "running") and "simulation" in seen[0][3]
    assert seen[1][:3] == (0, "simulation", "done") and seen[1][3] == {}
    started = [(i, t) for i, t, status, _ in seen if status == "running"]
    finished = [(i, t) for i, t, status, _ in seen if status == "done"]
    assert started == finished and len(started) == 4 * len(states)  # sim, train, select, criterion per iteration


def test_backend_lifecycle_messages_reach_the_progress_view():
    import logging

    out = io.StringIO()
    tracker = ProgressTracker(stream=out, live=False)
    logging.getLogger("rose.lifecycle.radical").info("pilot pilot.0000: queued on slurm (job 4711)")
    assert "[rose] pilot pilot.0000: queued on slurm (job 4711)" in out.getvalue()
    tracker.on_stop(None, "stopped")
    logging.getLogger("rose.lifecycle.radical").info("pilot pilot.0000: done")
    assert "done" not in out.getvalue().split("queued", 1)[1].split("campaign finished")[0]
    assert logging.getLogger("rose.lifecycle").propagate  # restored when the view closes
