"""QueryByCommittee as users get it: installed, discovered, passing the learner contract, learning."""

from __future__ import annotations

import statistics
from typing import Any

from rose import LearnerConfig
from rose.learner import Learner
from rose.plugins import plugin_infos
from rose.streaming import LearnerRun
from rose.testing import LearnerContract

POOL = [i / 20 for i in range(21)]


def truth(x: float) -> float:
    return x * x


def build(engine: Any) -> Any:
    from rose.al import QueryByCommittee

    qbc = QueryByCommittee(engine)

    @qbc.simulation_task(as_executable=False)
    async def simulate(selected: list[int]) -> dict[str, Any]:
        points = [POOL[i] for i in selected] if selected else [0.0, 1.0]  # the ends of the pool first
        return {"labels": [[x, truth(x)] for x in points]}  # only the new labels: the policy keeps them all

    @qbc.training_task(as_executable=False)
    async def train(data: dict[str, Any], member: int = 0) -> list[list[float]]:
        points = data["labels"]
        return [p for i, p in enumerate(points) if i % 3 != member % 3 or len(points) < 4]  # a different subset each

    @qbc.prediction_task(as_executable=False)
    async def predict(model: list[list[float]], member: int = 0) -> list[float]:
        def nearest(x: float) -> float:
            return min(model, key=lambda p: abs(p[0] - x))[1]

        return [nearest(x) for x in POOL]

    return qbc


def test_installed_and_discovered_as_a_learner() -> None:
    from rose.al import QueryByCommittee

    info = next(i for i in plugin_infos() if i.name == "committee")
    assert info.distribution == "rose-plugin-committee" and info.status == "active"
    assert info.provides == {"learners": ["QueryByCommittee"]}
    assert issubclass(QueryByCommittee, Learner)


async def test_the_committee_learns_where_it_disagrees(rose_engine: Any) -> None:
    qbc = build(rose_engine)
    errors: list[float] = []
    states = [state async for state in qbc.start(max_iter=6, committee_size=3, query_size=2)]
    for state in states:
        model = state.labels
        errors.append(statistics.fmean(abs(min(model, key=lambda p: abs(p[0] - x))[1] - truth(x)) for x in POOL))
    counts = [s.labeled_count for s in states]
    assert counts == sorted(set(counts)) and counts[-1] >= 10  # new points every iteration
    assert errors[-1] < errors[0] / 2
    assert all(s.disagreement >= 0 for s in states)


class TestQueryByCommitteeContract(LearnerContract):
    def make_learner(self, engine: Any) -> Learner:
        learner: Learner = build(engine)
        return learner

    def start(self, learner: Any, *, max_iter: int, config: LearnerConfig | None, resume: Any = None) -> LearnerRun:
        run: LearnerRun = learner.start(max_iter=max_iter, committee_size=2, query_size=1, initial_config=config,
                                        resume=resume)
        return run


def test_the_policy_guide_shows_this_code() -> None:
    """docs/plugins/writing-a-policy.md includes the policy and its hook verbatim (run from a checkout)."""
    from pathlib import Path

    import pytest

    here = Path(__file__).resolve().parents[1]
    guide = here.parents[1] / "docs" / "plugins" / "writing-a-policy.md"
    if not guide.exists():
        pytest.skip("the documentation is not part of an installed plugin")
    text = guide.read_text()
    for source in ("learner.py", "__init__.py"):
        code = (here / "src" / "rose_plugin_committee" / source).read_text().rstrip()
        assert f"```python\n{code}\n```" in text, f"docs/plugins/writing-a-policy.md lost {source}"
