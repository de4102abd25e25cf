"""The backend contract on ``dry-run``.

The engine-lifecycle checks and the resource check (against the default target,
``local``) apply as they are. Checks about what a task *produces* (stdout, return
values, failures, cancellation, cwd/env) cannot mean the same thing on a backend that
executes nothing: they are replaced here by what a dry run promises instead - the task
is not run, and the report shows the exact command or call, its inputs and resources.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from rose_plugin_dryrun import report_of

from rose.learner import Learner
from rose.testing.backend import BackendContract, child_processes, hostile_arguments, processes_running, unique_sleep


def last(engine: Any) -> Any:
    return report_of(engine).tasks[-1]


class TestDryRunContract(BackendContract):
    backend_name = "dry-run"

    async def test_executable_result_is_stdout(self, contract_engine: Any, contract_dir: Path) -> None:
        learner = self.make_learner(contract_engine, contract_dir)
        marker = contract_dir / "was-run"

        @learner.utility_task
        async def touch() -> list[str]:
            return ["touch", str(marker)]

        assert await touch() == "<dry-run utility#0>\n"
        assert not marker.exists()
        assert last(contract_engine).command == f"touch {marker}"

    async def test_argv_keeps_quoting_without_a_shell(self, contract_engine: Any, contract_dir: Path) -> None:
        learner = self.make_learner(contract_engine, contract_dir)

        @learner.utility_task
        async def quoted() -> str:
            return "echo 'a;b'"

        @learner.utility_task
        async def argv() -> list[str]:
            return ["printf", "%s|", "two words", "$HOME"]

        await quoted()
        await argv()
        assert report_of(contract_engine).commands() == ["echo 'a;b'", "printf '%s|' 'two words' '$HOME'"]

    async def test_hostile_arguments_reach_the_process_verbatim(
        self, contract_engine: Any, contract_dir: Path
    ) -> None:
        """Nothing runs; the report shows the argv quoted so that a shell would pass it verbatim."""
        import shlex

        learner = self.make_learner(contract_engine, contract_dir)
        arguments, markers = hostile_arguments(contract_dir)

        @learner.utility_task
        async def verbatim() -> list[str]:
            return ["printf", "%s|", *arguments]

        await verbatim()
        command = last(contract_engine).command
        assert shlex.split(command) == ["printf", "%s|", *arguments]
        assert not [m for m in markers if m.exists()]

    async def test_shell_only_when_asked(self, contract_engine: Any, contract_dir: Path) -> None:
        learner = self.make_learner(contract_engine, contract_dir)

        @learner.utility_task(shell=True)
        async def in_shell() -> str:
            return "echo $((2 + 3)) | wc -c"

        @learner.utility_task
        async def no_shell() -> str:
            return "echo $((2+3))"

        await in_shell()
        await no_shell()
        assert report_of(contract_engine).commands() == ["/bin/sh -c 'echo $((2 + 3)) | wc -c'", "echo '$((2+3))'"]

    async def test_function_task_returns_its_value(self, contract_engine: Any, contract_dir: Path) -> None:
        learner = self.make_learner(contract_engine, contract_dir)
        calls: list[int] = []

        @learner.utility_task(as_executable=False)
        async def compute(a: int, b: int = 0) -> int:
            calls.append(a)
            return a + b

        assert await compute(2, b=3) == "<dry-run utility#0>"
        assert calls == []
        assert last(contract_engine).call.endswith("compute(2, b=3)")

    async def test_learner_chains_results(self, contract_engine: Any, contract_dir: Path) -> None:
        learner = self.make_learner(contract_engine, contract_dir)

        @learner.simulation_task
        async def simulate() -> str:
            return "python sim.py"

        @learner.training_task(as_executable=False)
        async def train(simulated: str) -> int:
            return len(simulated)

        @learner.active_learn_task
        async def select(simulated: str, trained: Any) -> list[str]:
            return ["python", "select.py", "--model", str(trained).strip()]

        simulated = await learner.run_task("simulation", iteration=0)
        trained = await learner.run_task("training", iteration=0, deps=(simulated,))
        await learner.run_task("active_learn", iteration=0, deps=(simulated, trained))
        sim, tr, al = report_of(contract_engine).tasks
        assert (sim.depends_on, tr.depends_on, al.depends_on) == ([], ["simulation#0"], ["simulation#0", "training#1"])
        assert al.command == "python select.py --model '<dry-run training#1>'"
        assert tr.call is not None and tr.call.endswith("train('<dry-run simulation#0>\\n')")

    async def test_failing_command_raises_task_failed(self, contract_engine: Any, contract_dir: Path) -> None:
        learner = self.make_learner(contract_engine, contract_dir)

        @learner.utility_task
        async def broken() -> list[str]:
            return ["sh", "-c", "exit 3"]

        assert await broken() == "<dry-run utility#0>\n"  # planned, not run: nothing can fail
        assert last(contract_engine).status == "planned"

    async def test_missing_command_raises_task_failed(self, contract_engine: Any, contract_dir: Path) -> None:
        learner = self.make_learner(contract_engine, contract_dir)

        @learner.utility_task
        async def missing() -> str:
            return "rose-contract-no-such-command --flag"

        await missing()
        assert last(contract_engine).warnings == ["'rose-contract-no-such-command' is not on this machine's PATH"]

    async def test_function_exception_keeps_its_type(self, contract_engine: Any, contract_dir: Path) -> None:
        learner = self.make_learner(contract_engine, contract_dir)

        @learner.utility_task(as_executable=False)
        async def explode() -> None:
            raise RuntimeError("would explode")

        assert await explode() == "<dry-run utility#0>"

    async def test_cancelled_command_leaves_no_process(self, contract_engine: Any, contract_dir: Path) -> None:
        learner = self.make_learner(contract_engine, contract_dir)
        duration = unique_sleep()

        @learner.utility_task(timeout=0.5)
        async def long() -> list[str]:
            return ["sleep", duration]

        assert await asyncio.wait_for(long(), 5) == "<dry-run utility#0>\n"
        assert processes_running(duration) == []

    async def test_timeout_kills_the_command(self, contract_engine: Any, contract_dir: Path) -> None:
        await self.test_cancelled_command_leaves_no_process(contract_engine, contract_dir)

    async def test_cwd_and_env_reach_the_command(self, contract_engine: Any, contract_dir: Path) -> None:
        learner = self.make_learner(contract_engine, contract_dir)

        @learner.utility_task(resources={"cwd": str(contract_dir), "env": {"ROSE_CONTRACT_VAR": "v 1"}, "cores": 2})
        async def where() -> str:
            return "pwd"

        await where()
        assert last(contract_engine).description["resources"] == {
            "cores": 2, "env": {"ROSE_CONTRACT_VAR": "v 1"}, "cwd": str(contract_dir)
        }

    async def test_shutdown_leaves_no_processes(self, contract_dir: Path) -> None:
        before = child_processes()
        async with self.open_engine(contract_dir) as engine:
            learner = Learner(engine, run_dir=contract_dir / "run")

            @learner.utility_task
            async def quick() -> str:
                return "echo done"

            await quick()
        assert set(child_processes()) <= set(before)
