"""``rose.uq``: names provided by the installed learner plugins (see ``rose plugins``)."""

from __future__ import annotations

from typing import Any

from rose._shim import names_in, resolve


def __getattr__(name: str) -> Any:
    return resolve("uq", name)


def __dir__() -> list[str]:
    return names_in("uq")
