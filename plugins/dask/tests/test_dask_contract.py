"""The backend contract on ``dask``, against a real LocalCluster of two worker processes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rose.testing.backend import BackendContract


@pytest.fixture(scope="module")
def cluster_address() -> Iterator[str]:
    """One cluster for the module (started once: ~2 s); each check connects its own client."""
    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


class TestDaskContract(BackendContract):
    backend_name = "dask"

    @pytest.fixture(autouse=True)
    def _connect(self, cluster_address: str) -> None:
        self.backend_options: dict[str, Any] = {"address": cluster_address}
