"""examples/reinforcement_learn: ParallelExperience learns CartPole (shortened run)."""

from __future__ import annotations

import importlib.util
import json
import os

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "examples", "reinforcement_learn", "run_me.py")


def _load_example():
    spec = importlib.util.spec_from_file_location("rose_rl_example_run_me", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_cartpole_example_reaches_its_threshold(rl_engine):
    example = _load_example()
    # shortened: two exploration settings, fewer and shorter episodes, a lower bar
    final = await example.run(engine=rl_engine, max_iter=8, verbose=False, explorations=(0.5, 2.0), episodes=6,
                              max_steps=200, test_episodes=10, threshold=120.0)
    assert final.should_stop and final.metric_value > 120.0
    assert final.metric_history[-1] == final.metric_value
    assert all(v <= 120.0 for v in final.metric_history[:-1])
    assert set(final.experience_by_environment) == {"explore_0.5", "explore_2"}
    assert final.experience_total >= final.experience_new > 0
    work = os.path.dirname(final.experience_bank)
    with open(os.path.join(work, "policy.json"), encoding="utf-8") as handle:
        policy = json.load(handle)
    assert policy["generation"] == final.iteration + 1 and len(policy["mean"]) == 4
