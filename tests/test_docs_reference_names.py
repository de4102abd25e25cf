"""Every ``rose.*`` name the reference pages mention exists (issue 26: hooks.md named a
``rose.testing.PolicyContract`` that did not exist)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "reference"
NAME = re.compile(r"(?<![\w/.-])rose(?:\.[A-Za-z_]\w*)+")


def names() -> list[str]:
    found: set[str] = set()
    for page in REFERENCE.glob("*.md"):
        found.update(NAME.findall(page.read_text()))
    return sorted(found)


def resolve(name: str) -> Any:
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            obj = getattr(obj, attribute)
        return obj
    raise ImportError(name)


def test_the_reference_names_rose_objects() -> None:
    assert "rose.testing.PolicyContract" in names()  # the scan sees dotted names in backticks and prose


@pytest.mark.parametrize("name", names())
def test_every_rose_name_in_the_reference_exists(name: str) -> None:
    try:
        resolve(name)
    except (ImportError, AttributeError) as exc:
        pytest.fail(f"docs/reference names {name}, which does not exist ({exc}); fix the page or its source "
                    f"(hooks.md is generated from rose/hookspecs.py by docs/gen_reference.py)")
