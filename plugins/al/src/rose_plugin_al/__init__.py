"""rose-plugin-al: active-learning learners for ROSE (import them from ``rose.al``)."""

from __future__ import annotations

__all__: list[str] = []
