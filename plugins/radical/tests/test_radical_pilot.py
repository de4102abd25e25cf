"""A real RADICAL-Pilot pilot on ``local.localhost``: an active-learning loop and the traps.

One pilot serves the whole module (starting one takes 20-35 s here, closing it ~15 s),
so the tests share an engine and run in order; the last one shuts it down and checks that
no process is left behind.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

rp = pytest.importorskip("radical.pilot", reason="RADICAL-Pilot is not installed")

from rose_plugin_radical import RadicalExecutionBackend, translate  # noqa: E402

from rose.engine import backend_spec_for  # noqa: E402
from rose.engine import engine as make_engine  # noqa: E402
from rose.errors import ResourceError, TaskFailedError  # noqa: E402
from rose.learner import Learner  # noqa: E402
from rose.metrics import MEAN_SQUARED_ERROR_MSE  # noqa: E402
from rose.records import Resources  # noqa: E402
from rose.testing.backend import ContractError, check_argv_verbatim, child_processes, processes_running, unique_sleep, wait_until  # noqa: E402

in_module_loop = pytest.mark.asyncio(loop_scope="module")

SCRIPTS = {
    "sim.py": """
        import json, os, sys
        n = int(sys.argv[1])
        labeled = json.load(open("selected.json")) if os.path.exists("selected.json") else []
        json.dump({"labeled": labeled + list(range(len(labeled), len(labeled) + n))}, open("data.json", "w"))
        print("simulated", n)
    """,
    "train.py": """
        import json
        data = json.load(open("data.json"))
        json.dump({"mse": 1.0 / (1 + len(data["labeled"]))}, open("model.json", "w"))
        print("trained on", len(data["labeled"]))
    """,
    "select.py": """
        import json
        json.dump(json.load(open("data.json"))["labeled"], open("selected.json", "w"))
    """,
    "check.py": """
        import json
        print(json.load(open("model.json"))["mse"])
    """,
}


class Pilot:
    """The module's engine and the directories around it."""

    def __init__(self, engine: Any, root: Path, children_before: dict[int, str]) -> None:
        self.engine, self.root, self.children_before = engine, root, children_before
        self.closed = False
        self.lifecycle: list[str] = []


class Collect(logging.Handler):
    """Keeps the messages of the ``rose.lifecycle.radical`` logger."""

    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.INFO)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record.getMessage())


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pilot(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Pilot]:
    root = tmp_path_factory.mktemp("radical")
    before = child_processes()
    messages: list[str] = []
    handler = Collect(messages)
    lifecycle = logging.getLogger("rose.lifecycle.radical")
    lifecycle.addHandler(handler)
    lifecycle.setLevel(logging.INFO)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.setenv("ROSE_RUNS_DIR", str(root / "runs"))
        engine = await make_engine("radical", work_dir=str(root / "engine"), resource="local.localhost",
                                   runtime=15, cores=2)
        state = Pilot(engine, root, before)
        state.lifecycle = messages
        try:
            yield state
        finally:
            if not state.closed:
                await engine.shutdown()
            lifecycle.removeHandler(handler)


def test_reference_dictionary_gets_cores_and_keeps_errors_in_python() -> None:
    """``RadicalExecutionBackend({'runtime': 30, 'resource': 'local.localhost'})`` as documented."""
    backend = RadicalExecutionBackend({"runtime": 30, "resource": "local.localhost"})
    assert backend.resources["cores"] == os.cpu_count()  # RP's local default is a fake 8-core node
    assert backend.resources["exit_on_error"] is False  # True would kill this process on pilot failure


def test_translate_emits_only_valid_task_description_keys() -> None:
    description = translate(
        "training", Resources(cores=2, gpus=1, ranks=4, memory_mb=512, env={"A": "1"}, cwd="/data/run 1"), False
    )
    assert description == {
        "ranks": 4, "cores_per_rank": 2, "gpus_per_rank": 1, "mem_per_rank": 512,
        "environment": {"A": "1"}, "pre_exec": ["cd '/data/run 1'"],
    }
    task = rp.TaskDescription(from_dict=description)
    task.executable = "true"
    task.verify()  # raises on any key RP does not know


