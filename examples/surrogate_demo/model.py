"""The simulation: range of a projectile with quadratic air drag and wind.

A ball is launched from ``LAUNCH_HEIGHT`` metres with speed ``v0`` at ``angle`` degrees
above the horizon, into a horizontal wind ``wind`` (m/s, positive = tail wind). Air drag
is quadratic in the speed relative to the air::

    dv/dt = -k |v - w| (v - w) - g e_y,      k = rho C_d A / (2 m)

so ``k`` (1/m) lumps air density, drag coefficient, cross-section and mass. The output of
interest is the horizontal distance travelled until the ball hits the ground, found with
``scipy.integrate.solve_ivp`` and a terminal ground-contact event. There is no closed form
with drag, which is why a cheap surrogate of this map is worth learning.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

#: the inputs, their units and the box the campaign explores
PARAMETERS = ("v0", "angle", "log10_k", "wind")
UNITS = ("m/s", "deg", "log10(1/m)", "m/s")
LOWER = np.array([20.0, 15.0, -3.5, -10.0])
UPPER = np.array([80.0, 75.0, -1.5, 10.0])

GRAVITY = 9.81  # m/s^2
LAUNCH_HEIGHT = 1.5  # m


def _rhs(_t: float, s: np.ndarray, k: float, wind: float) -> list[float]:
    _x, _y, vx, vy = s
    rx, ry = vx - wind, vy
    speed = np.hypot(rx, ry)
    return [vx, vy, -k * speed * rx, -k * speed * ry - GRAVITY]


def _ground(_t: float, s: np.ndarray, k: float, wind: float) -> float:
    return float(s[1])


_ground.terminal = True  # type: ignore[attr-defined]
_ground.direction = -1  # type: ignore[attr-defined]


def projectile_range(v0: float, angle: float, log10_k: float, wind: float) -> float:
    """Horizontal distance (m) from launch to ground contact."""
    theta = np.radians(angle)
    k = 10.0**log10_k
    state0 = [0.0, LAUNCH_HEIGHT, v0 * np.cos(theta), v0 * np.sin(theta)]
    t_max = 2.5 * v0 / GRAVITY + 10.0  # longer than any flight in the box
    sol = solve_ivp(_rhs, (0.0, t_max), state0, args=(k, wind), events=_ground, rtol=1e-8, atol=1e-8)
    if sol.t_events[0].size == 0:
        raise RuntimeError(f"no ground contact within {t_max:.0f} s for v0={v0}, angle={angle}, "
                           f"log10_k={log10_k}, wind={wind}")
    return float(sol.y_events[0][0][0])


def simulate(points: np.ndarray) -> np.ndarray:
    """The range for every row ``(v0, angle, log10_k, wind)`` of ``points``."""
    return np.array([projectile_range(*row) for row in np.atleast_2d(points)])


def sample(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points drawn uniformly from the parameter box."""
    return LOWER + (UPPER - LOWER) * rng.random((n, len(PARAMETERS)))
