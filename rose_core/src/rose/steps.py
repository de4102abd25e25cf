"""What a policy sees of one iteration: :class:`Step` in, :class:`Outcome` out; :class:`Plan` is how
``start()`` was called.

A learning policy (a :class:`~rose.learner.Learner` subclass) implements two methods and
nothing else of the loop (:mod:`rose.loop` runs them):

* ``async def prepare(self, step) -> inputs`` - the work that feeds iteration
  ``step.iteration``. ``step.inputs`` is what the previous iteration handed over (its
  :attr:`Outcome.carry`; ``None`` before the first iteration). Runs before every iteration,
  except the first one with ``start(skip_pre_loop=True)``.
* ``async def evaluate(self, step) -> Outcome`` - the iteration's own work and its stop
  criterion. ``step.inputs`` is what ``prepare`` returned.
"""

from __future__ import annotations

from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any

from attrs import field, frozen

from rose.criterion import check_criterion

if TYPE_CHECKING:
    from rose.config import LearnerConfig
    from rose.learner import Learner

__all__ = ["Outcome", "Plan", "Step"]


@frozen(kw_only=True)
class Outcome:
    """What a policy's ``evaluate`` returns for one iteration.

    ``metric_value`` is the criterion's value (None without a criterion), ``should_stop``
    True when the campaign has reached its goal (reported as ``criterion_met``), ``carry``
    what the next iteration's ``prepare`` receives as ``step.inputs``. Keep everything the
    next iteration needs in ``carry``: it is stored (losslessly, see :mod:`rose.results`)
    after every iteration, so a resumed campaign continues with exactly it.
    """

    metric_value: float | None = None
    should_stop: bool = False
    carry: Any = None


@frozen(kw_only=True)
class Step:
    """One phase of one iteration, as a policy sees it.

    ``iteration`` counts from 0, ``config`` is the learner's :class:`~rose.LearnerConfig`
    in force (or None), ``inputs`` what the previous phase handed over, ``options`` the
    policy's own ``start()`` options (``skip_simulation_step``, ``model_names``...).
    """

    iteration: int
    config: LearnerConfig | None
    inputs: Any = None
    options: Mapping[str, Any] = field(factory=dict)
    learner: Learner = field(repr=False)

    # run() and criterion() return the learner's coroutine itself (await it, or gather it)
    # instead of wrapping it in one more: a frame less per task in flight (benchmarks/, scenario 7)
    def run(self, task: str, *deps: Any, record_state: bool = True, **extra_kwargs: Any) -> Coroutine[Any, Any, Any]:
        """Run registered task ``task`` for this iteration: ``result = await step.run(...)``.

        Its arguments are the configuration's ``args`` then ``deps`` (upstream results); its
        keyword arguments the configuration's ``kwargs`` plus ``extra_kwargs``. A dict result
        is recorded as state of this iteration unless ``record_state=False``.
        """
        return self.learner.run_task(
            task, iteration=self.iteration, config=self.config, deps=deps,
            extra_kwargs=extra_kwargs or None, record_state=record_state,
        )

    def criterion(self, *deps: Any, **extra_kwargs: Any) -> Coroutine[Any, Any, tuple[bool, float | None]]:
        """Run the stop criterion (if any): ``met, value = await step.criterion(...)``;
        ``(False, None)`` without one."""
        return check_criterion(self.learner, self.iteration, self.config, deps, extra_kwargs=extra_kwargs or None)

    def has_time_for(self, task: str) -> bool:
        """True when a run of ``task`` is expected to end before the campaign's deadline (always
        True without one). A learner that submits work across iterations (steady state) asks
        before each new submission and keeps what does not fit for the next allocation."""
        campaign = self.learner.campaign
        return campaign is None or campaign.has_time_for(task)


@frozen(kw_only=True)
class Plan:
    """How ``start()`` was called: what the loop needs besides the learner itself."""

    max_iter: int = 0
    skip_pre_loop: bool = False
    config: LearnerConfig | None = None
    resume: Any = None
    options: Mapping[str, Any] = field(factory=dict)
    manifest: Mapping[str, Any] = field(factory=dict)
    #: the options as the policy declared them (journaled; a resume must match them)
    start_options: Any = None
    #: resume even when ``start_options`` differ from the journaled ones
    allow_changed_options: bool = False
    #: when the campaign must be done by (:class:`rose.deadline.Deadline`), None: no deadline
    deadline: Any = None