@in_module_loop
async def test_engine_is_the_radical_backend_with_its_session_in_the_runs_dir(pilot: Pilot) -> None:
    spec = backend_spec_for(pilot.engine)
    assert spec is not None and spec.name == "radical"
    session = pilot.engine.backend.session
    assert Path(session.path).resolve().is_relative_to((pilot.root / "runs" / ".radical").resolve())
    assert not list(pilot.root.glob("rose.session*")) and not list(pilot.root.glob("asyncflow.session*"))


@in_module_loop
async def test_active_learning_loop_of_executables(pilot: Pilot) -> None:
    from rose.al import SequentialActiveLearner

    work = pilot.root / "work"
    work.mkdir()
    for name, body in SCRIPTS.items():
        (work / name).write_text(textwrap.dedent(body))
    learner = SequentialActiveLearner(pilot.engine, run_dir=pilot.root / "campaign")
    python = sys.executable
    here = {"cwd": str(work)}  # tasks would otherwise start in their own RP sandbox

    @learner.simulation_task(resources=here)
    async def simulation(*args: Any) -> list[str]:
        return [python, "sim.py", "5"]

    @learner.training_task(resources=here)
    async def training(*args: Any) -> list[str]:
        return [python, "train.py"]

    @learner.active_learn_task(resources=here)
    async def active_learn(*args: Any) -> list[str]:
        return [python, "select.py"]

    @learner.as_stop_criterion(metric_name=MEAN_SQUARED_ERROR_MSE, threshold=0.01, resources=here)
    async def check(*args: Any) -> list[str]:
        return [python, "check.py"]

    states = [state async for state in learner.start(max_iter=3)]
    assert [s.iteration for s in states] == [0, 1, 2]
    assert [round(s.metric_value, 6) for s in states] == [round(1 / 6, 6), round(1 / 11, 6), round(1 / 16, 6)]
    assert learner.stop_reason == "max_iter_reached"


@in_module_loop
async def test_results_quoting_failures_and_full_output(pilot: Pilot) -> None:
    learner = Learner(pilot.engine, run_dir=pilot.root / "run")

    @learner.utility_task
    async def quoted() -> str:
        return "echo 'a;b'"

    @learner.utility_task
    async def broken() -> list[str]:
        return ["sh", "-c", "echo boom-radical >&2; exit 3"]

    @learner.utility_task
    async def long_output() -> list[str]:
        return [sys.executable, "-c", "print('x' * 3000)"]

    @learner.utility_task
    async def missing() -> str:
        return "rose-radical-no-such-command"

    ok, failed, big, absent = await asyncio.gather(quoted(), broken(), long_output(), missing(),
                                                   return_exceptions=True)
    assert ok == "a;b\n"
    assert isinstance(failed, TaskFailedError) and failed.exit_code == 3 and "boom-radical" in str(failed)
    assert big == "x" * 3000 + "\n"  # RP itself keeps only the last 1024 characters
    assert isinstance(absent, TaskFailedError) and absent.exit_code == 127
    assert "rose-radical-no-such-command" in str(absent)


@in_module_loop
async def test_hostile_arguments_reach_the_process_verbatim(pilot: Pilot) -> None:
    """RP writes arguments into a shell script: none of them may be interpreted there."""
    await check_argv_verbatim(Learner(pilot.engine, run_dir=pilot.root / "run"), pilot.root)


@in_module_loop
async def test_pilot_lifecycle_is_logged(pilot: Pilot) -> None:
    """Submitted and active are logged at INFO under rose.lifecycle.radical (a pilot may queue for hours)."""
    assert await wait_until(lambda: any(": active on " in m for m in pilot.lifecycle), 30), pilot.lifecycle
    assert any("submitted to local.localhost" in m for m in pilot.lifecycle), pilot.lifecycle
    assert any(": queued on local.localhost" in m for m in pilot.lifecycle), pilot.lifecycle


