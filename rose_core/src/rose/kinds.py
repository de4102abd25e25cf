"""Task kinds on learner classes: :class:`TaskKinds`, the mixin of :class:`rose.learner.Learner`.

A learner declares its task decorators (``survey_task = TaskKind("survey")``, or
:meth:`TaskKinds.add_task_kind`) and the configuration class it takes (``config_class``). A
learner of no kind (``config_class`` is :class:`~rose.config.LearnerConfig`, as on the plain
``Learner`` of a ROSE 0.3 custom loop) also has ``<kind>_task`` for every task kind an installed
plugin declares (hook ``rose_learner_kinds``): the decorators of ROSE 0.3 scripts keep working
there while the core declares no kind beyond ``simulation`` and ``training`` (and the criterion).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, ClassVar

from rose.config import LearnerConfig, kind_classes, task_kinds
from rose.tasks import TaskKind

__all__ = ["TaskKinds", "plugin_task_kind"]

_SUFFIX = "_task"


def plugin_task_kind(owner: type, kind: str) -> TaskKind:
    """The decorator of task ``kind`` on a learner class of no kind, from the installed plugins;
    an AttributeError naming the plugin to install (or the kinds there are) otherwise."""
    kinds = kind_classes()
    if any(kind in task_kinds(cls) for cls in kinds.values()):
        descriptor = TaskKind(kind)
        descriptor.attribute = f"{kind}{_SUFFIX}"
        return descriptor
    from rose.deprecations import PLUGIN_TASK_KINDS

    name = f"{owner.__name__!r} object has no attribute '{kind}{_SUFFIX}'"
    if kind in PLUGIN_TASK_KINDS:
        raise AttributeError(f"{name}: the task kind {kind!r} comes from {PLUGIN_TASK_KINDS[kind]}, which is not "
                             f"installed (or is disabled): pip install {PLUGIN_TASK_KINDS[kind]}")
    there = ["simulation", "training", *(k for cls in kinds.values() for k in task_kinds(cls))]
    raise AttributeError(f"{name}: no installed plugin declares a task kind {kind!r}; task kinds: {', '.join(there)}")


class TaskKinds:
    """Task decorators of a learner class: its own, and on a learner of no kind the plugins' ones."""

    simulation_task = TaskKind("simulation")
    training_task = TaskKind("training")
    #: the configuration class this learner takes: a configuration with tasks of another kind is an error
    config_class: ClassVar[type[LearnerConfig]] = LearnerConfig

    @classmethod
    def add_task_kind(cls, kind: str, *, named: bool = False) -> None:
        """Give this learner class a ``<kind>_task`` decorator (for plugin learners)."""
        descriptor = TaskKind(kind, named=named)
        descriptor.attribute = f"{kind}{_SUFFIX}"
        setattr(cls, f"{kind}{_SUFFIX}", descriptor)

    if not TYPE_CHECKING:  # type checkers keep flagging unknown attributes of learners

        def __getattr__(self, name: str) -> Any:
            if name.startswith("_") or not name.endswith(_SUFFIX) or type(self).config_class is not LearnerConfig:
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
            descriptor = plugin_task_kind(type(self), name[: -len(_SUFFIX)])
            return functools.partial(descriptor.decorate, self)
