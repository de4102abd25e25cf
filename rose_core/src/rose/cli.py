"""The ``rose`` command."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["main"]


def _table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print a table with rich when attached to a terminal, plain text otherwise."""
    if sys.stdout.isatty():
        try:
            from rich.console import Console
            from rich.table import Table
        except ImportError:
            pass
        else:
            table = Table(title=title)
            for header in headers:
                table.add_column(header)
            for row in rows:
                table.add_row(*row)
            Console().print(table)
            return
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    out = sys.stdout
    out.write(f"{title}\n")
    out.write("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip() + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for row in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() + "\n")


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
    _table("ROSE plugins", ["name", "distribution", "version", "provides", "status"], rows)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``rose`` command."""
    parser = argparse.ArgumentParser(prog="rose", description="Run and inspect ROSE learning campaigns.")
    parser.add_argument("--log-level", default="WARNING", help="logging level (default WARNING)")
    sub = parser.add_subparsers(dest="command", required=True)
    plugins = sub.add_parser("plugins", help="list installed plugins and what they provide")
    plugins.add_argument("-v", "--verbose", action="store_true", help="list every name each plugin provides")
    plugins.set_defaults(func=cmd_plugins)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``rose`` and ``python -m rose``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.WARNING),
                        format="%(levelname)s %(name)s: %(message)s")
    result: Any = args.func(args)
    return int(result or 0)
