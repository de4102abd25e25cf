"""A self-contained CartPole and a linear policy (pure Python; no gymnasium needed).

The physics are the classic cart-pole equations (Barto, Sutton & Anderson, 1983) with
the constants of gymnasium's ``CartPole-v1``: a pole hinged on a cart, pushed left or
right with a fixed force each 0.02 s step, reward 1 per step while the pole stays within
12 degrees of upright and the cart within 2.4 m of the centre, at most 500 steps.

The policy is linear: push right when ``theta . [x, x_dot, angle, angle_dot] > 0``. The
cross-entropy method (CEM) learns ``theta``: keep a Gaussian over ``theta``, try samples
from it, refit the Gaussian to the best ("elite") samples. The Gaussian is stored as
JSON in ``policy.json`` in the learner's working directory.
"""

from __future__ import annotations

import json
import math
import os
import random
from collections.abc import Sequence

GRAVITY = 9.8
CART_MASS = 1.0
POLE_MASS = 0.1
TOTAL_MASS = CART_MASS + POLE_MASS
POLE_HALF_LENGTH = 0.5
POLE_MASS_LENGTH = POLE_MASS * POLE_HALF_LENGTH
FORCE = 10.0
TAU = 0.02
ANGLE_LIMIT = 12 * 2 * math.pi / 360
POSITION_LIMIT = 2.4
MAX_STEPS = 500
N_PARAMS = 4

POLICY_FILE = "policy.json"

State = tuple[float, float, float, float]


class CartPole:
    """CartPole-v1 dynamics (explicit Euler integration), seeded by ``rng``."""

    def __init__(self, rng: random.Random, max_steps: int = MAX_STEPS) -> None:
        self.rng = rng
        self.max_steps = max_steps
        self.state: State = (0.0, 0.0, 0.0, 0.0)
        self.steps = 0

    def reset(self) -> State:
        """Start near upright: every state variable uniform in [-0.05, 0.05]."""
        u = self.rng.uniform
        self.state = (u(-0.05, 0.05), u(-0.05, 0.05), u(-0.05, 0.05), u(-0.05, 0.05))
        self.steps = 0
        return self.state

    def step(self, action: int) -> tuple[State, float, bool]:
        """Push left (0) or right (1); returns ``(next_state, reward, done)``."""
        x, x_dot, theta, theta_dot = self.state
        force = FORCE if action == 1 else -FORCE
        cos, sin = math.cos(theta), math.sin(theta)
        temp = (force + POLE_MASS_LENGTH * theta_dot**2 * sin) / TOTAL_MASS
        theta_acc = (GRAVITY * sin - cos * temp) / (POLE_HALF_LENGTH * (4.0 / 3.0 - POLE_MASS * cos**2 / TOTAL_MASS))
        x_acc = temp - POLE_MASS_LENGTH * theta_acc * cos / TOTAL_MASS
        x, x_dot = x + TAU * x_dot, x_dot + TAU * x_acc
        theta, theta_dot = theta + TAU * theta_dot, theta_dot + TAU * theta_acc
        self.state = (x, x_dot, theta, theta_dot)
        self.steps += 1
        fallen = abs(x) > POSITION_LIMIT or abs(theta) > ANGLE_LIMIT
        return self.state, 1.0, fallen or self.steps >= self.max_steps


def act(weights: Sequence[float], state: State) -> int:
    """The linear policy's action for ``state``: 1 (right) when ``weights . state > 0``."""
    return 1 if sum(w * s for w, s in zip(weights, state)) > 0 else 0


def run_episode(env: CartPole, weights: Sequence[float]) -> tuple[list[tuple[State, int, float, State, bool]], float]:
    """Play one episode; returns its transitions ``(state, action, reward, next_state, done)`` and return."""
    state = env.reset()
    transitions = []
    total = 0.0
    done = False
    while not done:
        action = act(weights, state)
        next_state, reward, done = env.step(action)
        transitions.append((state, action, reward, next_state, done))
        total += reward
        state = next_state
    return transitions, total


def load_policy(work_dir: str) -> dict[str, object]:
    """The CEM distribution ``{"mean", "std", "generation"}``; a broad prior before the first update."""
    path = os.path.join(work_dir, POLICY_FILE)
    if not os.path.exists(path):
        return {"mean": [0.0] * N_PARAMS, "std": [1.0] * N_PARAMS, "generation": 0}
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)  # type: ignore[no-any-return]


def save_policy(work_dir: str, policy: dict[str, object]) -> None:
    """Write the CEM distribution atomically (temporary file, then rename)."""
    path = os.path.join(work_dir, POLICY_FILE)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(policy, handle)
    os.replace(tmp, path)


def work_dir() -> str:
    """Where this task works: ``$ROSE_WORK_DIR`` (set by ParallelExperience) or the current directory."""
    return os.environ.get("ROSE_WORK_DIR") or os.getcwd()
