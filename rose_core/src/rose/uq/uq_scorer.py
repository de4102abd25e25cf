"""ROSE 0.3 path ``rose.uq.uq_scorer``: ``UQScorer``, ``register_uq``, ``UQ_REGISTRY``; new code: ``rose.uq``."""

from __future__ import annotations

from rose._compat import alias_module

__getattr__, __dir__, __all__ = alias_module(__name__)
