"""An Optuna sampler as a ROSE query policy, through Optuna's ask/tell interface.

Each candidate is a point with ``d`` coordinates; the search space is one
``FloatDistribution`` per coordinate (named ``x0, x1, ...`` or ``names=[...]``) whose bounds
are ``bounds=[(low, high), ...]`` or the range of the first candidates seen. To select
``k`` candidates the policy asks the study for ``k`` trials, one at a time. The study's
sampler is wrapped (:class:`SnappingSampler`) so that the sampler's suggestion is moved to
the nearest available candidate (not pending, not already picked) *before* it is recorded:
every trial's parameters are exactly the point that will be labelled (also in the trial's
user attributes ``rose_point`` and ``rose_candidate``).

Pending points are reported to Optuna as they really are: a trial asked but not told
stays ``RUNNING`` until :meth:`OptunaPolicy.observe` tells its value, so samplers that
consider running trials (``TPESampler(constant_liar=True)``, Optuna's default) see the
points in flight. A ``pending`` point the study does not know (selected before a restart,
or by someone else) is added as a ``RUNNING`` trial with exactly its coordinates. Labels of
points no trial is waiting for (the initial design) are added as completed trials. With a
persistent study (``storage="sqlite:///optuna.db"``) a restarted policy adopts the running
trials it recorded, so their labels still reach the right trial.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna

from rose.policies import PolicyBase, PolicyError, point_key

__all__ = ["OptunaPolicy", "SnappingSampler"]

logger = logging.getLogger(__name__)


def _sampler(sampler: Any, options: dict[str, Any], seed: int | None) -> optuna.samplers.BaseSampler:
    if isinstance(sampler, optuna.samplers.BaseSampler):
        if options:
            raise PolicyError("sampler_options apply to a sampler given by name, not to a sampler object")
        return sampler
    cls: Any = getattr(optuna.samplers, str(sampler), None)
    if not (isinstance(cls, type) and issubclass(cls, optuna.samplers.BaseSampler)):
        names = sorted(n for n in dir(optuna.samplers) if n.endswith("Sampler") and not n.startswith("Base"))
        raise PolicyError(f"unknown Optuna sampler {sampler!r}; use one of {', '.join(names)} or a sampler object")
    build: Any = cls  # the concrete sampler class (BaseSampler itself takes no options)
    if seed is not None and "seed" not in options:
        try:
            return build(seed=seed, **options)  # type: ignore[no-any-return]
        except TypeError:  # a sampler without a seed (GridSampler needs its grid)
            pass
    return build(**options)  # type: ignore[no-any-return]


class SnappingSampler(optuna.samplers.BaseSampler):
    """Wraps an Optuna sampler; moves each suggestion to the nearest allowed candidate point.

    ``target`` is set by :class:`OptunaPolicy` around each ``study.ask``: the search space
    (name -> distribution, in coordinate order) and a function mapping a suggested point
    to the allowed point it snaps to.
    With no target the inner sampler's values pass through unchanged.
    """

    def __init__(self, inner: optuna.samplers.BaseSampler) -> None:
        self.inner = inner
        self.target: tuple[dict[str, Any], Any] | None = None
        self._snapped: dict[int, dict[str, float]] = {}  # trial number -> the snapped point
        self._relative: dict[int, dict[str, Any]] = {}  # a partial relative suggestion, snapped later

    def infer_relative_search_space(self, study: optuna.Study, trial: Any) -> dict[str, Any]:
        """The inner sampler's relative search space."""
        return self.inner.infer_relative_search_space(study, trial)

    def sample_relative(self, study: optuna.Study, trial: Any, search_space: dict[str, Any]) -> dict[str, Any]:
        """The inner sampler's joint suggestion, snapped when it covers every coordinate."""
        params = self.inner.sample_relative(study, trial, search_space)
        if self.target is None or not params:
            return params
        names, _snap = self.target
        if set(names) <= set(params):
            return {**params, **self._snap(trial.number, params)}
        self._relative[trial.number] = params  # finish the point coordinate by coordinate
        return {}

    def sample_independent(self, study: optuna.Study, trial: Any, param_name: str, param_distribution: Any) -> Any:
        """The snapped point's coordinate (the whole point is sampled, then snapped, at the first one)."""
        if self.target is None:
            return self.inner.sample_independent(study, trial, param_name, param_distribution)
        names, _snap = self.target
        if trial.number not in self._snapped:
            partial = self._relative.pop(trial.number, {})
            suggestion = {n: partial[n] if n in partial else self.inner.sample_independent(study, trial, n, d)
                          for n, d in names.items()}
            self._snap(trial.number, suggestion)
        return self._snapped[trial.number][param_name]

    def _snap(self, number: int, suggestion: dict[str, Any]) -> dict[str, float]:
        assert self.target is not None
        names, snap = self.target
        point = snap([float(suggestion[n]) for n in names])
        self._snapped[number] = dict(zip(names, point))
        return self._snapped[number]

    def before_trial(self, study: optuna.Study, trial: Any) -> None:
        """Delegated."""
        self.inner.before_trial(study, trial)

    def after_trial(self, study: optuna.Study, trial: Any, state: Any, values: Any) -> None:
        """Delegated; forgets the trial's snapped point."""
        self._snapped.pop(trial.number, None)
        self.inner.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        """Delegated."""
        self.inner.reseed_rng()


