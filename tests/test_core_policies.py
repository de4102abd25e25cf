"""Query policies in the core: the rose_policies hook, rose.policy(), PolicyBase, as_task (no numpy needed)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from attrs.exceptions import FrozenInstanceError
from core_support import run_rose

import rose
from rose.errors import PluginConflictError, UnknownNameError
from rose.policies import PolicyBase, PolicyError, as_task, available_indices, point_key
from rose.records import PolicySpec
from rose.testing import PluginSandbox, check_policy, check_policy_spec


class Nearest(PolicyBase):
    """Candidates closest to ``target`` first: a small pure-Python policy for these tests."""

    name = "nearest"
    batch_aware = False
    pending_aware = False

    def __init__(self, *, target: float = 0.0, seed: int | None = None) -> None:
        super().__init__(seed=seed)
        self.target = target

    def rank(self, candidates: Any, available: list[int], **request: Any) -> list[int]:
        rng = request["rng"]
        jitter = {i: rng.random() * 1e-9 for i in available}  # ties broken by the seeded generator
        return sorted(available, key=lambda i: (abs(float(candidates[i]) - self.target), jitter[i]))


class NearestPlugin:
    @staticmethod
    @rose.hookimpl
    def rose_policies() -> list[PolicySpec]:
        return [PolicySpec(name="nearest", summary="closest to a target first", factory=Nearest)]


CANDIDATES = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]


def test_a_plugin_policy_is_found_by_name_with_its_options(rose_plugins: PluginSandbox) -> None:
    rose_plugins.register(NearestPlugin, name="nearest-plugin")
    policy = rose.policy("nearest", target=5.2)
    assert policy.select(CANDIDATES, k=3, pending=[5.0]) == [6, 4, 7]
    check_policy_spec(rose_plugins.registry.policies["nearest"], CANDIDATES, target=2.0)
    [info] = [i for i in rose.plugins.plugin_infos() if i.name == "nearest-plugin"]
    assert info.provides == {"policies": ["nearest"]}


def test_unknown_and_conflicting_policy_names(rose_plugins: PluginSandbox) -> None:
    rose_plugins.register(NearestPlugin, name="nearest-plugin")
    expected = r"no policy named 'nearst'.*Did you mean 'nearest'\?.*Available policies: nearest"
    with pytest.raises(UnknownNameError, match=expected):
        rose.policy("nearst")

    class Again:
        @staticmethod
        @rose.hookimpl
        def rose_policies() -> list[PolicySpec]:
            return [PolicySpec(name="nearest", summary="again", factory=Nearest)]

    rose_plugins.register(Again, name="again")
    with pytest.raises(PluginConflictError, match="nearest"):
        rose.policy("nearest")


def test_policy_spec_is_a_validated_frozen_record() -> None:
    spec = PolicySpec(name="p", summary="s", factory=Nearest, batch_aware=True)
    assert (spec.batch_aware, spec.pending_aware) == (True, False)
    with pytest.raises(FrozenInstanceError):
        spec.name = "q"  # type: ignore[misc]
    with pytest.raises(TypeError):
        PolicySpec(name="p", factory=Nearest, batch_aware="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        PolicySpec(name="p", factory="not callable")  # type: ignore[arg-type]


def test_policy_base_keeps_the_contract_and_explains_bad_requests() -> None:
    check_policy(lambda: Nearest(target=3.0), CANDIDATES)
    with pytest.raises(PolicyError, match=r"policy 'nearest' was asked for k=3 candidates but only 2 of 8 are available "
                                          r"\(6 are pending\): pass more candidates or a smaller k"):
        Nearest().select(CANDIDATES, k=3, pending=CANDIDATES[:6])
    with pytest.raises(PolicyError, match="k must be a whole number >= 1, got 2.5"):
        Nearest().select(CANDIDATES, k=2.5)  # type: ignore[arg-type]
    with pytest.raises(PolicyError, match="3 scores for 8 candidates"):
        Nearest().select(CANDIDATES, k=1, scores=[1.0, 2.0, 3.0])
    with pytest.raises(PolicyError, match="2 points but 1 values"):
        Nearest().observe([1.0, 2.0], [0.5])


def test_pending_points_match_candidates_by_value_in_any_form() -> None:
    assert point_key(2) == point_key(2.0) == point_key([2.0]) == point_key((2,))
    assert point_key([[1, 2], [3, 4]]) == ((1.0, 2.0), (3.0, 4.0))
    rows = [(0.0, 1.0), (1.0, 1.0), (2.0, 1.0)]
    assert available_indices(rows, [[1.0, 1.0]]) == [0, 2]
    assert available_indices(rows, []) == [0, 1, 2]


def test_as_task_answers_a_selection_request(tmp_path: Path) -> None:
    task = as_task(Nearest(target=2.4), k=2)
    assert task.__name__ == "select_with_nearest"
    answer = asyncio.run(task("simulated", {"candidates": CANDIDATES, "pending": [2.0]}))
    assert answer == {"selected": [3, 1], "selected_points": [3.0, 1.0], "policy": "nearest", "k": 2}
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"candidates": CANDIDATES, "k": 1, "observed_points": [9.0], "observed_values": [1.5]}))
    policy = Nearest(target=6.6)
    out = tmp_path / "selected.json"
    answer = asyncio.run(as_task(policy)(source=str(request), output=str(out)))
    assert answer["selected"] == [7] and json.loads(out.read_text()) == answer
    assert policy.observed_points == [9.0] and policy.observed_values == [1.5]
    with pytest.raises(PolicyError, match="how many to select"):
        asyncio.run(as_task(policy)({"candidates": CANDIDATES}))


def test_rose_plugins_verbose_lists_policies() -> None:
    result = run_rose(["plugins", "-v"])
    assert result.returncode == 0, result.stderr
    block = result.stdout.split("\nal ", 1)[1].split("\n\n", 1)[0]  # the al plugin's block, wrapped lines joined
    assert "policies: random, max-variance, margin, entropy, expected-improvement, greedy-k-center, batch-diverse-top-k" in (
        " ".join(block.split())
    )
