"""Contract checks of a learner kind (hook ``rose_learner_kinds``) and of a learner's task kinds."""

from __future__ import annotations

from typing import Any

from attrs import fields

from rose.config import LearnerConfig, TaskConfig, task_kinds
from rose.records import LearnerKindSpec
from rose.tasks import TaskKind

__all__ = ["check_learner_kind_spec", "task_kinds_without_field"]


def check_learner_kind_spec(spec: LearnerKindSpec) -> None:
    """A learner-kind record gives a :class:`~rose.config.LearnerConfig` subclass adding task kinds of its own,
    each empty by default; a configuration of each kind resolves, and survives ``to_dict``/``from_dict``;
    when the kind is installed, ``LearnerConfig(<kind>=...)`` builds this class (or the one it derives from)."""
    from rose.plugins import registry

    assert isinstance(spec, LearnerKindSpec), f"expected a LearnerKindSpec, got {spec!r}"
    assert spec.summary, f"learner kind {spec.name!r} needs a summary"
    cls = spec.factory()
    assert isinstance(cls, type) and issubclass(cls, LearnerConfig), (
        f"learner kind {spec.name!r}: factory() must return a subclass of rose.config.LearnerConfig, got {cls!r}")
    kinds = task_kinds(cls)
    assert kinds, f"learner kind {spec.name!r}: {cls.__name__} adds no field (task kind) to LearnerConfig"
    installed = registry().learner_kinds.get(spec.name) == spec
    for kind in kinds:
        assert getattr(cls(), kind) is None, f"{cls.__name__}.{kind} must default to None: declare it with task_field()"
        values: dict[str, Any] = {kind: TaskConfig(kwargs={"--x": 1})}
        config = cls(**values)
        assert config.resolve(kind, 0) == TaskConfig(kwargs={"--x": 1}), f"{cls.__name__}.{kind} does not resolve"
        again = cls.from_dict(config.to_dict())
        assert again == config, f"{cls.__name__}({kind}=...) comes back from to_dict() as {again!r}"
        if installed:
            built = type(LearnerConfig(**values))
            assert issubclass(cls, built), f"LearnerConfig({kind}=...) builds a {built.__name__}, not {cls.__name__}"


def task_kinds_without_field(learner_class: type) -> list[str]:
    """The task kinds a learner class has a ``<kind>_task`` decorator for but its ``config_class`` no field."""
    config_class = getattr(learner_class, "config_class", LearnerConfig)
    names = {f.name for f in fields(config_class)}
    declared = {value.kind for klass in learner_class.__mro__ for value in vars(klass).values()
                if isinstance(value, TaskKind)}
    return sorted(declared - names)