@in_module_loop
async def test_invalid_description_key_fails_that_task_only(pilot: Pilot) -> None:
    async def command() -> str:
        return "echo fine"

    with pytest.raises(ValueError, match="bogus_key"):
        await pilot.engine.executable_task(command)(task_description={"bogus_key": 1})
    # the engine survived: the next task runs
    assert await pilot.engine.executable_task(command)() == "fine\n"


@in_module_loop
async def test_cwd_env_and_what_the_pilot_cannot_hold(pilot: Pilot) -> None:
    learner = Learner(pilot.engine, run_dir=pilot.root / "run")
    where = pilot.root / "a dir"
    where.mkdir()

    @learner.utility_task(resources={"cwd": str(where), "env": {"ROSE_RP_VAR": "v 1"}})
    async def show() -> list[str]:
        return ["sh", "-c", 'pwd; printf "%s\\n" "$ROSE_RP_VAR"']

    @learner.training_task(resources={"cores": 3})
    async def too_wide() -> str:
        return "true"


    assert (await show()).splitlines() == [str(where), "v 1"]
    with pytest.raises(ResourceError) as failure:
        await too_wide()
    assert "3 cores" in str(failure.value) and "the pilot has 2" in str(failure.value)


@in_module_loop
async def test_function_tasks_run_without_raptor(pilot: Pilot) -> None:
    """Function tasks run in the pilot's Python; values and exceptions come back as themselves."""
    learner = Learner(pilot.engine, run_dir=pilot.root / "run")

    @learner.training_task(as_executable=False)
    async def where(x: int, *, scale: float) -> dict[str, Any]:
        return {"value": x * scale, "pid": os.getpid(), "array": list(range(3))}

    @learner.utility_task(as_executable=False)
    async def explode() -> None:
        raise ContractError("exploded on the pilot")

    result = await where(2, scale=1.5)
    assert result["value"] == 3.0 and result["array"] == [0, 1, 2]
    assert result["pid"] != os.getpid()  # it really ran in another process
    with pytest.raises(ContractError, match="exploded on the pilot"):
        await explode()
    assert not list((pilot.root / "runs" / ".radical" / "functions").iterdir())  # payloads cleaned up


@in_module_loop
async def test_without_a_shared_filesystem_files_are_staged(pilot: Pilot) -> None:
    """``shared_filesystem=False``: the task runs in its sandbox; inputs go in, outputs come back."""
    learner = Learner(pilot.engine, run_dir=pilot.root / "run")
    work = pilot.root / "staged"
    work.mkdir()
    (work / "input.txt").write_text("21\n")
    script = "import os; n = int(open('input.txt').read()); open('output.txt', 'w').write(str(2 * n)); print(os.getcwd())"

    @learner.utility_task(resources={"cwd": str(work)})
    async def double() -> list[str]:
        return [sys.executable, "-c", script]

    backend = pilot.engine.backend
    backend.shared_filesystem = False
    try:
        ran_in = (await double()).strip()
    finally:
        backend.shared_filesystem = True
    assert Path(ran_in).resolve() != work.resolve()  # its own sandbox, as on a machine without a shared FS
    assert (work / "output.txt").read_text() == "42"
    assert sorted(p.name for p in work.iterdir()) == ["input.txt", "output.txt"]


@in_module_loop
async def test_cancelled_task_is_killed(pilot: Pilot) -> None:
    learner = Learner(pilot.engine, run_dir=pilot.root / "run")
    duration = unique_sleep()

    @learner.utility_task(timeout=8)
    async def long() -> list[str]:
        return ["sleep", duration]

    running = asyncio.ensure_future(long())
    assert await wait_until(lambda: processes_running(duration), 20), "the pilot never started the task"
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert await wait_until(lambda: not processes_running(duration), 20)


