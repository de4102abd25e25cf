"""Frozen records that plugins return from the registration hooks.

Every record has a short user-visible ``name``, a one-line ``summary`` and a lazy
``factory``: nothing heavy is imported until the thing is used, so a missing optional
dependency fails with a targeted message when it is needed, not at start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from attrs import field, frozen, validators

if TYPE_CHECKING:
    import argparse

__all__ = [
    "BackendSpec",
    "CommandSpec",
    "LearnerKindSpec",
    "LearnerSpec",
    "MetricSpec",
    "PolicySpec",
    "Resources",
    "SchedulerSpec",
    "TrackerSpec",
]

def _str_tuple(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _names(value: str | Iterable[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _str_dict(value: Mapping[str, str]) -> dict[str, str]:
    return dict(value)


def _count(minimum: int, optional: bool = False) -> Callable[[Any, Any, Any], None]:
    """A validator: a whole number >= ``minimum`` (None too when ``optional``); the error names the key."""

    def check(_instance: Any, attribute: Any, value: Any) -> None:
        if value is None and optional:
            return
        if type(value) is bool or not isinstance(value, int):
            meant = int(value) if isinstance(value, str) and value.strip().isdigit() else max(minimum, 1)
            example = f"{{{attribute.name!r}: {meant}}}"
            raise TypeError(
                f"resources[{attribute.name!r}] must be a whole number >= {minimum}, got {value!r} "
                f"({type(value).__name__}); write it without quotes, e.g. resources={example}"
            )
        if value < minimum:
            raise ValueError(f"resources[{attribute.name!r}] must be >= {minimum}, got {value!r}")

    return check


_name: Any = field(validator=validators.and_(validators.instance_of(str), validators.min_len(1)))
_summary: Any = field(default="", validator=validators.instance_of(str))


@frozen(kw_only=True)
class LearnerSpec:
    """A learner (or a helper object of a learner family) a plugin provides.

    ``namespaces`` says where users import it from: ``("al",)`` makes it importable as
    ``from rose.al import <name>``; ``("rl", "rl.reinforcement_learner")`` both from
    ``rose.rl`` and ``rose.rl.reinforcement_learner``. ``factory()`` returns the object
    (usually the class) and is only called on first use. ``role`` is ``"learner"`` for a
    learning policy and ``"support"`` for helpers such as experience banks or scorers.
    """

    name: str = _name
    summary: str = _summary
    factory: Callable[[], Any] = field(validator=validators.is_callable())
    namespaces: tuple[str, ...] = field(default=(), converter=_str_tuple)
    role: str = field(default="learner", validator=validators.in_(("learner", "support")))


@frozen(kw_only=True)
class MetricSpec:
    """A named metric and its direction.

    ``operator`` is what stops a campaign: ``"<"`` means "stop when the value drops below
    the threshold" (errors, losses), ``">"`` or ``">="`` "stop when it rises above"
    (accuracy, reward). ``factory``, when given, returns a function computing the metric
    (for example ``lambda: rmse`` where ``rmse(y_true, y_pred) -> float``).
    """

    name: str = _name
    summary: str = _summary
    operator: str = field(validator=validators.in_(("<", ">", "=", "==", "<=", ">=")))
    factory: Callable[[], Callable[..., float]] | None = None

    @property
    def higher_is_better(self) -> bool:
        """True when larger values of this metric are better (accuracy, reward)."""
        return self.operator in (">", ">=")


@frozen(kw_only=True)
class SchedulerSpec:
    """A value schedule usable by name: ``rose.scheduler(name, **options)``.

    ``factory(**options)`` returns a function ``iteration -> value`` (a learning rate, a
    batch size, a noise level), used inside adaptive task configurations.
    """

    name: str = _name
    summary: str = _summary
    factory: Callable[..., Callable[[int], Any]] = field(validator=validators.is_callable())


@frozen(kw_only=True)
class TrackerSpec:
    """An experiment tracker: ``rose.tracker(name, **options)`` calls ``factory(**options)``.

    The object returned has ``on_start(manifest)``, ``on_iteration(state)`` and
    ``on_stop(final_state, reason)`` (see :class:`rose.tracking.Tracker`).
    """

    name: str = _name
    summary: str = _summary
    factory: Callable[..., Any] = field(validator=validators.is_callable())


@frozen(kw_only=True)
class PolicySpec:
    """A query policy (which candidates to label next): ``rose.policy(name, **options)``.

    ``factory(**options)`` returns an object implementing :class:`rose.policies.Policy`
    (``select(candidates, *, k, scores, predictions, pending, rng)`` and ``observe``).
    ``batch_aware`` says a batch of ``k`` is chosen jointly (the picks account for each
    other), not as the ``k`` best independent scores; ``pending_aware`` says the policy
    accounts for points still in flight beyond excluding them (every policy excludes them).
    """

    name: str = _name
    summary: str = _summary
    factory: Callable[..., Any] = field(validator=validators.is_callable())
    batch_aware: bool = field(default=False, validator=validators.instance_of(bool))
    pending_aware: bool = field(default=False, validator=validators.instance_of(bool))


@frozen(kw_only=True)
class Resources:
    """What one task asks for, in the same words on every backend.

    Each backend translates this into its own task description and rejects what it
    cannot provide with an error naming the task, the request and the backend.
    """

    cores: int = field(default=1, validator=_count(1))
    gpus: int = field(default=0, validator=_count(0))
    ranks: int = field(default=1, validator=_count(1))
    memory_mb: int | None = field(default=None, validator=_count(1, optional=True))
    env: Mapping[str, str] = field(factory=dict, converter=_str_dict, repr=lambda env: repr(dict.fromkeys(env, "***")))
    cwd: str | None = None
    #: names of ``env`` variables whose values may be written to records (journal, trackers);
    #: every other value is masked as ``***`` wherever ROSE writes it
    record_env: tuple[str, ...] = field(default=(), converter=_names)

    @classmethod
    def coerce(cls, value: Resources | Mapping[str, Any] | None) -> Resources:
        """Build from a ``Resources``, a plain dict (``{"gpus": 1}``) or ``None``."""
        if value is None:
            return cls()
        if isinstance(value, Resources):
            return value
        if not isinstance(value, Mapping):
            raise TypeError(
                f"resources must be a dict such as {{'cores': 2, 'gpus': 1}}, got {value!r}"
            )
        unknown = sorted(set(value) - {"cores", "gpus", "ranks", "memory_mb", "env", "cwd", "record_env"})
        if unknown:
            raise ValueError(
                f"unknown resource key(s) {unknown}; use cores, gpus, ranks, memory_mb, env, cwd, record_env"
            )
        return cls(**dict(value))

    def is_default(self) -> bool:
        """True when nothing beyond one core is requested."""
        return self == Resources()


@frozen(kw_only=True)
class BackendSpec:
    """An execution backend: ``await rose.engine(name, **options)`` uses it.

    ``factory(**options)`` returns a radical.asyncflow execution backend (or an awaitable
    resolving to one). ``translate(task_name, resources, shell)`` turns ROSE's
    backend-agnostic :class:`Resources` into the backend's ``task_description`` dict and
    raises :class:`rose.errors.ResourceError` for what the backend cannot satisfy.
    ``backend_classes`` lists the backend classes (``"module:Class"``) this spec describes,
    so an engine a user built by hand is still translated correctly.
    """

    name: str = _name
    summary: str = _summary
    factory: Callable[..., Any] = field(validator=validators.is_callable())
    translate: Callable[[str, Resources, bool], dict[str, Any]] | None = None
    backend_classes: tuple[str, ...] = field(default=(), converter=_str_tuple)


_command_name: Any = field(validator=validators.and_(validators.instance_of(str), validators.matches_re(r"[a-z][a-z0-9-]*")))


@frozen(kw_only=True)
class CommandSpec:
    """A subcommand of ``rose`` (``rose <name> ...``) that a plugin provides.

    ``add_arguments(parser)`` declares the command's options on its argparse sub-parser;
    ``run(args)`` carries it out with the parsed namespace and returns an exit status (``None``
    counts as 0). Both are called only when ``rose <name>`` is invoked, so build them with
    :func:`rose.plugins.lazy_call` to keep heavy imports (a web server, say) out of every other
    ``rose`` command. ``name`` is lower case (letters, digits, ``-``) and may not be one of
    ``rose``'s own commands.
    """

    name: str = _command_name
    summary: str = _summary
    add_arguments: Callable[[argparse.ArgumentParser], None] = field(validator=validators.is_callable())
    run: Callable[[argparse.Namespace], int | None] = field(validator=validators.is_callable())


@frozen(kw_only=True)
class LearnerKindSpec:
    """A kind of learner (``"al"``, ``"rl"``...) and the configuration class its learners take.

    ``factory()`` returns a subclass of :class:`rose.config.LearnerConfig` whose own fields
    are the task kinds of this family (each declared with :func:`rose.config.task_field`).
    ``LearnerConfig(<field>=...)`` with such a field builds that class, and
    ``@learner.<field>_task`` works on a plain ``rose.learner.Learner`` (a custom loop).
    """

    name: str = _name
    summary: str = _summary
    factory: Callable[[], type] = field(validator=validators.is_callable())
