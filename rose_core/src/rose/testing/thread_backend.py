"""The ``test-threads`` backend the test fixtures and contract suites run on."""

from __future__ import annotations

from typing import Any

from rose.hookspecs import hookimpl
from rose.records import BackendSpec, Resources

__all__ = ["TEST_BACKEND", "TestBackendPlugin", "ensure_test_backend"]

TEST_BACKEND = "test-threads"


def _thread_backend(max_workers: int | None = None) -> Any:
    from concurrent.futures import ThreadPoolExecutor

    from radical.asyncflow import LocalExecutionBackend

    return LocalExecutionBackend(ThreadPoolExecutor(max_workers=max_workers or 4))


def _translate(task: str, resources: Resources, shell: bool) -> dict[str, Any]:
    from rose.errors import ResourceError

    if resources.gpus or resources.ranks > 1 or resources.cwd or resources.env:
        raise ResourceError(task, resources, TEST_BACKEND, "it runs plain local threads only")
    return {"shell": shell}


class TestBackendPlugin:
    """A plugin providing the ``test-threads`` backend (asyncflow threads, no shell)."""

    __test__ = False  # not a pytest test class

    @staticmethod
    @hookimpl
    def rose_backends() -> list[BackendSpec]:
        """The test backend."""
        return [
            BackendSpec(
                name=TEST_BACKEND,
                summary="radical.asyncflow LocalExecutionBackend on threads, for tests",
                factory=_thread_backend,
                translate=_translate,
            )
        ]


def ensure_test_backend() -> None:
    """Make the ``test-threads`` backend available in the current plugin registry."""
    from rose import plugins

    if TEST_BACKEND not in plugins.registry().backends:
        manager = plugins.get_plugin_manager()
        if not manager.is_registered(TestBackendPlugin):
            manager.register(TestBackendPlugin, name="rose-testing")
        plugins.invalidate()  # rebuild the registry with the test backend
