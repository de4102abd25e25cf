"""The built-in query policies: registered by name, the policy contract, what each selects, as a task."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rose
from rose import LearnerConfig, TaskConfig
from rose.errors import UnknownNameError
from rose.plugins import registry
from rose.policies import Policy, PolicyError, as_task
from rose.testing import PolicyContract, check_policy, check_policy_spec
from rose.testing.learner import ContractFailure

N = 16
X = np.linspace(0.0, 3.0, N)
ENSEMBLE = np.random.default_rng(0).normal(size=(5, N))
PROBS = np.random.default_rng(1).dirichlet([1.0, 1.0, 1.0], size=N)
GAUSS = {"mean": np.sin(2 * X), "std": 0.1 + 0.3 * np.abs(np.cos(X))}

REQUESTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {  # name -> (request, options)
    "random": ({}, {}),
    "max-variance": ({"predictions": ENSEMBLE}, {}),
    "margin": ({"predictions": PROBS}, {}),
    "entropy": ({"predictions": PROBS}, {}),
    "expected-improvement": ({"predictions": GAUSS}, {"best": 0.0}),
    "greedy-k-center": ({}, {}),
    "batch-diverse-top-k": ({"predictions": ENSEMBLE}, {}),
}


def test_the_seven_built_in_policies_are_registered_with_their_flags() -> None:
    policies = registry().policies
    assert set(REQUESTS) <= set(policies)
    aware = {name for name, spec in policies.items() if spec.pending_aware and name in REQUESTS}
    assert aware == {"expected-improvement", "greedy-k-center", "batch-diverse-top-k"}
    assert all(isinstance(rose.policy(name), Policy) for name in REQUESTS)


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_every_built_in_policy_passes_the_policy_contract(name: str) -> None:
    request, options = REQUESTS[name]
    check_policy_spec(registry().policies[name], X, **request, **options)
    check_policy_spec(registry().policies[name], np.column_stack([X, X**2]), **request, **options)


def test_unknown_policy_name_lists_the_available_ones() -> None:
    with pytest.raises(UnknownNameError, match=r"no policy named 'max_variance'.*Did you mean 'max-variance'.*"
                                               r"Available policies: .*batch-diverse-top-k"):
        rose.policy("max_variance")


def test_uncertainty_policies_pick_the_most_uncertain_candidates() -> None:
    variance = ENSEMBLE.var(axis=0)
    assert rose.policy("max-variance").select(X, k=3, predictions=ENSEMBLE) == np.argsort(-variance)[:3].tolist()
    probs = np.array([[0.9, 0.05, 0.05], [0.4, 0.35, 0.25], [0.34, 0.33, 0.33], [0.6, 0.3, 0.1]])
    points = [0.0, 1.0, 2.0, 3.0]
    # margin selects the most uncertain samples (small top1 - top2), not the most certain ones
    assert rose.policy("margin").select(points, k=2, predictions=probs) == [2, 1]
    assert rose.policy("entropy").select(points, k=1, predictions=probs) == [2]
    assert rose.policy("max-variance").select(points, k=2, scores=[0.1, 0.5, 0.2, 0.9]) == [3, 1]


def test_a_pending_point_is_never_selected_again() -> None:
    scores = [0.1, 0.5, 0.2, 0.9]
    assert rose.policy("max-variance").select([0.0, 1.0, 2.0, 3.0], k=2, scores=scores, pending=[3.0]) == [1, 2]
    with pytest.raises(PolicyError, match=r"k=2 candidates but only 1 of 4 are available \(3 are pending\)"):
        rose.policy("random").select([0.0, 1.0, 2.0, 3.0], k=2, pending=[[0.0], [1.0], [3.0]])


def test_expected_improvement_batch_and_pending_by_kriging_believer() -> None:
    x = np.linspace(0.0, 1.0, 101)
    mean = np.full(x.size, 1.0)
    std = np.exp(-((x - 0.3) ** 2) / 0.02) + 0.6 * np.exp(-((x - 0.8) ** 2) / 0.02)  # two bumps
    policy = rose.policy("expected-improvement", best=1.0, length_scale=0.1)
    [first] = policy.select(x, k=1, predictions={"mean": mean, "std": std})
    assert x[first] == pytest.approx(0.3)
    # the neighbour of the top point is almost as good on its own, but a batch spreads out ...
    batch = policy.select(x, k=2, predictions={"mean": mean, "std": std})
    assert batch[0] == first and x[batch[1]] == pytest.approx(0.8)
    # ... and so does a selection made while the top point is still being simulated
    [while_pending] = policy.select(x, k=1, predictions={"mean": mean, "std": std}, pending=[x[first]])
    assert x[while_pending] == pytest.approx(0.8)
    # the incumbent comes from the labels observed so far when no best is given
    observing = rose.policy("expected-improvement", maximize=True)
    with pytest.raises(PolicyError, match="needs the best value so far"):
        observing.select(x, k=1, predictions={"mean": mean, "std": std})
    observing.observe([0.5], [1.0])
    assert observing.select(x, k=1, predictions={"mean": mean, "std": std}) == [first]


def test_diversity_policies_keep_away_from_pending_and_labelled_points() -> None:
    x = np.linspace(0.0, 1.0, 11)
    picks = rose.policy("greedy-k-center").select(x, k=2, pending=[0.0, 1.0])
    assert sorted(x[picks].round(2).tolist()) in ([0.3, 0.5], [0.5, 0.7], [0.5, 0.8], [0.2, 0.5])
    assert 5 in picks  # the middle is the farthest from both pending ends
    scores = np.array([0, 0, 0, 0, 0, 0.6, 0, 0, 0.7, 0.8, 0.9])  # the best three are neighbours
    assert rose.policy("max-variance").select(x, k=2, scores=scores) == [10, 9]
    assert rose.policy("batch-diverse-top-k", pool_factor=2).select(x, k=2, scores=scores) == [10, 5]
    labelled = rose.policy("batch-diverse-top-k", pool_factor=4)
    labelled.observe([1.0], [0.0])  # x = 1.0 is labelled: the batch keeps away from it
    assert labelled.select(x, k=1, scores=scores) == [5]


def test_policies_are_deterministic_with_a_seed_and_differ_across_seeds() -> None:
    picks = {tuple(rose.policy("random").select(X, k=4, rng=seed)) for seed in range(5)}
    assert len(picks) > 1
    assert rose.policy("random", seed=7).select(X, k=4) == rose.policy("random", seed=7).select(X, k=4)


def test_a_hand_written_policy_passes_the_contract() -> None:
    from rose.policies import PolicyBase

    class Lowest(PolicyBase):
        name = "lowest"

        def rank(self, candidates: Any, available: list[int], **request: Any) -> list[int]:
            return sorted(available, key=lambda i: request["scores"][i])

    check_policy(Lowest, [(float(i), 0.0) for i in range(8)], scores=[5, 3, 1, 7, 2, 8, 0, 4])
    assert Lowest().select([1, 2, 3, 4], k=2, scores=[4, 3, 2, 1], pending=[4]) == [2, 1]

    class Broken(PolicyBase):
        name = "broken"

        def rank(self, candidates: Any, available: list[int], **request: Any) -> list[int]:
            return [0, 0, 1]

    with pytest.raises(PolicyError, match="expected 2 distinct indices"):
        Broken().select([1, 2, 3], k=2)


async def test_as_task_reads_a_request_file_and_writes_the_selection(tmp_path: Path) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"candidates": [[0.0], [1.0], [2.0], [3.0]], "scores": [1, 4, 2, 3],
                                   "pending": [[1.0]]}))
    task = as_task(rose.policy("max-variance"), k=2)
    result = await task(str(request), output=str(tmp_path / "selected.json"))
    assert result == {"selected": [3, 2], "selected_points": [[3.0], [2.0]], "policy": "max-variance", "k": 2}
    assert json.loads((tmp_path / "selected.json").read_text()) == result
    np.savez(tmp_path / "request.npz", candidates=X, predictions=ENSEMBLE)
    picked = await task(source=str(tmp_path / "request.npz"), k=1)
    assert picked["selected"] == [int(np.argmax(ENSEMBLE.var(axis=0)))]
    with pytest.raises(PolicyError, match="no selection request found"):
        await task({"loss": 1.0})
    with pytest.raises(PolicyError, match=r"unknown option\(s\) \['batch'\]"):
        await task({"candidates": [1, 2, 3]}, batch=2)


async def test_a_policy_is_the_active_learning_task_of_a_real_campaign(al_engine: Any) -> None:
    """Sequential AL on the local backend: the policy task picks points, the simulation labels them."""
    from rose.al import SequentialActiveLearner
    from rose.metrics import MEAN_SQUARED_ERROR_MSE

    pool = np.linspace(0.0, 4.0, 41)
    learner = SequentialActiveLearner(al_engine)
    labelled: dict[float, float] = {}
    batches: list[list[float]] = []

    @learner.simulation_task(as_executable=False)
    async def simulation(*upstream: Any, **kwargs: Any) -> dict[str, Any]:
        new = upstream[-1]["selected_points"] if upstream and isinstance(upstream[-1], dict) else [0.0, 4.0]
        batches.append(list(new))
        for x in new:
            assert x not in labelled, f"{x} was selected twice"
            labelled[x] = float(np.sin(2 * x))
        return {"labelled_count": len(labelled)}

    @learner.training_task(as_executable=False)
    async def training(*upstream: Any, **kwargs: Any) -> dict[str, Any]:
        xs = np.array(sorted(labelled))
        rng = np.random.default_rng(len(xs))  # a crude ensemble: interpolants through bootstrap resamples
        members = []
        for _ in range(4):
            sample = np.sort(rng.choice(xs, size=len(xs)))
            members.append(np.interp(pool, sample, np.sin(2 * sample)))
        unlabelled = ~np.isin(pool, xs)
        new = batches[-1]  # labels that arrived since the last selection
        return {"candidates": pool[unlabelled], "predictions": np.array(members)[:, unlabelled],
                "observed_points": new, "observed_values": [labelled[x] for x in new]}

    learner.active_learn_task(as_executable=False)(as_task(rose.policy("batch-diverse-top-k"), k=3))

    @learner.as_stop_criterion(metric_name=MEAN_SQUARED_ERROR_MSE, threshold=0.0, as_executable=False)
    async def check(*upstream: Any, **kwargs: Any) -> float:
        xs = np.array(sorted(labelled))
        return float(np.mean((np.interp(pool, xs, np.sin(2 * xs)) - np.sin(2 * pool)) ** 2))

    config = LearnerConfig(active_learn=TaskConfig(kwargs={"seed": 3}))
    states = [s async for s in learner.start(max_iter=3, initial_config=config)]
    assert len(states) == 3
    assert [len(b) for b in batches] == [2, 3, 3]
    assert states[-1].state["policy"] == "batch-diverse-top-k" and len(states[-1].state["selected"]) == 3
    assert states[-1].metric_value < states[0].metric_value


def test_entry_module_does_not_import_numpy_or_the_policies() -> None:
    code = ("import sys, rose_plugin_al.plugin as p; p.rose_policies(); "
            "print('numpy' in sys.modules, 'rose_plugin_al.policies' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"}).stdout.split()
    assert out == ["False", "False"]


EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "policies" / "built_in_policy.py"


@pytest.mark.parametrize("policy", ["batch-diverse-top-k", "max-variance", "greedy-k-center", "random"])
def test_the_built_in_policy_example_runs_with_each_pool_policy(policy: str, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(EXAMPLE), "--policy", policy, "--max-iter", "2"], cwd=tmp_path,
                          env={**os.environ, "ROSE_RUNS_DIR": str(tmp_path / "runs")}, capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("iteration")]
    assert [line.split(":")[0] for line in lines] == ["iteration 0", "iteration 1"]
    assert "with 6 labels; next: " in lines[1] and lines[1].count(",") == 2


DOCS = Path(__file__).resolve().parents[3] / "docs" / "policies.md"


def python_blocks() -> list[str]:
    text = DOCS.read_text()
    return [block.split("```", 1)[0] for block in text.split("```python\n")[1:]]


def test_every_python_block_of_the_policies_page_compiles() -> None:
    blocks = python_blocks()
    assert len(blocks) == 5
    for number, block in enumerate(blocks):
        compile(block, f"docs/policies.md block {number}", "exec")


async def test_the_policies_page_examples_run(al_engine: Any) -> None:
    """The blocks without Optuna run here (rose-plugin-optuna's tests run the Optuna block)."""
    blocks = [b for b in python_blocks() if "optuna" not in b]
    assert len(blocks) == 4
    for block in blocks:
        namespace: dict[str, Any] = {"__name__": "docs_block"}
        exec(compile(block, "docs/policies.md", "exec"), namespace)
        if "build" in namespace:  # the campaign block: run two iterations of it
            learner = namespace["build"](al_engine)
            states = [s async for s in learner.start(max_iter=2)]
            assert len(states) == 2 and len(states[-1].state["selected_points"]) == 3


def _subset(request: dict[str, Any], keep: np.ndarray) -> dict[str, Any]:
    predictions = request.get("predictions")
    if predictions is None:
        return dict(request)
    if isinstance(predictions, dict):
        return {**request, "predictions": {key: value[keep] for key, value in predictions.items()}}
    if predictions.shape[0] != N:  # [n_models, n]
        return {**request, "predictions": predictions[:, keep]}
    return {**request, "predictions": predictions[keep]}


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_a_steady_state_loop_labels_every_point_once(name: str) -> None:
    """K simulations in flight; as each finishes, observe its label and select one more, pending-aware."""
    request, options = REQUESTS[name]
    policy = rose.policy(name, **options)
    order = np.random.default_rng(4)
    in_flight = [float(X[i]) for i in policy.select(X, k=3, rng=0, **request)]
    labelled: list[float] = []
    while in_flight:
        finished = in_flight.pop(int(order.integers(len(in_flight))))  # simulations end in any order
        policy.observe([finished], [float(np.sin(finished))])
        labelled.append(finished)
        keep = ~np.isin(X, labelled)
        if keep.sum() > len(in_flight):
            [pick] = policy.select(X[keep], k=1, pending=in_flight, **_subset(request, keep))
            new = float(X[keep][pick])
            assert new not in in_flight and new not in labelled
            in_flight.append(new)
    assert sorted(labelled) == X.tolist()


class TestRandomPolicyContract(PolicyContract):
    """rose.testing.PolicyContract, the reusable form of check_policy (docs/reference/hooks.md names it)."""

    candidates = [[float(x)] for x in X]

    def make_policy(self) -> Policy:
        return rose.policy("random")


def test_a_broken_policy_fails_the_contract_with_a_readable_message() -> None:
    class PicksPending:
        batch_aware = False
        pending_aware = False

        def select(self, candidates: Any, *, k: int, pending: Any = (), **request: Any) -> list[int]:
            return list(range(k))

        def observe(self, points: Any, values: Any) -> None:
            pass

    class TestBroken(PolicyContract):
        def make_policy(self) -> Any:
            return PicksPending()

    with pytest.raises(ContractFailure, match=r"PolicyContract check .* failed for query policy .*PicksPending: "
                                              r"selected pending candidates .* Fix: .*PolicyBase"):
        TestBroken().test_policy_contract()
