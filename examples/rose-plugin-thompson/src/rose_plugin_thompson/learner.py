"""Thompson sampling: evaluate the candidates whose sampled success rate is highest."""

from __future__ import annotations

import random
from typing import Any

from attrs import field, frozen

import rose
from rose import Outcome, Step
from rose.learner import Learner
from rose.options import StartOptions, whole_number


@frozen(kw_only=True)
class ThompsonOptions(StartOptions):
    """``start()`` options: ``candidates`` in the pool, ``batch`` chosen per iteration, the ``seed`` of the draws."""

    candidates: int = field(default=10, validator=whole_number(minimum=1))
    batch: int = field(default=1, validator=whole_number(minimum=1))
    seed: int = field(default=0, validator=whole_number(minimum=0))

    def __attrs_post_init__(self) -> None:
        if self.batch > self.candidates:
            raise ValueError(f"ThompsonSampling: batch={self.batch} is more than the {self.candidates} candidates")


class ThompsonSampling(Learner):
    """Each iteration: evaluate the chosen candidates (simulation), update a Beta posterior of
    every candidate's success rate with the rewards, then draw one rate per candidate from
    its posterior and choose the ``batch`` highest draws for the next iteration; the
    criterion ends the campaign.

    The simulation receives the candidate indices to evaluate (none at first) and returns
    ``{"rewards": [...]}``, one number in [0, 1] per candidate, in the same order. The
    posterior (two counts per candidate) and everything else the next iteration needs is in
    the carry; the draws come from a generator seeded by ``seed`` and the iteration, so a
    resumed campaign draws exactly what the uninterrupted one would have.
    """

    required_tasks = ("simulation",)

    options_class = ThompsonOptions
    start_positional = ("max_iter", "candidates", "batch", "seed", "initial_config", "resume")

    async def prepare(self, step: Step) -> dict[str, Any]:
        """Evaluate the last choice and add its rewards to the posterior."""
        n = step.options["candidates"]
        carry = step.inputs or {"successes": [0.0] * n, "failures": [0.0] * n, "chosen": []}
        successes, failures = list(carry["successes"]), list(carry["failures"])
        if carry["chosen"]:
            found = await step.run("simulation", carry["chosen"], record_state=False)
            rewards = [] if rose.is_placeholder(found) else found["rewards"]  # a dry run labels nothing
            for index, reward in zip(carry["chosen"], rewards):
                successes[index] += float(reward)
                failures[index] += 1.0 - float(reward)
        self.register_state("evaluations", round(sum(successes) + sum(failures)))
        return {"successes": successes, "failures": failures}

    async def evaluate(self, step: Step) -> Outcome:
        """Draw a success rate per candidate from its posterior, choose the best draws, check the criterion."""
        posterior = step.inputs or {"successes": [], "failures": []}
        rng = random.Random(f"{step.options['seed']}:{step.iteration}")
        draws = [rng.betavariate(1.0 + s, 1.0 + f) for s, f in zip(posterior["successes"], posterior["failures"])]
        chosen = sorted(range(len(draws)), key=lambda i: -draws[i])[: step.options["batch"]]
        means = [(1.0 + s) / (2.0 + s + f) for s, f in zip(posterior["successes"], posterior["failures"])]
        self.register_state("best_candidate", max(range(len(means)), key=lambda i: means[i]))
        met, value = await step.criterion(chosen)
        return Outcome(metric_value=value, should_stop=met, carry={**posterior, "chosen": chosen})
