"""Overrides for workflow scripts: what ``rose run`` changes without editing the script.

``rose run workflow.py --backend dask --tracker mlflow --max-iter 3 --resume RUN`` runs the
script unchanged; the options travel as environment variables, read when the script
builds its engine and starts its learners:

========================  ====================================================================
``ROSE_BACKEND``          the backend ``rose.engine(...)`` builds, whatever name the script
                          passes (the script's backend options are dropped when the name changes)
``ROSE_BACKEND_OPTIONS``  a JSON object of options for that backend's factory, merged over the
                          script's (``rose run --backend-option KEY=VALUE``, repeatable)
``ROSE_DRY_RUN``          ``1``: build the ``dry-run`` backend (nothing runs; the task graph is shown)
``ROSE_TRACKERS``         comma-separated tracker names added to every top-level learner
``ROSE_MAX_ITER``         stop each learner after at most this many iterations
``ROSE_RESUME``           the campaign directory a top-level learner continues (``start(resume=...)``);
                          ``latest``: the newest campaign of the learner's type and tasks
========================  ====================================================================

Environment variables, not a Python context, so the same overrides reach a script run as
``ROSE_MAX_ITER=2 python workflow.py`` and any process the script starts. "Top-level"
learners are the ones a script creates itself (``learner_id`` is None); the sub-learners of
a parallel learner follow their parent.

The functions at the end (:func:`engine_choice`, :func:`campaign_trackers`,
:func:`resume_for`; the campaign loop reads ``max_iter`` once per campaign) are what :mod:`rose.engine` and
:class:`rose.learner.Learner` call.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator, Mapping
from typing import Any

from attrs import field, frozen

from rose.errors import RoseError

__all__ = [
    "DRY_RUN_BACKEND",
    "ENV",
    "LATEST",
    "Overrides",
    "applied",
    "campaign_trackers",
    "current",
    "engine_choice",
    "parse_backend_option",
    "resume_for",
]

logger = logging.getLogger(__name__)

DRY_RUN_BACKEND = "dry-run"
#: ``ROSE_RESUME`` value for "the newest campaign of this learner" (like ``start(resume=True)``)
LATEST = "latest"

#: the environment variable of each override
ENV = {
    "backend": "ROSE_BACKEND",
    "backend_options": "ROSE_BACKEND_OPTIONS",
    "dry_run": "ROSE_DRY_RUN",
    "trackers": "ROSE_TRACKERS",
    "max_iter": "ROSE_MAX_ITER",
    "resume": "ROSE_RESUME",
}

_TRUE = ("1", "true", "yes", "on")


@frozen(kw_only=True)
class Overrides:
    """The overrides in force (all empty by default)."""

    backend: str | None = None
    backend_options: Mapping[str, Any] = field(factory=dict, converter=dict)
    dry_run: bool = False
    trackers: tuple[str, ...] = ()
    max_iter: int | None = None
    resume: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Overrides:
        """Read the overrides from ``environ`` (default ``os.environ``).

        A malformed value raises :class:`RoseError` naming the variable, the value and the fix.
        """
        env = os.environ if environ is None else environ
        raw_max = env.get(ENV["max_iter"], "").strip()
        max_iter: int | None = None
        if raw_max:
            try:
                max_iter = int(raw_max)
            except ValueError:
                max_iter = -1
            if max_iter < 1:
                raise RoseError(
                    f"{ENV['max_iter']}={raw_max!r} is not a whole number >= 1; set it to the most "
                    f"iterations each learner may run (e.g. {ENV['max_iter']}=3) or unset it"
                )
        trackers = tuple(t.strip() for t in env.get(ENV["trackers"], "").split(",") if t.strip())
        return cls(
            backend=env.get(ENV["backend"], "").strip() or None,
            backend_options=_backend_options_from(env.get(ENV["backend_options"], "")),
            dry_run=env.get(ENV["dry_run"], "").strip().lower() in _TRUE,
            trackers=trackers,
            max_iter=max_iter,
            resume=env.get(ENV["resume"], "").strip() or None,
        )

    def to_env(self) -> dict[str, str]:
        """The environment variables that carry these overrides (only the ones set)."""
        env: dict[str, str] = {}
        if self.backend:
            env[ENV["backend"]] = self.backend
        if self.backend_options:
            env[ENV["backend_options"]] = json.dumps(dict(self.backend_options), sort_keys=True)
        if self.dry_run:
            env[ENV["dry_run"]] = "1"
        if self.trackers:
            env[ENV["trackers"]] = ",".join(self.trackers)
        if self.max_iter is not None:
            env[ENV["max_iter"]] = str(self.max_iter)
        if self.resume:
            env[ENV["resume"]] = self.resume if self.resume == LATEST else os.path.abspath(self.resume)
        return env

    def describe(self) -> str:
        """A one-line summary (``backend=dask, max_iter=3``), or ``none``."""
        parts = [f"{key}={value}" for key, value in self.to_env().items()
                 if key != ENV["backend_options"]]
        parts += [f"{key}={value!r}" for key, value in sorted(self.backend_options.items())]
        return ", ".join(parts) if parts else "none"


def parse_backend_option(text: str) -> tuple[str, Any]:
    """``"KEY=VALUE"`` -> ``(KEY, value)``; the value is parsed as JSON when it can be.

    ``n_workers=4`` gives ``4``, ``processes=false`` gives ``False``, ``address=tcp://h:8786``
    stays a string. Raises :class:`RoseError` when there is no ``=`` or no key.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or not key.isidentifier():
        raise RoseError(
            f"backend option {text!r} is not KEY=VALUE with KEY a Python identifier; write it like "
            "--backend-option n_workers=4 or --backend-option address=tcp://host:8786"
        )
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    return key, value


