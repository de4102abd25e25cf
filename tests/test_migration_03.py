"""ROSE 0.3 code migrates (issue 17, item 4): its import paths, names and error types still work."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import rose

# ROSE 0.3's module paths and the names its docs, examples and tests import from them
PATHS_03 = {
    "rose.al.active_learner": ["SequentialActiveLearner", "ParallelActiveLearner", "LearnerConfig", "TaskConfig"],
    "rose.al.selector": ["AlgorithmSelector"],
    "rose.uq.uq_learner": ["UQLearner", "UQLearnerConfig"],
    "rose.uq.uq_active_learner": ["SeqUQLearner", "ParallelUQLearner"],
    "rose.uq.uq_scorer": ["UQScorer", "register_uq", "UQ_REGISTRY"],
    "rose.integrations.mlflow_tracker": ["MLflowTracker"],
}


@pytest.mark.parametrize("module", sorted(PATHS_03))
def test_every_03_import_path_resolves_to_the_new_home(module):
    imported = importlib.import_module(module)
    for name in PATHS_03[module]:
        value = getattr(imported, name)
        assert name in dir(imported) and name in imported.__all__
        if name in ("LearnerConfig", "TaskConfig"):
            assert value is getattr(rose, name)
        elif module.startswith("rose.integrations"):
            assert value is rose.tracker("mlflow").__class__
        else:
            namespace = module.split(".")[1]
            assert value is getattr(importlib.import_module(f"rose.{namespace}"), name)
    with pytest.raises(AttributeError, match="ROSE 0.3's .* provided: "):
        imported.NoSuchName  # noqa: B018
    star: dict[str, object] = {}
    exec(f"from {module} import *", star)
    assert set(PATHS_03[module]) <= set(star)


def test_clearml_tracker_path_names_the_plugin_to_install():
    try:
        import rose_plugin_clearml.tracker as home
    except ImportError:
        with pytest.raises(ImportError, match=r"pip install rose-plugin-clearml"):
            from rose.integrations.clearml_tracker import ClearMLTracker
    else:
        from rose.integrations.clearml_tracker import ClearMLTracker

        assert ClearMLTracker is home.ClearMLTracker


def test_learning_metrics_and_the_top_level_metric_constants():
    from rose.metrics import MEAN_SQUARED_ERROR_MSE, MODEL_ACCURACY, LearningMetrics

    assert rose.MEAN_SQUARED_ERROR_MSE == MEAN_SQUARED_ERROR_MSE == "mean_squared_error_mse"
    assert rose.GREATER_THAN_THRESHOLD == ">"
    assert rose.LearningMetrics is LearningMetrics
    assert LearningMetrics.MODEL_ACCURACY.value == MODEL_ACCURACY
    assert LearningMetrics.is_supported_metric(MEAN_SQUARED_ERROR_MSE)
    assert not LearningMetrics.is_supported_metric("MSE")  # 0.3 matched the lowercase value too
    assert LearningMetrics.get_operator(MODEL_ACCURACY) == ">="
    assert LearningMetrics.OPERATORS.value[MEAN_SQUARED_ERROR_MSE] == "<"
    assert rose.active_learner is importlib.import_module("rose.al.active_learner")
    with pytest.raises(AttributeError):
        rose.NOT_A_METRIC  # noqa: B018


def test_import_rose_stays_fast_and_free_of_asyncio():
    code = "import sys, rose; rose.MEAN_SQUARED_ERROR_MSE; print('asyncio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_task_failed_error_is_a_runtime_error():
    from rose.errors import TaskFailedError, TaskTimeoutError

    assert issubclass(TaskFailedError, RuntimeError) and issubclass(TaskTimeoutError, RuntimeError)
    assert issubclass(TaskTimeoutError, TimeoutError)


SCRIPT_03 = textwrap.dedent(
    '''
    """A ROSE 0.3 workflow, unchanged except for the line that builds the engine."""
    import asyncio
    import json
    import os
    import sys

    import rose
    from rose.al.active_learner import SequentialActiveLearner
    from rose.learner import LearnerConfig, TaskConfig
    from rose.metrics import MEAN_SQUARED_ERROR_MSE, LearningMetrics

    HERE = os.path.dirname(os.path.abspath(__file__))
    PY = sys.executable


    async def rose_al():
        asyncflow = await rose.engine("local")  # 0.3: WorkflowEngine.create(ConcurrentExecutionBackend(...))
        acl = SequentialActiveLearner(asyncflow)

        @acl.simulation_task
        async def simulation(*args, **kwargs):
            return f"{PY} {HERE}/sim.py --n {kwargs.get('n', 4)}"

        @acl.training_task(as_executable=False)
        async def training(*args, **kwargs):
            return {"labeled_count": int(str(args[0]).strip())}

        @acl.active_learn_task(as_executable=False)
        async def active_learn(*args, **kwargs):
            return "next batch"

        @acl.as_stop_criterion(metric_name=MEAN_SQUARED_ERROR_MSE, threshold=0.3, as_executable=False)
        async def check_mse(*args, **kwargs):
            checks.append(1)
            return 1.0 / (1 + len(checks))

        checks = []
        config = LearnerConfig(simulation=TaskConfig(kwargs={"n": 6}))
        states = []
        async for state in acl.start(max_iter=10, initial_config=config):
            print(f"Iteration {state.iteration}: {state.metric_value}")
            states.append(state.to_dict())

        @acl.utility_task
        async def broken(*args):
            return f"{PY} -c 'import sys; sys.exit(3)'"

        try:
            await broken()
            failed = None
        except RuntimeError as exc:  # 0.3 code catches task failures as RuntimeError
            failed = type(exc).__name__
        await acl.shutdown()
        return states, failed


    states, failed = asyncio.run(rose_al())
    assert LearningMetrics.is_supported_metric(MEAN_SQUARED_ERROR_MSE)
    json.dump({"states": states, "failed": failed}, open(os.environ["REPORT"], "w"))
    '''
)


def test_a_03_script_runs_to_completion_on_the_local_backend(tmp_path: Path):
    (tmp_path / "sim.py").write_text("import sys\nprint(sys.argv[sys.argv.index('--n') + 1])\n")
    script = tmp_path / "rose_al.py"
    script.write_text(SCRIPT_03)
    env = {**os.environ, "REPORT": str(tmp_path / "report.json"), "ROSE_RUNS_DIR": str(tmp_path / "runs")}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    import json

    report = json.loads((tmp_path / "report.json").read_text())
    states = report["states"]
    assert [s["iteration"] for s in states] == [0, 1, 2]  # 1/2, 1/3, then 1/4 < 0.3 stops it
    assert states[-1]["should_stop"] and states[0]["labeled_count"] == 6
    assert report["failed"] == "TaskFailedError"
    assert "Iteration 2: 0.25" in done.stdout
