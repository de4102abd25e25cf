"""SteadyStateActiveLearner: simulations stay in flight across retrainings; selection sees them."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import pytest


async def test_keeps_k_in_flight_and_never_selects_a_pending_point(rose_engine: Any) -> None:
    from rose.al import SteadyStateActiveLearner

    learner = SteadyStateActiveLearner(rose_engine)
    pool = list(range(40))
    simulated: Counter[int] = Counter()
    running = {"now": 0, "most": 0}
    lock = threading.Lock()
    seen_pending: list[list[int]] = []

    @learner.simulation_task(as_executable=False)
    async def simulate(point: int, point_id: int = 0) -> dict[str, int]:
        with lock:
            running["now"] += 1
            running["most"] = max(running["most"], running["now"])
            simulated[point] += 1
        time.sleep(0.02 * (1 + point % 4))  # durations vary
        with lock:
            running["now"] -= 1
        return {"x": point}

    labeled: list[int] = []

    @learner.training_task(as_executable=False)
    async def train(results: list[dict[str, int]]) -> list[int]:
        labeled.extend(r["x"] for r in results)
        return sorted(labeled)

    @learner.active_learn_task(as_executable=False)
    async def select(model: Any, pending: list[int], count: int) -> list[int]:
        seen_pending.append(list(pending))
        taken = set(model or []) | set(pending)
        return [p for p in pool if p not in taken][:count]

    states = [s async for s in learner.start(max_iter=10, in_flight=4, retrain_every=1)]
    assert len(states) == 10 and all(s.in_flight == 4 for s in states)
    assert max(simulated.values()) == 1, "a point was simulated twice"
    assert running["most"] == 4
    assert states[-1].labeled_total == sum(s.labeled_new for s in states) >= 10
    assert any(seen_pending[1:]), "selection never saw the points in flight"


def test_options_are_checked() -> None:
    from rose.al import SteadyStateActiveLearner

    learner = SteadyStateActiveLearner(object())
    for kind in ("simulation", "training", "active_learn"):
        getattr(learner, f"{kind}_task")(as_executable=False)(_noop)
    with pytest.raises(ValueError, match="retrain_every=5 can never fire with in_flight=2"):
        learner.start(max_iter=3, in_flight=2, retrain_every=5)
    with pytest.raises(ValueError, match="in_flight must be a whole number >= 1, got 0"):
        learner.start(max_iter=3, in_flight=0)


async def _noop(*args: Any, **kwargs: Any) -> None:
    return None


def test_the_steady_state_example_reaches_its_target_and_is_the_documented_code() -> None:
    """examples/active_learn/steady/run_me.py runs to its target; the tutorial shows it verbatim."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    script = root / "examples" / "active_learn" / "steady" / "run_me.py"
    if not script.exists():
        pytest.skip("the examples are not part of an installed plugin")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=180, cwd=root)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("reached the target")
    assert "4 in flight" in result.stdout
    guide = (root / "docs" / "tutorials" / "steady-state.md").read_text()
    assert f"```python\n{script.read_text().rstrip()}\n```" in guide