def _backend_options_from(raw: str) -> dict[str, Any]:
    raw = raw.strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise RoseError(
            f"{ENV['backend_options']}={raw!r} is not a JSON object; set it like "
            f"{ENV['backend_options']}='{{\"n_workers\": 4}}' (or use rose run --backend-option KEY=VALUE)"
        )
    return {str(key): item for key, item in value.items()}


def current() -> Overrides:
    """The overrides in force now (read from the environment)."""
    return Overrides.from_env()


@contextlib.contextmanager
def applied(overrides: Overrides) -> Iterator[Overrides]:
    """Put ``overrides`` into the environment for the duration of the block (then restore)."""
    names = list(ENV.values())
    saved = {name: os.environ.get(name) for name in names}
    try:
        for name in names:
            os.environ.pop(name, None)
        os.environ.update(overrides.to_env())
        yield overrides
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# -- what the core calls ------------------------------------------------------------------


def engine_choice(name: str, options: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The backend name and options ``rose.engine(name, **options)`` should really use."""
    over = current()
    chosen = DRY_RUN_BACKEND if over.dry_run else (over.backend or name)
    extra = {} if over.dry_run else dict(over.backend_options)
    if extra:
        logger.info("backend %r: options from %s: %s", chosen, ENV["backend_options"], extra)
    if chosen == name:
        return name, {**options, **extra}
    if options:
        logger.info("backend %r overridden to %r: dropping the script's options %s", name, chosen, sorted(options))
    else:
        logger.info("backend %r overridden to %r", name, chosen)
    return chosen, extra


def campaign_trackers(learner: Any) -> list[Any]:
    """Trackers named by ``ROSE_TRACKERS`` for a top-level learner (none for sub-learners)."""
    names = current().trackers
    if not names or getattr(learner, "learner_id", None) is not None:
        return []
    from rose import tracker

    present = {type(t).__name__ for t in getattr(learner, "trackers", ())}
    made = []
    for name in names:
        made_one = tracker(name)
        if type(made_one).__name__ in present:
            logger.info("tracker %r is already attached to %s; not adding it twice", name, type(learner).__name__)
            continue
        made.append(made_one)
    return made


def resume_for(learner: Any) -> str | None:
    """The campaign directory ``ROSE_RESUME`` names, for a top-level learner."""
    if getattr(learner, "learner_id", None) is not None:
        return None
    return current().resume
