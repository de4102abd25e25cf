"""Subcommands that plugins add to ``rose`` through the ``rose_commands`` hook.

Every plugin command appears in ``rose --help`` with its summary; only the command being
invoked has its ``add_arguments`` called (and so its module imported), so a plugin's heavy
imports never slow down another command.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

__all__ = ["add_plugin_commands", "invoked_command"]

def invoked_command(argv: Sequence[str], options_with_values: Sequence[str] = ("--log-level",)) -> str | None:
    """The subcommand named in ``argv`` (its first positional word), skipping ``rose``'s own options."""
    skip = False
    for token in argv:
        if skip:
            skip = False
            continue
        if token in options_with_values:
            skip = True
            continue
        if token == "--":
            return None
        if not token.startswith("-"):
            return token
    return None


def add_plugin_commands(sub: Any, builtin: Sequence[str], invoked: str | None) -> None:
    """Add every plugin command to the sub-parsers ``sub`` (an argparse ``_SubParsersAction``).

    A plugin command named like one of ``builtin`` is left out with a warning naming its
    distribution (an error with ``ROSE_STRICT_PLUGINS=1``); ``rose``'s own command stays.
    Two plugins giving one name are refused by the registry, naming both distributions.
    """
    from rose.plugins import plugin_problem, provider_of, registry

    for name, spec in sorted(registry().commands.items()):
        if name in builtin:
            info = provider_of("commands", name)
            who = f"{info.distribution} (entry point {info.name!r})" if info is not None else "a plugin"
            message = (
                f"{who} provides the command {name!r}, which is rose's own `rose {name}`: the plugin's command is "
                f"ignored. Rename it in the plugin, or disable the plugin with ROSE_DISABLE_PLUGINS=<entry point>."
            )
            plugin_problem(message)
            continue
        parser: argparse.ArgumentParser = sub.add_parser(name, allow_abbrev=False, help=spec.summary,
                                                         description=spec.summary)
        if name == invoked:
            spec.add_arguments(parser)
        parser.set_defaults(func=spec.run)