@in_module_loop
async def test_a_fan_out_reaches_rp_in_one_submission(pilot: Pilot, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tasks a fan-out starts in one turn of the event loop reach RP in one ``submit_tasks``
    call (RP spends 2-3 ms per call); a task withdrawn before that turn ends never reaches it."""
    learner = Learner(pilot.engine, run_dir=pilot.root / "run")

    @learner.utility_task
    async def echo(n: int) -> list[str]:
        return ["echo", str(n)]

    backend = pilot.engine.backend
    manager = backend.task_manager
    sent: list[list[str]] = []
    submit = manager.submit_tasks

    def recording(descriptions: Any, *args: Any, **kwargs: Any) -> Any:  # RP's own call, recorded
        sent.append([d.uid for d in descriptions])
        return submit(descriptions, *args, **kwargs)

    monkeypatch.setattr(manager, "submit_tasks", recording)
    outputs = await asyncio.gather(*(echo(n) for n in range(6)))
    assert [out.strip() for out in outputs] == [str(n) for n in range(6)]
    assert len(sent) == 1 and len(sent[0]) == 6, sent

    withdrawn = {"uid": "task.withdrawn", "name": "withdrawn", "executable": "/bin/true", "arguments": [],
                 "task_backend_specific_kwargs": {}}
    backend.rose_start_task(withdrawn)
    assert await backend.cancel_task("task.withdrawn")

    async def later() -> str:
        return "true"

    assert await pilot.engine.executable_task(later)() == ""  # the next submission goes out as before
    assert all("task.withdrawn" not in uids for uids in sent), sent


@in_module_loop
async def test_only_the_states_asyncflow_acts_on_reach_the_event_loop(pilot: Pilot, monkeypatch: pytest.MonkeyPatch) -> None:
    """RP reports about ten states per task from its own threads; only the running state and the
    end are handed to the event loop, where ROSE settles its own tasks without asyncflow's
    argument-checked callback (before: every state woke the loop and went through it)."""
    learner = Learner(pilot.engine, run_dir=pilot.root / "run-states")

    @learner.utility_task
    async def echo(n: int) -> list[str]:
        return ["echo", str(n)]

    assert (await echo(0)).strip() == "0"
    backend = pilot.engine.backend
    settlement = backend._rose_settlement
    assert settlement is not None, "ROSE's engine does not settle the RADICAL-Pilot backend's tasks itself"
    reached: list[str] = []
    passed_on: list[str] = []
    deliver, asyncflow_callback = backend._callback_func, settlement._callback

    def on_the_loop(task: Any, state: str, *args: Any, **kwargs: Any) -> None:
        reached.append(state)
        deliver(task, state, *args, **kwargs)

    def to_asyncflow(task: Any, state: str, *args: Any, **kwargs: Any) -> None:
        passed_on.append(state)
        asyncflow_callback(task, state, *args, **kwargs)

    monkeypatch.setattr(backend, "_callback_func", on_the_loop)
    monkeypatch.setattr(settlement, "_callback", to_asyncflow)
    outputs = await asyncio.gather(*(echo(n) for n in range(3)))
    assert [out.strip() for out in outputs] == ["0", "1", "2"]
    assert reached.count(rp.DONE) == 3, reached
    assert set(reached) <= {rp.AGENT_EXECUTING, rp.DONE}, reached
    assert passed_on == [], passed_on


@in_module_loop
async def test_shutdown_leaves_no_processes(pilot: Pilot) -> None:
    await pilot.engine.shutdown()
    pilot.closed = True

    def leftovers() -> dict[int, str]:
        return {p: c for p, c in child_processes().items()
                if p not in pilot.children_before and "resource_tracker" not in c}

    assert await wait_until(lambda: not leftovers(), 30), leftovers()
    # a pilot ended by closing the session is done, not a failure (and each state is logged once)
    assert [m for m in pilot.lifecycle if m.endswith(": done")] == ["pilot pilot.0000: done"], pilot.lifecycle
    assert not [m for m in pilot.lifecycle if "canceled" in m or "failed" in m], pilot.lifecycle
