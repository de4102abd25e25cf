"""The backend contract, run against the ``local`` backend (threads and processes)."""

from __future__ import annotations

from typing import Any

from rose.testing.backend import BackendContract


class TestLocalContract(BackendContract):
    backend_name = "local"
    backend_options: dict[str, Any] = {"max_workers": 2}


class TestLocalProcessContract(BackendContract):
    backend_name = "local"
    backend_options: dict[str, Any] = {"max_workers": 2, "executor": "process"}
