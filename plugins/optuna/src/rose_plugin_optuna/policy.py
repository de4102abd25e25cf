"""An Optuna sampler as a ROSE query policy, through Optuna's ask/tell interface.

Each candidate is a point with ``d`` coordinates; the search space is one
``FloatDistribution`` per coordinate (named ``x0, x1, ...`` or ``names=[...]``) whose bounds
are ``bounds=[(low, high), ...]`` or the range of the points the policy sees. To select
``k`` candidates the policy asks the study for ``k`` trials, one at a time. The study's
sampler is wrapped (:class:`~rose_plugin_optuna.samplers.SnappingSampler`) so that the
sampler's suggestion is moved to the nearest available candidate (not pending, not already
picked) *before* it is recorded: every trial's parameters are exactly the point that will be
labelled (also in the trial's user attributes ``rose_point`` and ``rose_candidate``).

Two kinds of study:

* **Rebuilt** (the default, no ``study=``/``storage=``): every selection builds a new
  in-memory study from what the policy was told: each label (``observe``) a completed
  trial, each ``pending`` point a ``RUNNING`` trial, and a sampler seeded from ``seed`` and
  the size of the request. The selection is a function of the request alone, so a campaign
  whose requests carry every label so far selects after a resume exactly what it would
  have selected uninterrupted (the policy object holds nothing a resume needs).
* **Live** (``study=`` or ``storage=``): one study is kept and grows. A trial asked but not
  told stays ``RUNNING`` until :meth:`OptunaPolicy.observe` tells its value; a ``pending``
  point the study does not know is added as a ``RUNNING`` trial; labels no trial waits for
  become completed trials; a restarted policy adopts the running trials a persistent
  storage recorded. The sampler's random state is not in the study, so selections after a
  resume may differ from the uninterrupted run's.

In both, pending points are reported to Optuna as they really are (``RUNNING`` trials), so
samplers that consider running trials (``TPESampler(constant_liar=True)``, Optuna's
default) see the points in flight.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna

from rose.policies import PolicyBase, PolicyError, point_key
from rose_plugin_optuna.samplers import SnappingSampler, build_sampler, selection_seed

__all__ = ["OptunaPolicy", "SnappingSampler"]

logger = logging.getLogger(__name__)

#: the name of every rebuilt study (its creation is not announced: it happens at each selection)
REBUILT_STUDY = "rose-optuna-rebuilt"


class _QuietRebuilds(logging.Filter):
    """Drops Optuna's "A new study created in memory" line for the policy's own rebuilt studies."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().endswith(REBUILT_STUDY)


logging.getLogger("optuna.storages._in_memory").addFilter(_QuietRebuilds())

Label = tuple[tuple[Any, ...], Any]  # (the point's key, its value or "nan")


