"""ROSE 0.3 path ``rose.al.selector``: ``AlgorithmSelector`` (the AL plugin); new code: ``rose.al``."""

from __future__ import annotations

from rose._compat import alias_module

__getattr__, __dir__, __all__ = alias_module(__name__)
