"""Test helpers for ROSE and for plugin authors (a pytest plugin, entry point ``pytest11``).

Fixtures:

* ``rose_plugins`` - an isolated plugin manager with only the built-ins; call
  ``rose_plugins.register(module_or_object, name)`` to add a plugin for one test.
* ``rose_engine`` - a WorkflowEngine on :data:`TEST_BACKEND` (threads, no shell),
  working in the test's temporary directory, shut down afterwards.

``rose.testing.CommandContract`` is the contract suite of a ``rose`` subcommand a plugin adds (see
:mod:`rose.testing.command`). ``rose.testing.LearnerContract`` is the learner contract suite (see
:mod:`rose.testing.learner`), ``rose.testing.PolicyContract`` the query-policy one (see
:mod:`rose.testing.policy`). ``rose.testing.BackendContract`` is the backend contract suite (loaded on first use; see
:mod:`rose.testing.backend`). Contract checks (``check_tracker``, ``check_backend_spec``, ``check_learner_spec``,
``check_learner_kind_spec``, ``check_metric_spec``, ``check_scheduler_spec``, ``check_policy_spec``) assert what
every record of a kind must do; ``check_policy`` is the contract of a query policy object and
``check_policy_resumes`` its part that says a policy rebuilt after a resume selects what a long-lived one does.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from rose.records import BackendSpec, LearnerSpec, MetricSpec, PolicySpec, Resources, SchedulerSpec
from rose.testing.policy import check_policy, check_policy_resumes
from rose.testing.recording import RecordingTracker
from rose.testing.thread_backend import TEST_BACKEND, TestBackendPlugin, ensure_test_backend

__all__ = [
    "TEST_BACKEND",
    "PluginSandbox",
    "RecordingTracker",
    "TestBackendPlugin",
    "check_backend_spec",
    "check_learner_kind_spec",
    "check_learner_spec",
    "check_metric_spec",
    "check_policy",
    "check_policy_resumes",
    "check_policy_spec",
    "check_scheduler_spec",
    "check_tracker",
]


class PluginSandbox:
    """An isolated plugin manager installed as ROSE's registry for one test."""

    def __init__(self, include_builtin: bool = True) -> None:
        from rose import plugins

        self.manager, self.infos = plugins.new_isolated_manager(include_builtin)
        plugins.reset(self.manager, self.infos)

    def register(self, plugin: Any, name: str | None = None) -> None:
        """Register a plugin module or object (then the registry is rebuilt)."""
        from rose import plugins

        self.manager.register(plugin, name=name)
        plugins.reset(self.manager, self.infos)

    @property
    def registry(self) -> Any:
        """The current registry."""
        from rose.plugins import registry

        return registry()


# -- contract checks ---------------------------------------------------------------------


def __getattr__(name: str) -> Any:
    if name == "BackendContract":  # imported on use: the suite imports the learner machinery
        from rose.testing.backend import BackendContract

        return BackendContract
    if name in ("CommandContract", "check_command_spec"):
        from rose.testing import command

        return getattr(command, name)
    if name == "check_learner_kind_spec":  # imported on use, like the suites
        from rose.testing.kinds import check_learner_kind_spec

        return check_learner_kind_spec
    if name == "LearnerContract":
        from rose.testing.learner import LearnerContract

        return LearnerContract
    if name == "PolicyContract":
        from rose.testing.policy import PolicyContract

        return PolicyContract
    raise AttributeError(f"module 'rose.testing' has no attribute {name!r}")



def check_learner_spec(spec: LearnerSpec) -> None:
    """A learner record resolves to a class or object and declares where it is imported."""
    assert isinstance(spec, LearnerSpec)
    assert spec.summary, f"learner {spec.name!r} needs a summary"
    assert spec.namespaces, f"learner {spec.name!r} must name at least one namespace"
    obj = spec.factory()
    assert obj is not None


def check_metric_spec(spec: MetricSpec) -> None:
    """A metric record has an operator; its factory (if any) returns a function."""
    assert isinstance(spec, MetricSpec)
    assert spec.operator in ("<", ">", "=", "==", "<=", ">=")
    if spec.factory is not None:
        assert callable(spec.factory())


def check_scheduler_spec(spec: SchedulerSpec, **options: Any) -> None:
    """A scheduler record builds a schedule that gives a value for iteration 0 and 1000."""
    assert isinstance(spec, SchedulerSpec)
    schedule = spec.factory(**options)
    schedule(0)
    schedule(1000)


def check_tracker(tracker: Any) -> None:
    """A tracker survives a full lifecycle with a minimal manifest and state."""
    from rose.state import IterationState
    from rose.tracking import PipelineManifest

    for method in ("on_start", "on_iteration", "on_stop"):
        assert callable(getattr(tracker, method, None)), f"tracker lacks {method}"
    tracker.on_start(PipelineManifest(learner_type="ContractCheck"))
    state = IterationState(iteration=0, metric_name="mean_squared_error_mse", metric_value=0.5,
                           metric_history=[0.5], state={"labeled": 3})
    tracker.on_iteration(state)
    tracker.on_stop(state, "max_iter_reached")


def check_backend_spec(spec: BackendSpec) -> None:
    """A backend record has a factory and a translator that accepts a default request."""
    assert isinstance(spec, BackendSpec)
    assert callable(spec.factory)
    if spec.translate is not None:
        description = spec.translate("contract-check", Resources(), False)
        assert isinstance(description, dict)


def check_policy_spec(
    spec: PolicySpec,
    candidates: Sequence[Any],
    *,
    scores: Sequence[float] | None = None,
    predictions: Any = None,
    k: int = 3,
    **options: Any,
) -> None:
    """A policy record builds (``factory(**options)``) policies that pass :func:`check_policy`.

    The record's ``batch_aware``/``pending_aware`` flags must match the policy object's.
    """
    assert isinstance(spec, PolicySpec)
    assert spec.summary, f"policy {spec.name!r} needs a summary"
    policy = spec.factory(**options)
    for flag in ("batch_aware", "pending_aware"):
        assert getattr(policy, flag, None) == getattr(spec, flag), (
            f"policy {spec.name!r}: record says {flag}={getattr(spec, flag)} but the object says {getattr(policy, flag, None)}"
        )
    check_policy(lambda: spec.factory(**options), candidates, scores=scores, predictions=predictions, k=k)


# -- pytest fixtures ---------------------------------------------------------------------

try:
    import pytest
except ImportError:  # pragma: no cover - rose.testing without pytest installed
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture
    def rose_plugins() -> Iterator[PluginSandbox]:
        """An isolated plugin registry with the built-ins and the test backend."""
        from rose import plugins

        sandbox = PluginSandbox()
        sandbox.register(TestBackendPlugin, name="rose-testing")
        try:
            yield sandbox
        finally:
            plugins.reset()

    @pytest.fixture
    async def rose_engine(tmp_path: Any, monkeypatch: Any) -> AsyncIterator[Any]:
        """A WorkflowEngine on the test backend, in a temporary directory."""
        from rose.engine import engine

        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("ROSE_RUNS_DIR", os.fspath(tmp_path / "runs"))
        ensure_test_backend()
        created = await engine(TEST_BACKEND)
        try:
            yield created
        finally:
            await created.shutdown()

    # the session-scoped local Slurm (fixture ``local_slurm``) and the ``slurm`` marker
    from rose.testing.slurm import local_slurm, pytest_configure  # noqa: F401
