"""``rose plugins``: list installed plugins and what they provide."""

from __future__ import annotations

import argparse

from rose.cli.output import print_table

__all__ = ["cmd_plugins"]


def cmd_plugins(args: argparse.Namespace) -> int:
    """List installed plugins: name, distribution, version, provides, status."""
    from rose.plugins import KINDS, plugin_infos

    rows = []
    for info in plugin_infos():
        provides = "; ".join(
            f"{kind}: {', '.join(info.provides[kind]) if args.verbose else len(info.provides[kind])}"
            for kind in KINDS
            if info.provides.get(kind)
        )
        status = info.status if not info.reason else f"{info.status} ({info.reason})"
        rows.append([info.name, info.distribution, info.version, provides or "-", status])
    print_table("ROSE plugins", ["name", "distribution", "version", "provides", "status"], rows)
    return 0
