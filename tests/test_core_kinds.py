"""Learner kinds: ``LearnerConfig`` builds the configuration class a plugin provides for a task kind,
a plain ``Learner`` finds plugin task kinds through the registry, and a learner refuses another
kind's tasks. The plugins here are real plugin modules registered in an isolated registry."""

from __future__ import annotations

from typing import Any

import pytest
from attrs import define

import rose
from rose.config import LearnerConfig, TaskConfig, TaskConfigValue, task_field
from rose.errors import PluginLoadError
from rose.kinds import ConfigKindError
from rose.learner import Learner, TaskKind
from rose.records import LearnerKindSpec
from rose.testing import check_learner_kind_spec


@define(kw_only=True, eq=True)
class SurveyConfig(LearnerConfig):
    """A plugin's configuration class: the ``survey`` and ``report`` task kinds."""

    survey: TaskConfigValue = task_field()
    report: TaskConfigValue = task_field()


@define(kw_only=True, eq=True)
class DeepSurveyConfig(SurveyConfig):
    """A configuration class derived from another one: ``LearnerConfig(survey=...)`` stays the general one."""

    dive: TaskConfigValue = task_field()


@define(kw_only=True, eq=True)
class MapConfig(LearnerConfig):
    """A second kind: the ``chart`` task kind."""

    chart: TaskConfigValue = task_field()


class SurveyLearner(Learner):
    """A learner of the survey kind."""

    config_class = SurveyConfig
    survey_task = TaskKind("survey")


class SurveyPlugin:
    """The survey plugin: two kinds, one derived from the other."""

    @staticmethod
    @rose.hookimpl
    def rose_learner_kinds() -> list[LearnerKindSpec]:
        return [LearnerKindSpec(name="survey", summary="surveys", factory=lambda: SurveyConfig),
                LearnerKindSpec(name="deep-survey", summary="deep surveys", factory=lambda: DeepSurveyConfig)]


class MapPlugin:
    """The map plugin: one kind."""

    @staticmethod
    @rose.hookimpl
    def rose_learner_kinds() -> list[LearnerKindSpec]:
        return [LearnerKindSpec(name="map", summary="maps", factory=lambda: MapConfig)]


@pytest.fixture
def kinds(rose_plugins: Any) -> Any:
    """The built-ins and the survey and map plugins (and no AL or RL plugin)."""
    rose_plugins.register(SurveyPlugin, name="survey")
    rose_plugins.register(MapPlugin, name="map")
    return rose_plugins


def test_learner_config_builds_the_class_that_declares_the_field(kinds: Any) -> None:
    config = LearnerConfig(simulation=TaskConfig(), survey=TaskConfig(kwargs={"--depth": 2}))
    assert type(config) is SurveyConfig and isinstance(config, LearnerConfig)
    assert config.resolve("survey", 0) == TaskConfig(kwargs={"--depth": 2})
    assert type(LearnerConfig(dive=TaskConfig())) is DeepSurveyConfig
    assert type(LearnerConfig(chart=TaskConfig())) is MapConfig
    assert type(LearnerConfig(training=TaskConfig())) is LearnerConfig
    assert LearnerConfig.from_dict(config.to_dict()) == config
    for spec in kinds.registry.learner_kinds.values():
        check_learner_kind_spec(spec)


def test_fields_of_two_kinds_or_of_none_are_clear_errors(kinds: Any) -> None:
    with pytest.raises(TypeError, match=r"different kinds of learner: 'survey' \(SurveyConfig, the 'survey' learners\), "
                                        r"'chart' \(MapConfig, the 'map' learners\)"):
        LearnerConfig(survey=TaskConfig(), chart=TaskConfig())
    with pytest.raises(TypeError, match=r"unknown field\(s\) 'survy' \(did you mean 'survey'\?\); valid fields: .*chart"):
        LearnerConfig(survy=TaskConfig())
    with pytest.raises(TypeError, match=r"MapConfig got task kinds of different kinds.*'survey' \(SurveyConfig"):
        MapConfig(survey=TaskConfig())


def test_a_moved_task_kind_without_its_plugin_names_the_plugin_to_install(kinds: Any) -> None:
    # the AL and RL plugins are not in this registry: the deprecation table says where the kinds went
    with pytest.raises(TypeError, match=r"'active_learn' \(a task kind of rose-plugin-al, which is not installed: "
                                        r"pip install rose-plugin-al\)"):
        LearnerConfig(active_learn=TaskConfig())
    with pytest.raises(AttributeError, match=r"'environment' comes from rose-plugin-rl.*pip install rose-plugin-rl"):
        Learner().environment_task  # noqa: B018
    assert not hasattr(Learner(), "update_task")


def test_a_plain_learner_has_every_installed_task_kind(kinds: Any) -> None:
    learner = Learner(name="custom-loop")

    @learner.survey_task(as_executable=False)
    async def survey() -> int:
        return 1

    @learner.chart_task
    async def chart() -> str:
        return "echo chart"

    assert {name: spec.kind for name, spec in learner.tasks.items()} == {"survey": "survey", "chart": "chart"}
    with pytest.raises(AttributeError, match="no installed plugin declares a task kind 'sail'; task kinds: simulation, "
                                             "training, survey, report, dive, chart$"):
        learner.sail_task  # noqa: B018
    # a learner of a kind has its own task kinds only
    with pytest.raises(AttributeError, match="'SurveyLearner' object has no attribute 'chart_task': its task "
                                             "decorators are survey_task, simulation_task, training_task$"):
        SurveyLearner().chart_task  # noqa: B018


async def test_a_learner_refuses_a_configuration_of_another_kind_before_any_task(kinds: Any, rose_engine: Any,
                                                                                  tmp_path: Any) -> None:
    ran: list[str] = []
    learner = SurveyLearner(rose_engine, run_dir=tmp_path / "run")

    @learner.survey_task(as_executable=False)
    async def survey() -> int:
        ran.append("survey")
        return 1

    with pytest.raises(ConfigKindError, match=r"initial_config: SurveyLearner takes a configuration of class "
                                              r"SurveyConfig .* sets 'chart', a task kind of MapConfig that "
                                              r"SurveyLearner never runs. Remove it"):
        learner.start(max_iter=1, initial_config=LearnerConfig(chart=TaskConfig()))
    with pytest.raises(ConfigKindError, match="set_next_config: SurveyLearner"):
        learner.set_next_config(MapConfig(chart=TaskConfig()))
    learner.set_next_config(MapConfig(simulation=TaskConfig()))  # no task of another kind: fine
    assert ran == [] and not (tmp_path / "run").exists()


def test_a_kind_whose_factory_gives_no_configuration_class_is_a_plugin_error(rose_plugins: Any,
                                                                             monkeypatch: Any) -> None:
    class Broken:
        @staticmethod
        @rose.hookimpl
        def rose_learner_kinds() -> list[LearnerKindSpec]:
            return [LearnerKindSpec(name="broken", summary="not a class", factory=lambda: dict)]

    rose_plugins.register(Broken, name="broken")
    monkeypatch.setenv("ROSE_STRICT_PLUGINS", "1")
    with pytest.raises(PluginLoadError, match="learner kind 'broken': its factory must return a subclass of "
                                              "rose.config.LearnerConfig"):
        LearnerConfig(anything=TaskConfig())
    monkeypatch.delenv("ROSE_STRICT_PLUGINS")
    with pytest.warns(RuntimeWarning, match="learner kind 'broken'"), pytest.raises(TypeError, match="'anything'"):
        LearnerConfig(anything=TaskConfig())
