"""The contract every ROSE execution backend passes, as a reusable pytest test class.

A backend plugin's tests subclass :class:`BackendContract` and name the backend::

    from rose.testing import BackendContract

    class TestLocalContract(BackendContract):
        backend_name = "local"
        backend_options = {"max_workers": 2}

Options that come from fixtures (a cluster address, say) go through an autouse fixture
that sets ``self.backend_options``. Every check runs tasks the way learners do (a
:class:`~rose.learner.Learner` on a real engine from ``rose.engine(name, ...)``):

* **results** - an executable's result is its stdout, a function's its return value;
  argv keeps its quoting (``echo 'a;b'``); a shell runs only with ``shell=True``; an
  argument holding ``$(touch X)``, backticks, ``;``, quotes, spaces or ``$HOME`` reaches
  the process verbatim and nothing in it runs (:func:`check_argv_verbatim`, which a
  backend's own tests can call on any learner);
* **dependencies** - a learner chains results from one task into the next;
* **failures** - a non-zero exit raises :class:`~rose.errors.TaskFailedError` with the
  exit code, the command and the stderr tail; a function's exception keeps its type;
* **cancellation** - cancelling a running command, or its ``timeout``, leaves no process;
* **resources** - ``cwd`` and ``env`` reach the command (``env`` on top of the inherited
  environment); an impossible request is a :class:`~rose.errors.ResourceError` naming
  the task and the backend;
* **engine lifecycle** - ``async with rose.engine(...)`` shuts down and leaves no new
  child processes (even with a command still running); asyncflow's per-engine folder
  lands in ``work_dir``, not the current directory; Ctrl-C is not swallowed by the engine;
  an engine built by hand from the backend object is recognised as this backend.

A backend for which a check cannot mean the same thing overrides that test method with
its own version of the behaviour (the dry-run backend, which executes nothing, replaces
the result, failure, cancellation and cwd/env checks by checks of its report); it never
skips one silently. Processes are found through ``/proc`` (Linux), by a unique
``sleep`` duration in their command line.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest

from rose.engine import backend_spec_for, restore_default_signals
from rose.engine import engine as make_engine
from rose.errors import ResourceError, TaskFailedError, TaskTimeoutError
from rose.learner import Learner, TaskKind

__all__ = [
    "BackendContract",
    "ContractLearner",
    "check_argv_verbatim",
    "child_processes",
    "hostile_arguments",
    "processes_running",
    "unique_sleep",
    "wait_until",
]


def unique_sleep(seconds: int = 300) -> str:
    """A ``sleep`` duration no other process uses, to find the process again: ``"300.482913"``."""
    return f"{seconds}.{random.randrange(100000, 999999)}"


def _cmdline(pid: str) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _stat(pid: str) -> tuple[int, str] | None:
    """``(parent pid, state letter)`` of a process, None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    return int(fields[1]), fields[0]


def processes_running(token: str) -> list[int]:
    """Live (non-zombie) processes with ``token`` as one of their arguments."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or token not in _cmdline(pid):
            continue
        stat = _stat(pid)
        if stat is not None and stat[1] != "Z":
            found.append(int(pid))
    return found


def child_processes(root: int | None = None) -> dict[int, str]:
    """Live descendants of ``root`` (default: this process) -> their command line."""
    root = os.getpid() if root is None else root
    parents: dict[int, int] = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            stat = _stat(pid)
            if stat is not None and stat[1] != "Z":
                parents[int(pid)] = stat[0]
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in found:
                found[child] = " ".join(_cmdline(str(child)))
                frontier.append(child)
    return found


async def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it is truthy or ``timeout`` seconds pass (tests only)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if predicate():
            return True
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(interval)


def hostile_arguments(directory: Path) -> tuple[list[str], list[Path]]:
    """Arguments a shell would act on, and the files they would create if one ran them."""
    marker_x, marker_y = directory / "shell-ran-X", directory / "shell-ran-Y"
    arguments = [
        f"$(touch {marker_x})", f"`touch {marker_y}`", "a;b", "it's", '"double"', "two words", "$HOME",
        "back\\slash", "*", "",
    ]
    return arguments, [marker_x, marker_y]


async def check_argv_verbatim(learner: Learner, directory: Path) -> None:
    """Run a command with hostile arguments on ``learner``'s engine; assert they arrive verbatim.

    The process prints its argv (one JSON list); it must equal what the task returned,
    ``$HOME`` unexpanded, and neither ``touch`` may have run.
    """
    import json

    arguments, markers = hostile_arguments(directory)
    script = "import json, sys; print(json.dumps(sys.argv[1:]))"

    @learner.training_task
    async def verbatim() -> list[str]:
        return [sys.executable, "-c", script, *arguments]

    printed = json.loads(await verbatim())
    assert printed == arguments, f"the process received {printed!r}, the task returned {arguments!r}"
    created = [os.fspath(marker) for marker in markers if marker.exists()]
    assert not created, f"a shell ran the command substitutions in the arguments: {created} exist"


class ContractError(Exception):
    """The exception type a contract function task raises (importable, so picklable)."""


class ContractLearner(Learner):
    """The learner of the contract's checks: a plain learner with a third task kind, ``select``."""

    select_task = TaskKind("select")


