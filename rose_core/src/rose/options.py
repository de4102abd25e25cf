"""A learner's ``start()`` options, declared as data, bound, validated and journaled.

A policy declares its own options as an attrs class (fields with defaults and validators)
and names the positional order of ``start()``'s parameters::

    @frozen(kw_only=True)
    class MyOptions(StartOptions):
        committee_size: int = field(default=3, validator=whole_number(minimum=2))

    class MyLearner(Learner):
        options_class = MyOptions
        start_positional = ("max_iter", "skip_pre_loop", "initial_config", "resume")

``Learner.start`` (final) binds the call with :func:`bind_start`, builds the options (their
validators run before anything else), journals them in the start record, and on resume
refuses options that differ from the journaled ones (:func:`check_same_options`) unless
``start(..., allow_changed_options=True)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
from attrs import NOTHING, asdict, field, fields, frozen

from rose.errors import RoseError
from rose.state import jsonable

__all__ = [
    "BASE_PARAMETERS", "StartOptions", "bind_start", "check_same_options", "configuration", "options_record", "whole_number",
]

#: the parameters of every learner's ``start()`` (not options of the policy)
BASE_PARAMETERS = {"max_iter": 0, "skip_pre_loop": False, "initial_config": None, "resume": None,
                   "allow_changed_options": False, "deadline": None}


@frozen(kw_only=True)
class StartOptions:
    """The options of a policy's ``start()`` besides the base ones (none for the base learner)."""


def whole_number(minimum: int = 0) -> Callable[[Any, Any, Any], None]:
    """An attrs validator: a whole number (not a bool) of at least ``minimum``."""

    def check(_instance: Any, attribute: Any, value: Any) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ValueError(f"{attribute.name} must be a whole number >= {minimum}, got {value!r}")

    return check


def bind_start(
    owner: str,
    positional: Sequence[str],
    options_class: type[StartOptions],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    aliases: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(base parameters, the policy's options)`` of a ``start(*args, **kwargs)`` call of ``owner``.

    The options are built as ``options_class`` (its validators run) and returned as a dict. A
    learner that declares no options class (one of ROSE 0.4 that overrides ``start``) passes
    its keyword options through as they are. ``aliases`` maps older keyword names to the
    parameter they now are (``learning_config`` -> ``initial_config``). Too many positional
    arguments, an unknown keyword or a value given twice is a TypeError naming the learner.
    """
    declared = [f.name for f in fields(options_class)]
    free_form = options_class is StartOptions
    known = [*BASE_PARAMETERS, *declared]
    if len(args) > len(positional):
        raise TypeError(f"{owner}.start() takes at most {len(positional)} positional arguments "
                        f"({', '.join(positional)}), got {len(args)}")
    values: dict[str, Any] = dict(zip(positional, args))
    for name, value in kwargs.items():
        name = (aliases or {}).get(name, name)
        if name not in known and not free_form:
            raise TypeError(f"{owner}.start() got an unknown option {name!r}; its options are {', '.join(known)}")
        if name in values:
            raise TypeError(f"{owner}.start() got {name!r} twice (by position and by keyword)")
        values[name] = value
    base = {name: values.pop(name, default) for name, default in BASE_PARAMETERS.items()}
    missing = [f.name for f in fields(options_class) if f.name not in values and f.default is NOTHING]
    if missing:
        raise TypeError(f"{owner}.start() needs {', '.join(missing)}")
    if free_form:
        return base, values
    return base, asdict(options_class(**values), recurse=False)


def options_record(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options as the journal stores them (JSON values, as read back)."""
    return orjson.loads(orjson.dumps(jsonable(dict(options)), option=orjson.OPT_NON_STR_KEYS))  # type: ignore[no-any-return]


def configuration(default: Any = None) -> Any:
    """An option that configures tasks (``learner_configs``): journaled, but free to change on resume
    like ``initial_config``."""
    return field(default=default, metadata={"resume_check": False})


def check_same_options(run_dir: str, journaled: Mapping[str, Any] | None, options: Mapping[str, Any] | None,
                       allow: bool, options_class: type[StartOptions] = StartOptions) -> None:
    """Refuse to resume ``run_dir`` with options other than the journaled ones (unless ``allow``);
    options declared with :func:`configuration` may change."""
    if journaled is None or options is None or allow:
        return
    now = options_record(options)
    free = {f.name for f in fields(options_class) if not f.metadata.get("resume_check", True)}
    for name in sorted({*journaled, *now} - free):
        if journaled.get(name) != now.get(name):
            raise RoseError(
                f"cannot resume {run_dir}: it was started with {name}={journaled.get(name)!r}, this start() "
                f"has {name}={now.get(name)!r}. Pass the same options to continue it, start a new campaign "
                f"(without resume=), or pass allow_changed_options=True to continue with the new value."
            )

