"""What trackers record, as the core gives it: parameters (``campaign_params`` / ``config_params``), the stored
manifest (``masked_manifest``) and an iteration's numbers (``state_metrics``)."""

from __future__ import annotations

from rose import LearnerConfig, TaskConfig
from rose.state import IterationState
from rose.tracking import (
    CriterionManifest,
    PipelineManifest,
    TaskManifest,
    campaign_params,
    config_params,
    masked_manifest,
    state_metrics,
)


def manifest(**fields: object) -> PipelineManifest:
    tasks = {"simulation": TaskManifest(func_name="sim", func_module="lab", as_executable=False,
                                        resources={"cpus": 2, "env": {"TOKEN": "secret"}}, log_params={"grid": 64}),
             "relax": TaskManifest(func_name="relax", func_module="lab", as_executable=True, kind="training")}
    criterion = CriterionManifest(func_name="mse", func_module="lab", as_executable=False, metric_name="mse",
                                  threshold=0.01, operator="<")
    return PipelineManifest(learner_type="SequentialActiveLearner", tasks=tasks, criterion=criterion, max_iter=5,
                            **fields)  # type: ignore[arg-type]


def test_config_params_resolve_each_task_by_name_then_kind_at_the_iteration() -> None:
    """A schedule table gives each iteration its value; a task of kind ``training`` gets the training
    configuration unless it has its own; the criterion's configuration is included; args are a list."""
    config = LearnerConfig(simulation=TaskConfig(args=("--grid", "64")),
                           training={0: TaskConfig(kwargs={"--lr": 0.1}), -1: TaskConfig(kwargs={"--lr": 0.01})},
                           criterion=TaskConfig(kwargs={"tol": "1e-3"}))
    assert config_params(config, 0, manifest()) == {
        "config/simulation/args": ["--grid", "64"], "config/relax/--lr": 0.1, "config/criterion/tol": "1e-3"}
    assert config_params(config, 3, manifest(), "learner_1/config")["learner_1/config/relax/--lr"] == 0.01
    # the manifest form of a configuration (as journaled) reads the same; unreadable input gives nothing
    assert config_params(config.to_dict(), 3, manifest()) == config_params(config, 3, manifest())
    assert config_params({"simulation": "not a config"}, 0, manifest()) == {}
    assert config_params(None, 0, manifest()) == {}


def test_campaign_params_are_flat_and_mask_secrets() -> None:
    config = LearnerConfig(training=TaskConfig(kwargs={"epochs": 3}))
    params = campaign_params(manifest(learner_configs=[config.to_dict()], extra={"seed": 7}))
    assert params["learner_type"] == "SequentialActiveLearner" and params["max_iter"] == 5
    assert params["criterion/threshold"] == 0.01 and params["criterion/function"] == "lab.mse"
    assert params["task/simulation/resources/env"] == {"TOKEN": "***"}
    assert params["task/simulation/grid"] == 64 and params["task/relax/kind"] == "training"
    assert params["config/relax/epochs"] == 3 and params["extra/seed"] == 7
    two = campaign_params(manifest(learner_configs=[config.to_dict(), config.to_dict()]))
    assert two["learner_0/config/relax/epochs"] == two["learner_1/config/relax/epochs"] == 3


def test_the_stored_manifest_has_no_env_value_in_clear_text() -> None:
    stored = masked_manifest(manifest())
    assert stored["tasks"]["simulation"]["resources"] == {"cpus": 2, "env": {"TOKEN": "***"}}
    assert stored["learner_type"] == "SequentialActiveLearner"


def test_state_metrics_are_the_criterion_value_then_the_numbers_tasks_returned() -> None:
    import numpy as np

    state = IterationState(iteration=2, metric_name="mse", metric_value=np.float32(0.5),
                           state={"labeled_count": np.int64(40), "converged": np.bool_(True), "pool": "a", "mse": 9.0,
                                  "loss": float("nan"), "note": None})
    values = state_metrics(state)
    assert list(values)[:3] == ["mse", "labeled_count", "converged"]
    assert values["mse"] == 0.5 and values["labeled_count"] == 40.0 and values["converged"] == 1.0
    assert "pool" not in values and "note" not in values and values["loss"] != values["loss"]  # NaN kept
