"""ROSE 0.3 path ``rose.integrations.clearml_tracker``: ``ClearMLTracker`` from rose-plugin-clearml.

New code: ``rose.tracker("clearml", project_name=..., task_name=...)``. Without the plugin,
importing the name raises an ImportError that says ``pip install rose-plugin-clearml``.
"""

from __future__ import annotations

from rose._compat import alias_module

__getattr__, __dir__, __all__ = alias_module(
    __name__,
    plugin={"ClearMLTracker": ("rose_plugin_clearml.tracker", "rose-plugin-clearml")},
    core={"TrackerBase": "rose.tracking"},
)
