"""ThompsonSampling as users get it: installed, discovered, passing the learner contract, finding the best arm."""

from __future__ import annotations

from typing import Any

from rose import LearnerConfig
from rose.learner import Learner
from rose.plugins import plugin_infos
from rose.streaming import LearnerRun
from rose.testing import LearnerContract

RATES = [0.1, 0.2, 0.9, 0.3, 0.15, 0.25]  # candidate 2 is the best


def build(engine: Any) -> Any:
    from rose.al import ThompsonSampling

    ts = ThompsonSampling(engine)

    @ts.simulation_task(as_executable=False)
    async def pull(chosen: list[int]) -> dict[str, Any]:
        return {"rewards": [RATES[i] for i in chosen]}  # the expected reward: deterministic

    return ts


def test_installed_and_discovered_as_a_learner() -> None:
    from rose.al import ThompsonSampling

    info = next(i for i in plugin_infos() if i.name == "thompson")
    assert info.distribution == "rose-plugin-thompson" and info.status == "active"
    assert info.provides == {"learners": ["ThompsonSampling"]}
    assert issubclass(ThompsonSampling, Learner)


async def test_thompson_sampling_finds_the_best_candidate(rose_engine: Any) -> None:
    ts = build(rose_engine)
    states = [state async for state in ts.start(max_iter=40, candidates=len(RATES), batch=1, seed=3)]
    assert states[-1].best_candidate == 2
    assert states[-1].evaluations == 39


class TestThompsonSamplingContract(LearnerContract):
    def make_learner(self, engine: Any) -> Learner:
        learner: Learner = build(engine)
        return learner

    def start(self, learner: Any, *, max_iter: int, config: LearnerConfig | None, resume: Any = None) -> LearnerRun:
        run: LearnerRun = learner.start(max_iter=max_iter, candidates=len(RATES), batch=2, seed=1, initial_config=config,
                                        resume=resume)
        return run
