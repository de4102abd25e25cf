"""``rose.rl.experience``: names provided by the RL plugin."""

from __future__ import annotations

from typing import Any

from rose._shim import names_in, resolve


def __getattr__(name: str) -> Any:
    return resolve("rl.experience", name)


def __dir__() -> list[str]:
    return names_in("rl.experience")
