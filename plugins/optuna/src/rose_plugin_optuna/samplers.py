"""Building an Optuna sampler by name, and the wrapper that snaps its suggestions to candidates."""

from __future__ import annotations

import random
from typing import Any

import optuna

from rose.policies import PolicyError

__all__ = ["SnappingSampler", "build_sampler", "selection_seed"]


def build_sampler(sampler: Any, options: dict[str, Any], seed: int | None) -> optuna.samplers.BaseSampler:
    """The sampler ``sampler`` names (a class of ``optuna.samplers``, built with ``options`` and ``seed``) or the object given."""
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


def selection_seed(base: int, labels: int, pending: int) -> int:
    """The seed of the sampler rebuilt for one selection: a function of the policy's seed and
    of the request (how many labels and pending points it holds), never of earlier calls."""
    return random.Random(f"rose-optuna:{base}:{labels}:{pending}").randrange(2**32)