class OptunaPolicy(PolicyBase):
    """Any Optuna sampler as a pool-based query policy (``rose.policy("optuna", sampler="TPESampler")``).

    ``sampler``: a sampler class name from ``optuna.samplers`` (built with
    ``sampler_options`` and seeded with ``seed``, or with the ``rng`` seed of the first
    selection) or a sampler object. ``study``: an existing ``optuna.Study`` to use; else one
    is created (``study_name``, ``storage`` such as ``"sqlite:///optuna.db"``, loaded if it
    exists; in memory by default) with ``direction`` ``"minimize"`` or ``"maximize"``.
    ``names`` and ``bounds`` describe the coordinates (see the module documentation).
    ``scores`` and ``predictions`` are not used: the study's trials are the model.
    """

    name = "optuna"
    batch_aware = True
    pending_aware = True

    def __init__(
        self,
        *,
        sampler: Any = "TPESampler",
        sampler_options: dict[str, Any] | None = None,
        study: optuna.Study | None = None,
        study_name: str | None = None,
        storage: Any = None,
        direction: str = "minimize",
        names: Sequence[str] | None = None,
        bounds: Sequence[tuple[float, float]] | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(seed=seed)
        if direction not in ("minimize", "maximize"):
            raise PolicyError(f"policy 'optuna': direction must be 'minimize' or 'maximize', got {direction!r}")
        self._sampler_spec, self._sampler_options = sampler, dict(sampler_options or {})
        self._study_options = {"study_name": study_name, "storage": storage, "direction": direction}
        self.study: optuna.Study | None = study
        self.names = list(names) if names is not None else None
        self.bounds = [(float(lo), float(hi)) for lo, hi in bounds] if bounds is not None else None
        self._running: dict[tuple[Any, ...], int] = {}  # point -> number of its RUNNING trial
        self._told: set[tuple[Any, ...]] = set()  # points whose label the study has
        self._backlog: list[tuple[list[float], float]] = []  # labels observed before the space is known
        if study is not None:
            if not isinstance(study.sampler, SnappingSampler):
                study.sampler = SnappingSampler(study.sampler)
            self._adopt_running()

    # -- the study and its search space -----------------------------------------------------
    def _ensure_study(self, rng: Any) -> optuna.Study:
        if self.study is None:
            seed = self.seed if self.seed is not None else (rng if isinstance(rng, int) and not isinstance(rng, bool) else None)
            sampler = SnappingSampler(_sampler(self._sampler_spec, self._sampler_options, seed))
            self.study = optuna.create_study(sampler=sampler, load_if_exists=self._study_options["study_name"] is not None,
                                             **self._study_options)
            self._adopt_running()
        return self.study

    def _adopt_running(self) -> None:
        assert self.study is not None
        for trial in self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            point = trial.user_attrs.get("rose_point")
            if point is not None:
                self._running[point_key(point)] = trial.number

    def _space(self, x: np.ndarray) -> dict[str, optuna.distributions.BaseDistribution]:
        d = x.shape[1]
        if self.names is None:
            self.names = [f"x{j}" for j in range(d)]
        if self.bounds is None:
            seen = np.vstack([x] + [np.asarray(p, dtype=float).reshape(1, -1) for p, _ in self._backlog])
            self.bounds = [(float(lo), float(hi)) for lo, hi in zip(seen.min(axis=0), seen.max(axis=0))]
        if len(self.names) != d or len(self.bounds) != d:
            raise PolicyError(f"policy 'optuna': candidates have {d} coordinates but names/bounds describe "
                              f"{len(self.names)}/{len(self.bounds)}; pass names= and bounds= with one entry per coordinate")
        low, high = np.array([b[0] for b in self.bounds]), np.array([b[1] for b in self.bounds])
        outside = np.flatnonzero(((x < low) | (x > high)).any(axis=1))
        if outside.size:
            raise PolicyError(f"policy 'optuna': candidate {x[outside[0]].tolist()} (and {outside.size - 1} more) lies "
                              f"outside the search space {self.bounds}; pass wider bounds= or drop those candidates")
        return {n: optuna.distributions.FloatDistribution(lo, hi) for n, (lo, hi) in zip(self.names, self.bounds)}

    def _params(self, point: Any, space: dict[str, Any]) -> dict[str, float]:
        values = np.asarray(point, dtype=float).reshape(-1)
        params = dict(zip(space, (float(v) for v in values)))
        for name, value in params.items():
            if not space[name].low <= value <= space[name].high:
                raise PolicyError(f"policy 'optuna': point {values.tolist()} lies outside the search space "
                                  f"({name} in [{space[name].low}, {space[name].high}]); pass wider bounds=")
        return params

    # -- the protocol ------------------------------------------------------------------------
    def select(self, candidates: Sequence[Any], *, k: int, scores: Sequence[float] | None = None,
               predictions: Any = None, pending: Any = (), rng: Any = None) -> list[int]:
        """Ask ``k`` trials and snap each to the nearest available candidate (see the class)."""
        self._ensure_study(rng)
        return super().select(candidates, k=k, scores=scores, predictions=predictions, pending=pending, rng=rng)

    def rank(self, candidates: Sequence[Any], available: list[int], *, k: int, scores: Any, predictions: Any,
             pending: Sequence[Any], rng: Any) -> list[int]:
        """One asked trial per pick; each sees the earlier ones (and the pending points) as running."""
        study = self._ensure_study(None)
        x = np.asarray(candidates, dtype=float)
        x = x[:, None] if x.ndim == 1 else x
        space = self._space(x)
        self._flush_backlog(space)
        for point in pending:
            key = point_key(point)
            if key in self._told:
                logger.debug("policy 'optuna': pending point %s is already labelled; not adding a trial", point)
            elif key not in self._running:
                study.enqueue_trial(self._params(point, space), user_attrs={"rose_point": _plain(point)})
                trial = study.ask(space)
                self._running[key] = trial.number
        pool = np.asarray(available, dtype=int)
        free = np.ones(pool.size, dtype=bool)
        slot_of: dict[int, int] = {}

        def snap(suggestion: list[float]) -> list[float]:
            distance = ((x[pool] - np.asarray(suggestion)) ** 2).sum(axis=1)
            distance[~free] = np.inf
            slot_of[0] = int(np.argmin(distance))
            return [float(v) for v in x[pool[slot_of[0]]]]

        sampler = study.sampler
        chosen: list[int] = []
        for _ in range(k):
            slot_of.clear()
            if isinstance(sampler, SnappingSampler):
                sampler.target = (space, snap)
            try:
                trial = study.ask(space)
            finally:
                if isinstance(sampler, SnappingSampler):
                    sampler.target = None
            if not slot_of:  # a sampler we do not wrap (a study given by the user): snap its suggestion here
                snap([float(trial.params[n]) for n in space])
            free[slot_of[0]] = False
            pick = int(pool[slot_of[0]])
            trial.set_user_attr("rose_point", x[pick].tolist())
            trial.set_user_attr("rose_candidate", pick)
            self._running[point_key(x[pick].tolist())] = trial.number
            chosen.append(pick)
        return chosen

    def _flush_backlog(self, space: dict[str, Any]) -> None:
        backlog, self._backlog = self._backlog, []
        for point, value in backlog:
            self._complete(point, value, space)

    def _complete(self, point: Any, value: float, space: dict[str, Any]) -> None:
        assert self.study is not None
        self.study.add_trial(optuna.trial.create_trial(
            params=self._params(point, space), distributions=space, value=value,
            user_attrs={"rose_point": _plain(point)},
        ))

    def observe(self, points: Sequence[Any], values: Sequence[float]) -> None:
        """Tell each label to the trial waiting for it, or add it as a completed trial."""
        super().observe(points, values)
        rows = points.tolist() if hasattr(points, "tolist") else list(points)
        for point, value in zip(rows, [float(v) for v in values]):
            self._told.add(point_key(point))
            number = self._running.pop(point_key(point), None)
            if number is not None and self.study is not None:
                self.study.tell(number, value)
            elif self.study is not None and self.names is not None and self.bounds is not None:
                self._complete(point, value, self._space(np.asarray(point, dtype=float).reshape(1, -1)))
            else:  # the search space is known at the first selection
                self._backlog.append((np.asarray(point, dtype=float).reshape(-1).tolist(), value))

    @property
    def pending_trials(self) -> dict[tuple[Any, ...], int]:
        """Points asked but not told yet -> the number of their RUNNING trial."""
        return dict(self._running)


def _plain(point: Any) -> Any:
    return point.tolist() if hasattr(point, "tolist") else point
