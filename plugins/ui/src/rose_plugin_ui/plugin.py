"""The ``ui`` entry point: declares ``rose ui`` (nothing heavy is imported here)."""

from __future__ import annotations

import rose
from rose.plugins import lazy_call
from rose.records import CommandSpec

__all__ = ["rose_commands"]


@rose.hookimpl
def rose_commands() -> list[CommandSpec]:
    """``rose ui [RUNS_DIR] [--port N] [--host H] [--token T]``."""
    return [
        CommandSpec(
            name="ui",
            summary="serve a live web view of the campaigns of a runs folder (learning curves, tasks, allocations)",
            add_arguments=lazy_call("rose_plugin_ui.command:add_arguments"),
            run=lazy_call("rose_plugin_ui.command:run"),
        )
    ]
