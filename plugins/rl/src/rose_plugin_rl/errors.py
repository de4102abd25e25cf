"""Errors raised by the reinforcement learners and experience banks.

Every message names the file or task concerned, what was wrong and how to fix it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rose.errors import RoseError

__all__ = [
    "CorruptBankError",
    "EnvironmentTaskError",
    "ExperienceBankError",
    "MissingBankError",
]


class ExperienceBankError(RoseError):
    """An experience bank file could not be read, written or merged (``.path`` names it)."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class MissingBankError(ExperienceBankError, FileNotFoundError):
    """An experience bank file that should exist does not."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class CorruptBankError(ExperienceBankError, ValueError):
    """A file that is not a readable experience bank (truncated, foreign, pickle, newer format)."""


class EnvironmentTaskError(RoseError):
    """One or more environment tasks of an iteration failed.

    ``failures`` maps each failed environment's name to its exception; ``iteration`` is
    the iteration they belonged to. The first failure is also the ``__cause__``.
    """

    def __init__(self, learner: str, iteration: int, failures: Mapping[str, BaseException]) -> None:
        self.learner = learner
        self.iteration = iteration
        self.failures: dict[str, BaseException] = dict(failures)
        lines = [f"{name}: {_first_line(exc)}" for name, exc in self.failures.items()]
        names = ", ".join(repr(n) for n in self.failures)
        super().__init__(
            f"{learner}: {len(self.failures)} environment task(s) failed at iteration {iteration} "
            f"({names}); no experience was merged and no update ran for this iteration.\n  "
            + "\n  ".join(lines)
        )


def _first_line(exc: Any) -> str:
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if not isinstance(exc, RoseError) else text
