"""ROSE 0.3 path ``rose.integrations.clearml_tracker``: ``ClearMLTracker`` from the ClearML plugin.

New code: ``rose.tracker("clearml", project_name=..., task_name=...)``. Without the plugin,
importing the name raises an ImportError naming the distribution to install.
"""

from __future__ import annotations

from rose._compat import alias_module

__getattr__, __dir__, __all__ = alias_module(__name__)
