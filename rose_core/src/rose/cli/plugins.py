"""``rose plugins``: list installed plugins and what they provide."""

from __future__ import annotations

import argparse
from typing import Any

from rose.cli.output import print_blocks, print_table

__all__ = ["cmd_plugins", "provided"]


def provided(info: Any, registry: Any) -> list[tuple[str, list[str]]]:
    """What plugin ``info`` provides, kind by kind; learners and support objects apart.

    A learner record with ``role="support"`` (an experience bank, a scorer, a config
    class) is importable like a learner but is not one, so it is listed as ``support``.
    """
    from rose.plugins import KINDS

    groups: list[tuple[str, list[str]]] = []
    for kind in KINDS:
        names = list(info.provides.get(kind) or ())
        if not names:
            continue
        if kind == "learners":
            specs = registry.learners
            support = [n for n in names if getattr(specs.get(n), "role", "learner") == "support"]
            learners = [n for n in names if n not in support]
            groups += [(label, group) for label, group in (("learners", learners), ("support", support)) if group]
        else:
            groups.append((kind, names))
    return groups


def cmd_plugins(args: argparse.Namespace) -> int:
    """List installed plugins: name, distribution, version, provides, status."""
    from rose.plugins import plugin_infos, registry

    reg = registry()
    infos = plugin_infos()
    if args.verbose:
        blocks = []
        for info in infos:
            status = info.status if not info.reason else f"{info.status} ({info.reason})"
            lines = [(kind, ", ".join(names)) for kind, names in provided(info, reg)]
            blocks.append((f"{info.name}  {info.distribution} {info.version}  [{status}]", lines or [("provides", "-")]))
        print_blocks("ROSE plugins", blocks)
        return 0
    rows = []
    for info in infos:
        provides = "; ".join(f"{kind.replace('_', ' ')}: {len(names)}" for kind, names in provided(info, reg))
        status = info.status if not info.reason else f"{info.status} ({info.reason})"
        rows.append([info.name, info.distribution, info.version, provides or "-", status])
    print_table("ROSE plugins", ["name", "distribution", "version", "provides", "status"], rows)
    return 0
