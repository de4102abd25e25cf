"""``teach()`` and ``learn()``: ROSE 0.3's names of ``await learner.start(...)``, in one mixin.

Active-learning learners of ROSE 0.3 ran with ``await learner.teach(...)``, reinforcement
learners with ``await learner.learn(...)``. A learner class that keeps those names mixes in
:class:`OldRunNames` after :class:`~rose.learner.Learner` (``class L(Learner, OldRunNames)``);
each call warns (DeprecationWarning, removed in 0.6) and runs ``await self.start(...)`` with
the old parameter names mapped to the new ones.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from rose.streaming import LearnerRun

__all__ = ["OldRunNames"]


class OldRunNames:
    """``teach(...)`` / ``learn(...)``: deprecated aliases of ``await self.start(...)``."""

    #: the positional parameters of ``teach()``/``learn()`` when they differ from ``start_positional``
    old_positional: ClassVar[tuple[str, ...] | None] = None
    #: keyword names of ``teach()``/``learn()`` and the ``start()`` parameter each is now
    old_keywords: ClassVar[Mapping[str, str]] = {"learner_config": "initial_config", "learning_config": "initial_config"}
    start_positional: ClassVar[tuple[str, ...]]

    if TYPE_CHECKING:  # provided by rose.learner.Learner, which comes first in the bases

        def start(self, *args: Any, **kwargs: Any) -> LearnerRun:
            """:meth:`rose.learner.Learner.start`."""

    async def teach(self, *args: Any, **kwargs: Any) -> Any:
        """Deprecated (removed in 0.6): ``await learner.start(...)``, which it runs."""
        return await self.start(**self.old_call("teach", args, kwargs))

    async def learn(self, *args: Any, **kwargs: Any) -> Any:
        """Deprecated (removed in 0.6): ``await learner.start(...)``, which it runs."""
        return await self.start(**self.old_call("learn", args, kwargs))

    def old_call(self, name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Warn that ``name()`` is deprecated; the ``start()`` keyword arguments of its call."""
        warnings.warn(f"{name}() is deprecated and goes away in ROSE 0.6; use `await learner.start(...)`",
                      DeprecationWarning, stacklevel=3)  # the caller of teach()/learn()
        positional = self.old_positional or self.start_positional
        if len(args) > len(positional):
            raise TypeError(f"{type(self).__name__}.{name}() takes at most {len(positional)} positional arguments "
                            f"({', '.join(positional)}), got {len(args)}")
        call: dict[str, Any] = {}
        for key, value in [*zip(positional, args), *kwargs.items()]:
            key = self.old_keywords.get(key, key)
            call[key] = (call[key] or value) if key in call else value  # an old and a new name: either set it
        return call
