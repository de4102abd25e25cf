"""Hooks, records, configuration, schedules, metrics and IterationState."""

from __future__ import annotations

import inspect
import json
import math

import pytest

import rose
from rose import LearnerConfig, TaskConfig, hookspecs
from rose.config import resolve_task_config
from rose.metrics import EQUAL_TO_THRESHOLD, GREATER_THAN_THRESHOLD, compare_metric, resolve_operator
from rose.records import Resources
from rose.schedules import AdaptiveSchedule, IterationSchedule
from rose.state import IterationState

HOOKS = ["rose_learners", "rose_learner_kinds", "rose_metrics", "rose_schedulers", "rose_trackers", "rose_backends",
         "rose_policies", "rose_commands"]


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_is_documented_with_an_example(name: str) -> None:
    hook = getattr(hookspecs, name)
    doc = inspect.getdoc(hook) or ""
    assert "Example::" in doc, f"hook {name} lacks an 'Example::' section"
    example = doc.split("Example::", 1)[1]
    assert "@rose.hookimpl" in example and f"def {name}()" in example
    compile(inspect.cleandoc(example), f"<{name} example>", "exec")


def test_the_hook_list_is_exactly_the_documented_one() -> None:
    specs = sorted(n for n, f in vars(hookspecs).items() if n.startswith("rose_") and callable(f))
    assert specs == sorted(HOOKS)


def test_task_config_validates_and_learner_config_rejects_unknown_fields() -> None:
    assert TaskConfig(args=[1, 2]).args == (1, 2)
    with pytest.raises(TypeError, match="kwargs must be a dict"):
        TaskConfig(kwargs=[1])
    with pytest.raises(TypeError, match="unknown field.*'simulaton'.*did you mean 'simulation'"):
        LearnerConfig(simulaton=TaskConfig())
    with pytest.raises(TypeError, match=r"LearnerConfig.training\[0\]: expected a TaskConfig"):
        LearnerConfig(training={0: {"kwargs": {}}})
    with pytest.raises(TypeError, match="LearnerConfig.training: expected a TaskConfig"):
        LearnerConfig(training="fast")
    with pytest.raises(TypeError, match="create_adaptive_schedule"):
        LearnerConfig(training=lambda i: {})


def test_per_iteration_lookup_order_exact_then_minus_one_then_default() -> None:
    a, b, c = TaskConfig(kwargs={"a": 1}), TaskConfig(kwargs={"b": 1}), TaskConfig(kwargs={"c": 1})
    cfg = LearnerConfig(simulation={0: a, -1: b, "default": c}, training={"default": c})
    assert cfg.get_task_config("simulation", 0) is a
    assert cfg.get_task_config("simulation", 7) is b
    assert cfg.get_task_config("training", 3) is c
    assert cfg.get_task_config("prediction", 3) is None
    named = LearnerConfig(environment=a, tasks={"env_2": b})
    assert named.get_task_config("env_2", 0) is b
    assert resolve_task_config(None, 1) is None


def test_adaptive_schedule_is_lazy_and_unbounded() -> None:
    calls: list[int] = []

    def fn(i: int) -> dict[str, object]:
        calls.append(i)
        return {"kwargs": {"--n": 100 + 50 * i}}

    schedule = AdaptiveSchedule("simulation", fn)
    assert calls == []
    assert schedule.config_for(250).kwargs == {"--n": 12600}
    assert schedule.config_for(250).kwargs == {"--n": 12600}
    assert calls == [250]
    cfg = LearnerConfig(simulation=schedule)
    assert cfg.get_task_config("simulation", 1000).kwargs == {"--n": 50100}


def test_iteration_schedule_from_dicts() -> None:
    schedule = IterationSchedule("training", {0: {"kwargs": {"--lr": "0.01"}}, -1: {"kwargs": {"--lr": "0.001"}}})
    assert schedule.config_for(0).kwargs == {"--lr": "0.01"}
    assert schedule.config_for(9).kwargs == {"--lr": "0.001"}
    with pytest.raises(ValueError, match="unknown key"):
        IterationSchedule("training", {0: {"kwarg": {}}})


@pytest.mark.parametrize(
    ("name", "options", "expected"),
    [
        ("constant", {"value": 3}, [3, 3, 3]),
        ("step", {"start": 1.0, "factor": 0.5, "every": 2}, [1.0, 0.5, 0.25]),
        ("exponential", {"start": 1.0, "rate": 0.5}, [1.0, 0.25, 0.0625]),
        ("cosine", {"start": 1.0, "stop": 0.0, "period": 4}, [1.0, 0.5, 0.0]),
    ],
)
def test_builtin_schedulers_by_name(name: str, options: dict[str, float], expected: list[float]) -> None:
    schedule = rose.scheduler(name, **options)
    assert [schedule(i) for i in (0, 2, 4)] == pytest.approx(expected)


def test_metrics_directions_and_operators() -> None:
    assert resolve_operator("mean_squared_error_mse") == "<"
    assert resolve_operator("model_accuracy") == ">="
    assert resolve_operator("root_mean_squared_error_rmse") == "<"
    assert compare_metric("MODEL_REWARD", 201, 200, GREATER_THAN_THRESHOLD)
    assert compare_metric("custom", 0.5, 0.5, EQUAL_TO_THRESHOLD)
    assert compare_metric("custom", 0.1 + 0.2, 0.3, "==")
    with pytest.raises(ValueError, match="needs an operator.*operator=GREATER_THAN_THRESHOLD"):
        resolve_operator("MODEL_REWARD")
    with pytest.raises(ValueError, match="unknown comparison operator '=>'"):
        resolve_operator("MODEL_REWARD", "=>")


