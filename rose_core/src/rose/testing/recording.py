"""A tracker that remembers every call, for assertions in tests."""

from __future__ import annotations

from typing import Any

__all__ = ["RecordingTracker"]


class RecordingTracker:
    """A tracker that remembers every call, for assertions."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.manifest: Any = None
        self.states: list[Any] = []
        self.stop: tuple[Any, str] | None = None

    def on_start(self, manifest: Any) -> None:
        """Remember the manifest."""
        self.manifest = manifest
        self.events.append(("start", manifest))

    def on_iteration(self, state: Any) -> None:
        """Remember the state."""
        self.states.append(state)
        self.events.append(("iteration", state))

    def on_stop(self, final_state: Any, reason: str) -> None:
        """Remember the final state and reason."""
        self.stop = (final_state, reason)
        self.events.append(("stop", reason))
