"""Task kinds on learner classes: :class:`TaskKinds`, the mixin of :class:`rose.learner.Learner`.

A learner declares its task decorators (``survey_task = TaskKind("survey")``, or
:meth:`TaskKinds.add_task_kind`) and the configuration class it takes (``config_class``). A
learner of no kind (``config_class`` is :class:`~rose.config.LearnerConfig`, as on the plain
``Learner`` of a ROSE 0.3 custom loop) also has ``<kind>_task`` for every task kind an installed
plugin declares (hook ``rose_learner_kinds``): the decorators of ROSE 0.3 scripts keep working
there while the core declares no kind beyond ``simulation`` and ``training`` (and the criterion).
:func:`fit_config` checks that a configuration given to a learner sets no task of another kind.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from attrs import fields

from rose.config import LearnerConfig, check_learner_config, check_task_names, kind_classes, task_kinds
from rose.errors import RoseError
from rose.tasks import TaskKind

__all__ = ["ConfigKindError", "TaskKinds", "check_config_kind", "fit_config", "fit_option_configs", "plugin_task_kind"]

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
    there = dict.fromkeys(["simulation", "training", *(k for cls in kinds.values() for k in task_kinds(cls))])
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
            missing = f"{type(self).__name__!r} object has no attribute {name!r}"
            if name.startswith("_") or not name.endswith(_SUFFIX):
                raise AttributeError(missing)
            if type(self).config_class is not LearnerConfig:  # a learner of a kind: its own decorators only
                own = dict.fromkeys(a for c in type(self).__mro__ for a, v in vars(c).items() if isinstance(v, TaskKind))
                raise AttributeError(f"{missing}: its task decorators are {', '.join(own)}")
            descriptor = plugin_task_kind(type(self), name[: -len(_SUFFIX)])
            return functools.partial(descriptor.decorate, self)


class ConfigKindError(RoseError, TypeError):
    """A configuration with tasks of another kind of learner than the one it is given to."""


def check_config_kind(config: LearnerConfig | None, learner: Any, where: str) -> LearnerConfig | None:
    """``config``, unless it sets a task kind that ``learner``'s ``config_class`` has no field for (a task
    of another kind of learner, never run): a :class:`ConfigKindError` naming the learner, the fields and the fix."""
    accepted: type[LearnerConfig] = getattr(type(learner), "config_class", LearnerConfig)
    if config is None or isinstance(config, accepted):
        return config
    own = {f.name for f in fields(accepted)}
    foreign = [f.name for f in fields(type(config)) if f.name not in own and getattr(config, f.name) is not None]
    if foreign:
        owner = type(learner).__name__
        raise ConfigKindError(
            f"{where}: {owner} takes a configuration of class {accepted.__name__} (tasks: "
            f"{', '.join(sorted(own - {'tasks'}))}), but the configuration sets {', '.join(map(repr, foreign))}, "
            f"a task kind of {type(config).__name__} that {owner} never runs. Remove "
            f"{'it' if len(foreign) == 1 else 'them'}, or give the configuration to a learner of that kind."
        )
    return config


def fit_config(config: Any, learner: Any, where: str) -> LearnerConfig | None:
    """``config`` checked for ``learner``: a LearnerConfig or None (:func:`check_learner_config`), of the
    learner's kind (:func:`check_config_kind`), naming only its tasks (:func:`check_task_names`)."""
    config = check_config_kind(check_learner_config(config, where), learner, where)
    return check_task_names(config, learner, where)


def fit_option_configs(learner: Any, options: Mapping[str, Any]) -> None:
    """Each LearnerConfig among ``start()`` options (one, or a list or dict of them, such as a parallel
    learner's ``learner_configs``) is of ``learner``'s kind (:func:`check_config_kind`)."""
    for name, value in options.items():
        items = (value.items() if isinstance(value, Mapping) else enumerate(value)
                 if isinstance(value, (list, tuple)) else [(None, value)])
        for key, item in items:
            if isinstance(item, LearnerConfig):
                check_config_kind(item, learner, name if key is None else f"{name}[{key!r}]")