def test_builtin_metric_formulas() -> None:
    from rose.plugins import registry

    metrics = registry().metrics
    rmse = metrics["root_mean_squared_error_rmse"].factory()
    assert rmse([0, 0], [3, 4]) == pytest.approx(math.sqrt(12.5))
    assert metrics["r2_score"].factory()([1, 2, 3], [1, 2, 3]) == 1.0
    assert metrics["mean_absolute_error_mae"].factory()([1, 2], [2, 4]) == 1.5


def test_iteration_state_attribute_access_and_json() -> None:
    import numpy as np

    state = IterationState(iteration=2, metric_value=0.5, state={"labeled": np.int64(7), "mse": np.float32(0.25)},
                           current_config=LearnerConfig(training=TaskConfig(kwargs={"--lr": 0.1})))
    assert state.labeled == 7
    assert state.get("missing", 3) == 3
    with pytest.raises(AttributeError, match="no field or state value 'labled'.*labeled"):
        _ = state.labled
    data = json.loads(json.dumps(state.to_dict()))
    assert data["labeled"] == 7 and data["mse"] == 0.25 and data["iteration"] == 2
    assert data["current_config"] == {"training": {"args": [], "kwargs": {"--lr": 0.1}}}
    assert state.replace(learner_id=1).learner_id == 1
    clash = IterationState(iteration=1, state={"iteration": 99})
    assert clash.to_dict()["iteration"] == 1 and clash.to_dict()["state"]["iteration"] == 99


def test_resources_coerce_and_reject_unknown_keys() -> None:
    assert Resources.coerce({"gpus": 1}).gpus == 1
    with pytest.raises(ValueError, match="unknown resource key.*'gpu'"):
        Resources.coerce({"gpu": 1})


def test_hook_reference_in_docs_is_up_to_date() -> None:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "docs" / "gen_reference.py"
    spec = importlib.util.spec_from_file_location("gen_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.TARGET.read_text() == module.render(), "run `python docs/gen_reference.py`"


def test_builtin_trackers_by_name_with_options(tmp_path: object) -> None:
    from pathlib import Path

    from rose.testing import check_tracker

    path = Path(str(tmp_path)) / "events.jsonl"
    tracker = rose.tracker("jsonl", path=str(path))
    check_tracker(tracker)
    events = [json.loads(line)["event"] for line in path.read_text().splitlines()]
    assert events == ["start", "iteration", "stop"]
    check_tracker(rose.tracker("console"))


def test_rose_engine_stays_a_function_after_the_engine_module_is_imported() -> None:
    import importlib

    importlib.import_module("rose.engine")
    from rose.engine import translator_for  # noqa: F401 - what learners import

    assert callable(rose.engine) and rose.engine.__module__ == "rose"


def test_the_manifest_record_is_the_attrs_view_of_the_manifest_whatever_it_holds() -> None:
    """The start record's manifest (``PipelineManifest.to_dict``, built field by field for plain
    values) is exactly what ``jsonable(attrs.asdict(manifest))`` gives, and falls back to it
    for values it does not build itself (attrs instances, numpy values, subclasses)."""
    import numpy as np
    from attrs import asdict, define

    from rose.state import jsonable
    from rose.tracking import CriterionManifest, PipelineManifest, TaskManifest

    @define
    class Settings:
        depth: int = 3

    @define(kw_only=True)
    class Labelled(TaskManifest):
        label: str = "x"

    def task(**fields: object) -> TaskManifest:
        return TaskManifest(func_name="simulate", func_module="campaign", as_executable=False, **fields)  # type: ignore[arg-type]

    manifests = [
        PipelineManifest(learner_type="SequentialActiveLearner"),
        PipelineManifest(
            learner_type="ParallelActiveLearner", parallel_count=4, max_iter=10, run_dir="/runs/a", backend="local",
            tasks={"simulation": task(kind="simulation", decor_kwargs={"shape": (1, 2), "opt": {"lr": math.nan}},
                                      resources={"cpus": 2})},
            criterion=CriterionManifest(func_name="check", func_module="campaign", as_executable=False,
                                        kind="criterion", metric_name="mse", threshold=math.inf, operator="<"),
            learner_configs=[None, {"simulation": {"kwargs": {"n": [1, 2.5, "x"]}}}], extra={"seed": 1},
        ),
        PipelineManifest(learner_type="L", extra={"settings": Settings()}),
        PipelineManifest(learner_type="L", extra={"scale": np.float64(1.5)}, learner_configs=[{"x": np.arange(3)}]),
        PipelineManifest(learner_type="L", tasks={"s": task(log_params={"settings": Settings()})}),
        PipelineManifest(learner_type="L", tasks={"s": Labelled(func_name="f", func_module="m", as_executable=True)}),
        PipelineManifest(learner_type="L", tasks={1: task(log_params={2: 3})}),  # type: ignore[dict-item]
    ]
    for manifest in manifests:
        view = manifest.to_dict()
        assert repr(view) == repr(jsonable(asdict(manifest, recurse=True)))
        json.dumps(view, allow_nan=False)