class BackendContract:
    """Base test class: subclass it as ``Test<Backend>Contract`` and set ``backend_name``."""

    #: the backend's registered name, as in ``rose.engine(name)``
    backend_name: ClassVar[str] = ""
    #: options for ``rose.engine(backend_name, **options)`` (an autouse fixture may set it)
    backend_options: dict[str, Any] = {}
    #: seconds to wait for a command to start, or to be gone after a cancellation
    process_timeout: ClassVar[float] = 10.0
    #: substrings of command lines of interpreter-lifetime helpers a backend may start
    #: once and legitimately leave running (not per engine)
    lifetime_helpers: ClassVar[tuple[str, ...]] = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")

    # -- plumbing -----------------------------------------------------------------------
    @pytest.fixture
    def contract_dir(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
        """A clean current directory and runs directory per check."""
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("ROSE_RUNS_DIR", os.fspath(tmp_path / "runs"))
        return tmp_path

    def open_engine(self, directory: Path) -> Any:
        """``rose.engine(backend_name, **options)`` with its folder in ``directory``."""
        assert self.backend_name, f"{type(self).__name__} must set backend_name"
        # rose.engine(...) itself; called through rose.engine.engine because importing the
        # rose.engine module rebinds the attribute rose.engine to that module
        return make_engine(self.backend_name, work_dir=os.fspath(directory / "engine"), **self.backend_options)

    @pytest.fixture
    async def contract_engine(self, contract_dir: Path) -> AsyncIterator[Any]:
        """A ready engine on the backend under test, shut down after the check."""
        async with self.open_engine(contract_dir) as engine:
            yield engine

    def make_learner(self, engine: Any, directory: Path) -> ContractLearner:
        """A plain learner on ``engine`` (tasks registered by each check)."""
        return ContractLearner(engine, run_dir=directory / "run", name=f"contract-{self.backend_name}")

    # -- results ------------------------------------------------------------------------
    async def test_executable_result_is_stdout(self, contract_engine: Any, contract_dir: Path) -> None:
        """An executable task's result is its standard output."""
        learner = self.make_learner(contract_engine, contract_dir)

        @learner.training_task
        async def hello() -> str:
            return "echo hello contract"

        assert await hello() == "hello contract\n"

    async def test_argv_keeps_quoting_without_a_shell(self, contract_engine: Any, contract_dir: Path) -> None:
        """``echo 'a;b'`` prints ``a;b``; argv items reach the program untouched."""
        learner = self.make_learner(contract_engine, contract_dir)

        @learner.training_task
        async def quoted() -> str:
            return "echo 'a;b'"

        @learner.training_task
        async def argv() -> list[str]:
            return ["printf", "%s|", "two words", "$HOME", "*", "a;b", "`true`"]

        assert await quoted() == "a;b\n"
        assert await argv() == "two words|$HOME|*|a;b|`true`|"

    async def test_hostile_arguments_reach_the_process_verbatim(
        self, contract_engine: Any, contract_dir: Path
    ) -> None:
        """``$(touch X)``, backticks, ``;``, quotes, spaces, ``$HOME``: verbatim, nothing runs."""
        await check_argv_verbatim(self.make_learner(contract_engine, contract_dir), contract_dir)

    async def test_shell_only_when_asked(self, contract_engine: Any, contract_dir: Path) -> None:
        """``shell=True`` runs the command through ``/bin/sh``; otherwise no expansion happens."""
        learner = self.make_learner(contract_engine, contract_dir)

        @learner.training_task(shell=True)  # type: ignore[untyped-decorator]
        async def in_shell() -> str:
            return "echo $((2 + 3)) | sed s/5/five/"

        @learner.training_task
        async def no_shell() -> str:
            return "echo $((2+3)) | tr"

        assert await in_shell() == "five\n"
        assert await no_shell() == "$((2+3)) | tr\n"

    async def test_function_task_returns_its_value(self, contract_engine: Any, contract_dir: Path) -> None:
        """A function task's result is its return value, not a string."""
        learner = self.make_learner(contract_engine, contract_dir)

        @learner.training_task(as_executable=False)  # type: ignore[untyped-decorator]
        async def compute(a: int, b: int = 0) -> dict[str, Any]:
            return {"sum": a + b, "items": [a, b]}

        assert await compute(2, b=3) == {"sum": 5, "items": [2, 3]}

    async def test_learner_chains_results(self, contract_engine: Any, contract_dir: Path) -> None:
        """Upstream results reach the next task (executable -> function -> executable)."""
        learner = self.make_learner(contract_engine, contract_dir)

        @learner.simulation_task
        async def simulate() -> str:
            return "echo 20"

        @learner.training_task(as_executable=False)  # type: ignore[untyped-decorator]
        async def train(simulated: str) -> int:
            return int(simulated) * 2

        @learner.select_task
        async def select(trained: int) -> list[str]:
            return ["echo", f"selected {trained + 2}"]

        simulated = await learner.run_task("simulation", iteration=0)
        trained = await learner.run_task("training", iteration=0, deps=(simulated,))
        assert trained == 40
        assert await learner.run_task("select", iteration=0, deps=(trained,)) == "selected 42\n"

    # -- failures -----------------------------------------------------------------------
    async def test_failing_command_raises_task_failed(self, contract_engine: Any, contract_dir: Path) -> None:
        """A non-zero exit -> TaskFailedError with exit code, command and stderr tail."""
        learner = self.make_learner(contract_engine, contract_dir)

        @learner.training_task
        async def broken() -> list[str]:
            return ["sh", "-c", "echo partial; echo first line >&2; echo boom-contract >&2; exit 3"]

        with pytest.raises(TaskFailedError) as failure:
            await broken()
        error = failure.value
        assert error.exit_code == 3
        assert error.command is not None and "exit 3" in error.command
        assert error.stderr is not None and "boom-contract" in error.stderr
        assert "exit code: 3" in str(error) and "boom-contract" in str(error)

    async def test_missing_command_raises_task_failed(self, contract_engine: Any, contract_dir: Path) -> None:
        """A command that does not exist fails the task with its name in the message."""
        learner = self.make_learner(contract_engine, contract_dir)

        @learner.training_task
        async def missing() -> str:
            return "rose-contract-no-such-command --flag"

        with pytest.raises(TaskFailedError) as failure:
            await missing()
        assert "rose-contract-no-such-command" in str(failure.value)

    async def test_function_exception_keeps_its_type(self, contract_engine: Any, contract_dir: Path) -> None:
        """A function task's exception reaches the learner with its own type and message."""
        learner = self.make_learner(contract_engine, contract_dir)

        @learner.training_task(as_executable=False)  # type: ignore[untyped-decorator]
        async def explode() -> None:
            raise ContractError("exploded on purpose")

        with pytest.raises(ContractError, match="exploded on purpose") as failure:
            await explode()
        notes = getattr(failure.value, "__notes__", [])
        assert any("training" in note for note in notes), notes

    # -- cancellation -------------------------------------------------------------------
    async def test_cancelled_command_leaves_no_process(self, contract_engine: Any, contract_dir: Path) -> None:
        """Cancelling the task that awaits a running command kills the command."""
        learner = self.make_learner(contract_engine, contract_dir)
        duration = unique_sleep()

        @learner.training_task
        async def long() -> list[str]:
            return ["sleep", duration]

        running = asyncio.ensure_future(long())
        assert await wait_until(lambda: processes_running(duration), self.process_timeout), "command never started"
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        assert await wait_until(lambda: not processes_running(duration), self.process_timeout), (
            f"`sleep {duration}` still runs after its task was cancelled: {processes_running(duration)}"
        )

    async def test_timeout_kills_the_command(self, contract_engine: Any, contract_dir: Path) -> None:
        """A task ``timeout`` raises TaskTimeoutError and leaves no process behind."""
        learner = self.make_learner(contract_engine, contract_dir)
        duration = unique_sleep()

        @learner.training_task(timeout=1.5)  # type: ignore[untyped-decorator]
        async def slow() -> list[str]:
            return ["sleep", duration]

        with pytest.raises(TaskTimeoutError):
            await slow()
        assert await wait_until(lambda: not processes_running(duration), self.process_timeout), (
            f"`sleep {duration}` still runs after its timeout: {processes_running(duration)}"
        )

    # -- resources ----------------------------------------------------------------------
    async def test_cwd_and_env_reach_the_command(self, contract_engine: Any, contract_dir: Path) -> None:
        """``resources={"cwd": ..., "env": ...}`` set the directory and add variables."""
        learner = self.make_learner(contract_engine, contract_dir)
        workdir = contract_dir / "task dir"
        workdir.mkdir()

        @learner.training_task(resources={"cwd": os.fspath(workdir), "env": {"ROSE_CONTRACT_VAR": "v 1"}})  # type: ignore[untyped-decorator]
        async def where() -> list[str]:
            return ["sh", "-c", 'pwd; printf "%s\\n" "$ROSE_CONTRACT_VAR"; command -v printf >/dev/null && echo path-ok']

        lines = (await where()).splitlines()
        assert os.path.realpath(lines[0]) == os.path.realpath(workdir)
        assert lines[1:] == ["v 1", "path-ok"]

    async def test_impossible_request_is_a_resource_error(self, contract_engine: Any, contract_dir: Path) -> None:
        """Asking for what no machine has fails with ResourceError naming task and backend."""
        learner = self.make_learner(contract_engine, contract_dir)

        @learner.training_task(resources={"cores": 100_000, "gpus": 100_000, "ranks": 100_000})  # type: ignore[untyped-decorator]
        async def huge() -> str:
            return "echo never"

        with pytest.raises((ResourceError, TaskFailedError)) as failure:
            await huge()
        error: BaseException = failure.value
        if isinstance(error, TaskFailedError):
            assert isinstance(error.__cause__, ResourceError), f"expected a ResourceError, got {error!r}"
            error = error.__cause__
        assert isinstance(error, ResourceError)
        assert error.task == "training"
        assert "training" in str(error) and str(error.backend) in str(error)

    # -- engine lifecycle ---------------------------------------------------------------
    async def test_shutdown_leaves_no_processes(self, contract_dir: Path) -> None:
        """Leaving ``async with rose.engine(...)`` stops running commands and helpers."""
        before = child_processes()
        duration = unique_sleep()
        running: asyncio.Future[Any] | None = None
        async with self.open_engine(contract_dir) as engine:
            learner = self.make_learner(engine, contract_dir)

            @learner.training_task
            async def quick() -> str:
                return "echo done"

            @learner.training_task
            async def long() -> list[str]:
                return ["sleep", duration]

            assert await quick() == "done\n"
            running = asyncio.ensure_future(long())
            assert await wait_until(lambda: processes_running(duration), self.process_timeout), "command never started"
        assert running is not None
        with pytest.raises((asyncio.CancelledError, TaskFailedError)):
            await asyncio.wait_for(running, self.process_timeout)

        def leftovers() -> dict[int, str]:
            return {
                pid: cmd
                for pid, cmd in child_processes().items()
                if pid not in before and not any(helper in cmd for helper in self.lifetime_helpers)
            }

        assert await wait_until(lambda: not processes_running(duration), self.process_timeout), "command survived"
        assert await wait_until(lambda: not leftovers(), self.process_timeout), f"left behind: {leftovers()}"

    async def test_engine_folder_and_signals(self, contract_dir: Path) -> None:
        """asyncflow's per-engine folder goes to work_dir; the engine keeps no Ctrl-C handler."""
        before = signal.getsignal(signal.SIGINT)
        async with self.open_engine(contract_dir) as engine:
            assert signal.getsignal(signal.SIGINT) is before, "the engine took over Ctrl-C"
            assert Path(engine.work_dir).resolve() == (contract_dir / "engine").resolve()
        assert not [p.name for p in contract_dir.iterdir() if p.name.startswith("asyncflow.session")]

    async def test_hand_built_engine_is_recognised(self, contract_dir: Path) -> None:
        """``WorkflowEngine.create(backend=...)`` from the plugin's backend uses its translator."""
        import inspect

        from radical.asyncflow import WorkflowEngine

        from rose.plugins import lookup

        spec = lookup("backend", self.backend_name)
        backend = spec.factory(**self.backend_options)
        if inspect.isawaitable(backend):
            backend = await backend
        engine = await WorkflowEngine.create(backend=backend, work_dir=os.fspath(contract_dir / "engine"))
        restore_default_signals()
        try:
            found = backend_spec_for(engine)
            assert found is not None and found.name == self.backend_name
        finally:
            await engine.shutdown()


if sys.platform != "linux":  # pragma: no cover
    BackendContract.__doc__ = (BackendContract.__doc__ or "") + "\n\nProcess checks need Linux's /proc."
