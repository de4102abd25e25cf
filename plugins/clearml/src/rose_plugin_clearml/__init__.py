"""rose-plugin-clearml: ClearML experiment tracking for ROSE learners.

``learner.add_tracker(rose.tracker("clearml", project_name="ROSE", task_name="my campaign"))`` or
``from rose_plugin_clearml import ClearMLTracker``. Importing this package is cheap: ClearML
itself (seconds to import) loads when a campaign starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rose_plugin_clearml.tracker import ClearMLTracker

__all__ = ["ClearMLTracker"]


def __getattr__(name: str) -> Any:
    if name == "ClearMLTracker":
        from rose_plugin_clearml.tracker import ClearMLTracker

        return ClearMLTracker
    raise AttributeError(f"module 'rose_plugin_clearml' has no attribute {name!r}")
