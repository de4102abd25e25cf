"""Fixtures of rose-plugin-ui's tests: a runs folder with campaigns and a real `rose ui` serving it."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from helpers_ui import UiServer, write_campaign


@pytest.fixture
def runs(tmp_path) -> str:
    """A runs folder with two finished campaigns (8 and 5 iterations, 3 tasks each)."""
    root = tmp_path / "runs"
    write_campaign(str(root / "20261201-100000-alpha"), 8, tasks=3)
    write_campaign(str(root / "20261201-110000-beta"), 5, tasks=3, stop="criterion_met")
    return str(root)


@pytest.fixture
def ui(runs) -> Iterator[UiServer]:
    """`rose ui` on the ``runs`` folder, on a free loopback port."""
    server = UiServer(runs)
    yield server
    server.stop()