class OptunaPolicy(PolicyBase):
    """Any Optuna sampler as a pool-based query policy (``rose.policy("optuna", sampler="TPESampler")``).

    ``sampler``: a sampler class name from ``optuna.samplers`` (built with
    ``sampler_options`` and seeded with ``seed``, else with the ``rng`` of the selection,
    else 0) or a sampler object (used as given: its random state is its own). ``study``: an
    existing ``optuna.Study`` to use, or ``storage`` (such as ``"sqlite:///optuna.db"``,
    with ``study_name``; loaded if it exists): a *live* study; without either the study is
    *rebuilt* at each selection from the labels and pending points (see the module
    documentation: only a rebuilt study makes a resumed campaign select exactly what an
    uninterrupted one would). ``direction``: ``"minimize"`` or ``"maximize"``. ``names`` and
    ``bounds`` describe the coordinates. ``scores`` and ``predictions`` are not used: the
    study's trials are the model.
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
        if not isinstance(sampler, optuna.samplers.BaseSampler):
            build_sampler(sampler, dict(sampler_options or {}), seed)  # a bad name or option fails here, not later
        self._sampler_spec, self._sampler_options = sampler, dict(sampler_options or {})
        self._study_options = {"study_name": study_name, "storage": storage, "direction": direction}
        #: True when each selection rebuilds the study from the request (no ``study=``/``storage=``)
        self.rebuilds = study is None and storage is None
        self.study: optuna.Study | None = study
        self.names = list(names) if names is not None else None
        self.bounds = [(float(lo), float(hi)) for lo, hi in bounds] if bounds is not None else None
        self._given_bounds = self.bounds is not None
        self._running: dict[tuple[Any, ...], int] = {}  # point -> number of its RUNNING trial
        self._told: set[tuple[Any, ...]] = set()  # points whose label the study has
        self._backlog: list[tuple[list[float], float]] = []  # labels observed before the space is known
        self._held: dict[Label, tuple[list[float], float]] = {}  # rebuilt: the labels of the last selection
        self._since: dict[Label, tuple[list[float], float]] = {}  # rebuilt: labels given since then
        self._seed_now = 0
        self._trials: dict[Label, optuna.trial.FrozenTrial] = {}  # rebuilt: each held label's trial, made once
        self._trials_space: dict[str, Any] | None = None  # ... for this search space
        if study is not None:
            if not isinstance(study.sampler, SnappingSampler):
                study.sampler = SnappingSampler(study.sampler)
            self._adopt_running()

    # -- the study and its search space -----------------------------------------------------
    def _ensure_study(self, rng: Any) -> optuna.Study:
        if self.study is None:
            seed = self.seed if self.seed is not None else (rng if isinstance(rng, int) and not isinstance(rng, bool) else None)
            sampler = SnappingSampler(build_sampler(self._sampler_spec, self._sampler_options, seed))
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

    def _space(self, x: np.ndarray, seen: Sequence[Any] = ()) -> dict[str, optuna.distributions.BaseDistribution]:
        """The search space for candidates ``x``; without ``bounds=`` it spans ``x`` and the ``seen`` points
        (a live study keeps the first one it gets; a rebuilt one spans the request at hand)."""
        d = x.shape[1]
        if self.names is None:
            self.names = [f"x{j}" for j in range(d)]
        bounds = self.bounds
        if bounds is None:
            rows = [x] + [np.asarray(p, dtype=float).reshape(1, -1) for p in seen]
            odd = next((r for r in rows if r.shape[1] != d), None)
            if odd is not None:
                raise PolicyError(f"policy 'optuna': point {odd.reshape(-1).tolist()} has {odd.shape[1]} coordinates, "
                                  f"the candidates {d}; give labels and pending points in the form of a candidate")
            both = np.vstack(rows)
            bounds = [(float(lo), float(hi)) for lo, hi in zip(both.min(axis=0), both.max(axis=0))]
            if not self.rebuilds:
                self.bounds = bounds
        if len(self.names) != d or len(bounds) != d:
            raise PolicyError(f"policy 'optuna': candidates have {d} coordinates but names/bounds describe "
                              f"{len(self.names)}/{len(bounds)}; pass names= and bounds= with one entry per coordinate")
        low, high = np.array([b[0] for b in bounds]), np.array([b[1] for b in bounds])
        outside = np.flatnonzero(((x < low) | (x > high)).any(axis=1))
        if outside.size:
            raise PolicyError(f"policy 'optuna': candidate {x[outside[0]].tolist()} (and {outside.size - 1} more) lies "
                              f"outside the search space {bounds}; pass wider bounds= or drop those candidates")
        return {n: optuna.distributions.FloatDistribution(lo, hi) for n, (lo, hi) in zip(self.names, bounds)}

    def _params(self, point: Any, space: dict[str, Any]) -> dict[str, float]:
        values = np.asarray(point, dtype=float).reshape(-1)
        if values.size != len(space):
            raise PolicyError(f"policy 'optuna': point {values.tolist()} has {values.size} coordinates, the candidates "
                              f"{len(space)}; give labels and pending points in the form of a candidate")
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
        if self.rebuilds:
            self._take_labels()
            base = _base_seed(self.seed, rng)
            count = 0 if pending is None else len(pending.tolist() if hasattr(pending, "tolist") else list(pending))
            self._seed_now = selection_seed(base, len(self._held), count)
        else:
            self._ensure_study(rng)
        return super().select(candidates, k=k, scores=scores, predictions=predictions, pending=pending, rng=rng)

    def rank(self, candidates: Sequence[Any], available: list[int], *, k: int, scores: Any, predictions: Any,
             pending: Sequence[Any], rng: Any) -> list[int]:
        """One asked trial per pick; each sees the earlier ones (and the pending points) as running."""
        x = np.asarray(candidates, dtype=float)
        x = x[:, None] if x.ndim == 1 else x
        if self.rebuilds:
            study, space = self._rebuild(x, pending)
        else:
            study = self._ensure_study(None)
            space = self._space(x, [p for p, _ in self._backlog])
            self._flush_backlog(space)
            self._add_pending(study, space, pending)
        return self._ask(study, space, x, available, k)

    def _rebuild(self, x: np.ndarray, pending: Sequence[Any]) -> tuple[optuna.Study, dict[str, Any]]:
        """A new in-memory study: the held labels as completed trials (in their order), then the pending points."""
        labels = list(self._held.values())
        space = self._space(x, [p for p, _ in labels] + list(pending))
        sampler = SnappingSampler(build_sampler(self._sampler_spec, self._sampler_options, self._seed_now))
        study = optuna.create_study(sampler=sampler, direction=self._study_options["direction"], study_name=REBUILT_STUDY)
        if self._trials_space != space:  # the completed trials depend on the label and the space only
            self._trials, self._trials_space = {}, space
        trials = self._trials
        for key, (point, value) in self._held.items():
            if key not in trials:
                failed = math.isnan(value)
                trials[key] = optuna.trial.create_trial(
                    state=optuna.trial.TrialState.FAIL if failed else optuna.trial.TrialState.COMPLETE,
                    params=self._params(point, space), distributions=space, value=None if failed else value,
                    user_attrs={"rose_point": point})
        study.add_trials([trials[key] for key in self._held])
        self._trials = {key: trials[key] for key in self._held}  # forget labels no longer held
        self.study, self._running, self._told = study, {}, {point_key(p) for p, _ in labels}
        self._add_pending(study, space, pending)
        return study, space

    def _add_pending(self, study: optuna.Study, space: dict[str, Any], pending: Sequence[Any]) -> None:
        """Each pending point the study does not know becomes a RUNNING trial at exactly that point."""
        new = []
        for point in pending:
            key = point_key(point)
            if key in self._told:
                logger.debug("policy 'optuna': pending point %s is already labelled; not adding a trial", point)
            elif key not in self._running:
                new.append(optuna.trial.create_trial(state=optuna.trial.TrialState.RUNNING, params=self._params(point, space),
                                                     distributions=space, user_attrs={"rose_point": _plain(point)}))
                self._running[key] = -1  # numbered below
        if new:
            study.add_trials(new)
            self._adopt_running()

    def _ask(self, study: optuna.Study, space: dict[str, Any], x: np.ndarray, available: list[int], k: int) -> list[int]:
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
        """Record labels. Rebuilt study: kept for the next selection (a label given again is not
        added twice), and told to the trial of the last selection waiting for it. Live study:
        told to the trial waiting for it, or added as a completed trial."""
        rows = points.tolist() if hasattr(points, "tolist") else list(points)
        told = [float(v) for v in (values.tolist() if hasattr(values, "tolist") else values)]
        if len(rows) != len(told):
            raise PolicyError(f"policy 'optuna': {len(rows)} points but {len(told)} values to observe")
        if not self.rebuilds:
            super().observe(rows, told)
        for point, value in zip(rows, told):
            plain = np.asarray(point, dtype=float).reshape(-1).tolist()
            if self.rebuilds:  # a NaN (a failed evaluation) is kept once per point, as a FAIL trial
                self._since.setdefault(_label_key(plain, value), (plain, value))
            self._told.add(point_key(point))
            number = self._running.pop(point_key(point), None)
            if number is not None and self.study is not None:
                self.study.tell(number, value)
            elif self.rebuilds:
                continue  # the next rebuilt study has it
            elif self.study is not None and self.names is not None and self.bounds is not None:
                self._complete(point, value, self._space(np.asarray(point, dtype=float).reshape(1, -1)))
            else:  # the search space is known at the first selection
                self._backlog.append((plain, value))
        if self.rebuilds:
            labels = self._labels()
            self.observed_points, self.observed_values = [p for p, _ in labels], [v for _, v in labels]

    def _labels(self) -> list[tuple[list[float], float]]:
        """The labels the next rebuilt study holds: those not given again since the last selection
        (in their order), then those given since (in the order given)."""
        return [label for key, label in self._held.items() if key not in self._since] + list(self._since.values())

    def _take_labels(self) -> None:
        self._held, self._since = {_label_key(p, v): (p, v) for p, v in self._labels()}, {}

    @property
    def pending_trials(self) -> dict[tuple[Any, ...], int]:
        """Points asked but not told yet -> the number of their RUNNING trial."""
        return dict(self._running)


def _label_key(point: Any, value: float) -> Label:
    return point_key(point), "nan" if math.isnan(value) else value


def _base_seed(seed: int | None, rng: Any) -> int:
    """The seed a rebuilt study's sampler derives from: ``seed``, else the selection's ``rng`` (a seed, or
    one drawn from a generator), else 0 (a rebuilt study must draw the same after a resume)."""
    if seed is not None:
        return int(seed)
    if isinstance(rng, int) and not isinstance(rng, bool):
        return rng
    if hasattr(rng, "integers"):  # a numpy Generator
        return int(rng.integers(2**32))
    if hasattr(rng, "getrandbits"):  # random.Random
        return int(rng.getrandbits(32))
    return 0


def _plain(point: Any) -> Any:
    return point.tolist() if hasattr(point, "tolist") else point
