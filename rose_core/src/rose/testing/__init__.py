"""Test helpers for ROSE and for plugin authors (a pytest plugin, entry point ``pytest11``).

Fixtures:

* ``rose_plugins`` - an isolated plugin manager with only the built-ins; call
  ``rose_plugins.register(module_or_object, name)`` to add a plugin for one test.
* ``rose_engine`` - a WorkflowEngine on :data:`TEST_BACKEND` (threads, no shell),
  working in the test's temporary directory, shut down afterwards.

``rose.testing.CommandContract`` is the contract suite of a ``rose`` subcommand a plugin adds (see
:mod:`rose.testing.command`). ``rose.testing.LearnerContract`` is the learning-policy contract suite (see
:mod:`rose.testing.learner`). ``rose.testing.BackendContract`` is the backend contract suite (loaded on first use; see
:mod:`rose.testing.backend`). Contract checks (``check_tracker``, ``check_backend_spec``, ``check_learner_spec``,
``check_metric_spec``, ``check_scheduler_spec``, ``check_policy_spec``) assert what every record of a kind
must do; ``check_policy`` is the contract of a query policy object.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from rose.hookspecs import hookimpl
from rose.records import BackendSpec, LearnerSpec, MetricSpec, PolicySpec, Resources, SchedulerSpec
from rose.testing.recording import RecordingTracker

__all__ = [
    "TEST_BACKEND",
    "PluginSandbox",
    "RecordingTracker",
    "TestBackendPlugin",
    "check_backend_spec",
    "check_learner_spec",
    "check_metric_spec",
    "check_policy",
    "check_policy_spec",
    "check_scheduler_spec",
    "check_tracker",
]

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
    if name == "LearnerContract":
        from rose.testing.learner import LearnerContract

        return LearnerContract
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


def check_policy(
    make_policy: Callable[[], Any],
    candidates: Sequence[Any],
    *,
    scores: Sequence[float] | None = None,
    predictions: Any = None,
    k: int = 3,
) -> None:
    """The contract of a query policy object (see :class:`rose.policies.Policy`).

    ``make_policy()`` returns a fresh policy (stateful policies such as an Optuna study
    start over); ``candidates`` (at least ``k + 3`` of them, all different), ``scores`` and
    ``predictions`` are a selection request the policy understands. Checks: the flags are
    booleans; ``select`` returns ``k`` distinct valid indices; it never returns a pending
    point, and with all but ``k`` candidates pending it returns exactly the others; the
    same seed gives the same selection; ``k`` larger than the available candidates and
    ``k=0`` raise ``ValueError`` naming ``k``; ``observe`` accepts labels.
    """
    from rose.policies import point_key

    n = len(candidates)
    assert n >= k + 3, f"the contract needs at least k + 3 = {k + 3} candidates, got {n}"
    rows = list(candidates.tolist() if hasattr(candidates, "tolist") else candidates)
    request: dict[str, Any] = {"scores": scores, "predictions": predictions}
    policy = make_policy()
    for flag in ("batch_aware", "pending_aware"):
        assert isinstance(getattr(policy, flag, None), bool), f"policy lacks a boolean {flag!r} attribute"
    assert callable(getattr(policy, "observe", None)), "policy lacks observe(points, values)"

    picked = policy.select(candidates, k=k, rng=0, **request)
    assert isinstance(picked, list) and all(isinstance(i, int) for i in picked), f"select returned {picked!r}"
    assert len(picked) == k and len(set(picked)) == k, f"select(k={k}) returned {picked!r}: not {k} distinct"
    assert all(0 <= i < n for i in picked), f"select returned indices outside 0..{n - 1}: {picked!r}"

    pending = [rows[i] for i in picked]
    again = make_policy().select(candidates, k=k, pending=pending, rng=1, **request)
    assert not set(again) & set(picked), f"selected pending candidates {sorted(set(again) & set(picked))}"
    pending_keys = {point_key(p) for p in pending}
    assert all(point_key(rows[i]) not in pending_keys for i in again)

    rest = [i for i in range(n) if i not in set(picked)]
    kept = rest[:k]
    crowd = [rows[i] for i in range(n) if i not in set(kept)]
    last = make_policy().select(candidates, k=k, pending=crowd, rng=2, **request)
    assert sorted(last) == sorted(kept), f"with all but {kept} pending, select returned {last}"

    first = make_policy().select(candidates, k=k, rng=1234, **request)
    second = make_policy().select(candidates, k=k, rng=1234, **request)
    assert first == second, f"the same seed gave {first} then {second}"

    for bad in (n + 1, 0):
        try:
            make_policy().select(candidates, k=bad, rng=0, **request)
        except ValueError as exc:
            assert "k" in str(exc), f"the error for k={bad} should name k: {exc}"
        else:
            raise AssertionError(f"select(k={bad}) with {n} candidates should raise ValueError")
    try:
        make_policy().select(candidates, k=k, pending=rows[: n - k + 1], rng=0, **request)
    except ValueError as exc:
        assert "pending" in str(exc), f"the error should say candidates are pending: {exc}"
    else:
        raise AssertionError(f"select(k={k}) with only {k - 1} candidates not pending should raise ValueError")

    policy.observe([rows[i] for i in picked], [float(j) for j in range(k)])


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
        from rose import plugins
        from rose.engine import engine

        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("ROSE_RUNS_DIR", os.fspath(tmp_path / "runs"))
        registry = plugins.registry()
        if TEST_BACKEND not in registry.backends:
            manager = plugins.get_plugin_manager()
            if not manager.is_registered(TestBackendPlugin):
                manager.register(TestBackendPlugin, name="rose-testing")
            plugins.invalidate()  # rebuild the registry with the test backend
        created = await engine(TEST_BACKEND)
        try:
            yield created
        finally:
            await created.shutdown()

    # the session-scoped local Slurm (fixture ``local_slurm``) and the ``slurm`` marker
    from rose.testing.slurm import local_slurm, pytest_configure  # noqa: F401
