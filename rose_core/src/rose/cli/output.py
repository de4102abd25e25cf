"""How the ``rose`` command prints: tables with rich on a terminal, plain text otherwise."""

from __future__ import annotations

import shutil
import sys
import textwrap
from collections.abc import Sequence

__all__ = ["print_blocks", "print_table"]


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], *,
                keep: Sequence[int] = ()) -> None:
    """Print a table with rich when attached to a terminal, plain text otherwise.

    Columns whose index is in ``keep`` are never shortened or wrapped on a terminal (a run
    name must stay whole: it is what ``rose show`` takes).
    """
    if sys.stdout.isatty():
        try:
            from rich.console import Console
            from rich.table import Table
        except ImportError:
            pass
        else:
            table = Table(title=title)
            for index, header in enumerate(headers):
                if index in keep:
                    width = max([len(header), *(len(row[index]) for row in rows)])
                    table.add_column(header, no_wrap=True, min_width=width)
                else:
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


def print_blocks(title: str, blocks: Sequence[tuple[str, Sequence[tuple[str, str]]]]) -> None:
    """Print one block per item: a heading line, then ``label: text`` lines wrapped to the width.

    For long lists (``rose plugins -v``) that no table column can hold: every line fits the
    terminal, or 100 columns when stdout is not a terminal.
    """
    width = shutil.get_terminal_size((100, 24)).columns if sys.stdout.isatty() else 100
    width = max(40, width)
    out = sys.stdout
    out.write(f"{title}\n")
    for heading, lines in blocks:
        out.write(f"\n{heading}\n")
        for label, text in lines:
            out.write(textwrap.fill(text, width=width, initial_indent=f"  {label}: ",
                                    subsequent_indent=" " * (len(label) + 4), break_on_hyphens=False,
                                    break_long_words=False) + "\n")
