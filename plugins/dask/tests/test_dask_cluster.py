"""ROSE on a real Dask cluster started with the ``dask scheduler`` / ``dask worker`` commands.

One scheduler and two single-threaded workers (separate processes, started from a
directory of their own, so nothing works by accident of sharing the campaign's current
directory) serve the module and are shut down after it. The checks are what users of an
existing cluster rely on:

* the flagship demo (``examples/surrogate_demo/workflow.py``), unchanged, through
  ``rose run --backend dask --backend-option address=...``: it runs its iterations, its
  function tasks import the script's sibling module on the workers, and every file its
  tasks write is inside the campaign directory;
* ``DASK_SCHEDULER_ADDRESS`` alone targets the cluster;
* ``kill -9`` of a campaign ends its command on the workers within seconds;
* a module the workers cannot import, and a working directory they cannot see, are
  errors naming the module / the worker and the path, and the fix.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rose.testing.backend import processes_running, unique_sleep

REPO = Path(__file__).resolve().parents[3]
DEMO = REPO / "examples" / "surrogate_demo" / "workflow.py"
DEMO_ARGS = ["--no-mlflow", "--holdout", "20", "--iterations", "2", "--candidates", "50", "--initial", "4",
             "--batch", "2"]
BIN = Path(sys.executable).parent


def wait_for(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return bool(predicate())


class Cluster:
    def __init__(self, address: str, worker_dir: Path) -> None:
        self.address, self.worker_dir = address, worker_dir


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    dask = shutil.which("dask", path=str(BIN)) or shutil.which("dask")
    if dask is None:
        pytest.skip("the `dask` command is not installed (pip install 'dask[distributed]')")
    root = tmp_path_factory.mktemp("dask-cluster")
    worker_dir = root / "workers"
    worker_dir.mkdir()
    scheduler_file = root / "scheduler.json"
    env = {**os.environ, "DASK_LOGGING__DISTRIBUTED": "warning"}
    env.pop("DASK_SCHEDULER_ADDRESS", None)
    log = open(root / "cluster.log", "wb")
    processes = [subprocess.Popen(
        [dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
         "--scheduler-file", str(scheduler_file)],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )]
    try:
        if not wait_for(scheduler_file.exists, 60):
            pytest.fail(f"`dask scheduler` did not start: {(root / 'cluster.log').read_text()[-2000:]}")
        address = json.loads(scheduler_file.read_text())["address"]
        processes.append(subprocess.Popen(
            [dask, "worker", "--scheduler-file", str(scheduler_file), "--nworkers", "2", "--nthreads", "1",
             "--no-dashboard", "--local-directory", str(worker_dir / "scratch"), "--name", "rose-test-worker"],
            cwd=worker_dir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        ))
        from distributed import Client

        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        yield Cluster(address, worker_dir)
    finally:
        for process in reversed(processes):
            with __import__("contextlib").suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def rose_run(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 150,
             log_level: str = "WARNING") -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "ROSE_RUNS_DIR": str(cwd / "runs"), **(env or {})}
    full_env.pop("DASK_SCHEDULER_ADDRESS", None) if "DASK_SCHEDULER_ADDRESS" not in (env or {}) else None
    return subprocess.run([str(BIN / "rose"), "--log-level", log_level, "run", *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


def files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def check_demo_campaign(campaign: Path) -> None:
    """Both learners ran 2 iterations; their tasks' files are in their directories."""
    from rose.runs import load_run

    run = load_run(str(campaign))
    for learner_id in (0, 1):
        assert len(run.learners[learner_id].iterations) == 2, run.learners[learner_id].iterations
        written = files(campaign / f"learner-{learner_id}")
        assert {"batch-000.npz", "batch-001.npz", "batch-001.npy", "metrics.json", "surrogate.json"} <= written


def test_flagship_demo_through_rose_run_with_backend_options(cluster: Cluster, tmp_path: Path) -> None:
    for module in ("numpy", "scipy", "sklearn", "matplotlib"):
        pytest.importorskip(module, reason=f"the flagship demo needs {module}; install the demo's dependencies")
    workers_before = files(cluster.worker_dir)
    result = rose_run([str(DEMO), "--backend", "dask", "--backend-option", f"address={cluster.address}",
                       "--", *DEMO_ARGS], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    # quiet at the default log level: no `distributed` INFO lines, no radical.utils fork warning
    assert "distributed." not in result.stderr and "INFO" not in result.stderr, result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    assert "Import `radical` modules" not in result.stderr
    [campaign] = [p for p in (tmp_path / "runs").iterdir() if not p.name.startswith(".")]
    outside = {f for f in files(tmp_path) if not f.startswith("runs/")}
    assert not outside, f"tasks wrote outside the campaign directory: {outside}"
    assert files(cluster.worker_dir) - workers_before <= {f for f in files(cluster.worker_dir) if "scratch" in f}
    check_demo_campaign(campaign)
    assert "max_iter_reached" in result.stdout


def test_dask_scheduler_address_targets_the_cluster(cluster: Cluster, tmp_path: Path) -> None:
    script = tmp_path / "where.py"
    script.write_text(textwrap.dedent("""
        import asyncio, rose

        async def main():
            async with rose.engine("dask") as engine:
                print("workers:", len((await engine.backend.client.scheduler.identity())["workers"]))
                print("address:", engine.backend.client.scheduler.address)

        asyncio.run(main())
    """))
    result = rose_run([str(script)], tmp_path, env={"DASK_SCHEDULER_ADDRESS": cluster.address}, log_level="INFO")
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"address: {cluster.address}" in result.stdout
    assert "DASK_SCHEDULER_ADDRESS" in result.stderr  # said at INFO where the cluster came from


def test_bad_backend_option_is_a_clear_error(tmp_path: Path) -> None:
    script = tmp_path / "noop.py"
    script.write_text("import asyncio, rose\nasyncio.run(rose.engine('dask').__await__().__next__() if False "
                      "else asyncio.sleep(0))\n")
    result = rose_run([str(script), "--backend-option", "no-equals-sign"], tmp_path)
    assert result.returncode == 2 and "KEY=VALUE" in result.stderr


CAMPAIGN = """
    import asyncio
    import rose
    from rose.learner import Learner

    async def main():
        async with rose.engine("dask", address={address!r}) as engine:
            learner = Learner(engine, run_dir="run")

            @learner.utility_task
            async def long():
                return ["sleep", {duration!r}]

            await long()

    asyncio.run(main())
"""


def test_killing_the_campaign_ends_its_commands_on_the_workers(cluster: Cluster, tmp_path: Path) -> None:
    duration = unique_sleep()
    script = tmp_path / "campaign.py"
    script.write_text(textwrap.dedent(CAMPAIGN).format(address=cluster.address, duration=duration))
    campaign = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path,
                                env={**os.environ, "ROSE_RUNS_DIR": str(tmp_path / "runs")},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: processes_running(duration), 60), "the command never started on a worker"
        campaign.kill()
        campaign.wait(10)
        # the scheduler notices the client is gone (its comm closes), releases the task, the
        # worker marks it cancelled and the runner kills the command's process group
        assert wait_for(lambda: not processes_running(duration), 10), (
            f"`sleep {duration}` still runs on a worker after its campaign was killed"
        )
    finally:
        if campaign.poll() is None:
            campaign.kill()
        for pid in processes_running(duration):
            os.kill(pid, signal.SIGKILL)


async def test_missing_module_on_the_workers_names_module_and_fix(cluster: Cluster, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from rose.engine import engine as make_engine
    from rose.learner import Learner

    private = tmp_path / "client-only"
    private.mkdir()
    (private / "rose_client_only_module.py").write_text("def double(x):\n    return 2 * x\n")
    monkeypatch.syspath_prepend(str(private))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ROSE_RUNS_DIR", str(tmp_path / "runs"))
    import rose_client_only_module

    # pickled by reference, as a sibling module of a campaign script is
    monkeypatch.setattr(rose_client_only_module, "__file__", str(private / "rose_client_only_module.py"))
    async with make_engine("dask", address=cluster.address) as engine:
        learner = Learner(engine, run_dir=tmp_path / "run")

        @learner.utility_task(as_executable=False)
        async def uses_module(x: int) -> int:
            return int(rose_client_only_module.double(x))

        with pytest.raises(ModuleNotFoundError) as failure:
            await uses_module(2)
    message = str(failure.value)
    assert "rose_client_only_module" in message and "uses_module" in message
    assert "rose-test-worker" in message and "Fix:" in message


def test_a_worker_that_cannot_see_the_directory_says_so() -> None:
    from rose_plugin_dask.worker import run_command

    stdout, stderr, code = run_command(["true"], "task.x", cwd="/nonexistent/rose/campaign/learner-0")
    assert code == 126 and stdout == ""
    assert "/nonexistent/rose/campaign/learner-0" in stderr and "not visible on Dask worker" in stderr
    assert "share" in stderr


# -- tasks die with their campaign, also when the worker process dies with it (issue 27, item 3) --

SEQUENTIAL = """
    import asyncio, os, sys
    import rose
    from rose.al import SequentialActiveLearner

    ADDRESS, RUN_DIR, STARTS, HOLD = sys.argv[1:5]
    DURATION = os.environ["ORPHAN_SLEEP"]  # not in this process's argv: only the command has it

    async def main():
        options = {} if ADDRESS == "local" else {"address": ADDRESS}
        async with rose.engine("dask", **options) as engine:
            learner = SequentialActiveLearner(engine, name="orphans", run_dir=RUN_DIR)

            @learner.simulation_task
            async def simulate(*upstream):
                return ["sh", "-c", f"echo $$ >> {STARTS}; if [ -f {HOLD} ]; then exec sleep {DURATION}; fi; echo 1"]

            @learner.training_task
            async def train(*upstream):
                return ["echo", "model"]

            @learner.active_learn_task
            async def select(*upstream):
                return ["echo", "batch"]

            async for state in learner.start(max_iter=2, resume=RUN_DIR if "--resume" in sys.argv else None):
                print("iteration", state.iteration, flush=True)

    if __name__ == "__main__":
        asyncio.run(main())
"""


def parent_of(pid: int) -> int:
    text = Path(f"/proc/{pid}/stat").read_text()
    return int(text[text.rfind(")") + 2:].split()[1])


def children_of(pid: int, word: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if parent_of(int(entry.name)) == pid and word in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except (OSError, ValueError):
                continue
    return found


class Orphans:
    """A sequential campaign whose first simulation command sleeps while ``hold`` exists."""

    def __init__(self, tmp_path: Path, address: str) -> None:
        self.tmp_path, self.address = tmp_path, address
        self.run_dir, self.starts, self.hold = tmp_path / "run", tmp_path / "starts", tmp_path / "hold"
        self.duration = unique_sleep()
        self.script = tmp_path / "campaign.py"
        self.script.write_text(textwrap.dedent(SEQUENTIAL))
        self.hold.write_text("")
        self.env = {**os.environ, "ROSE_RUNS_DIR": str(tmp_path / "runs"), "ORPHAN_SLEEP": self.duration}
        self.env.pop("DASK_SCHEDULER_ADDRESS", None)

    def argv(self, *extra: str) -> list[str]:
        return [sys.executable, str(self.script), self.address, str(self.run_dir), str(self.starts), str(self.hold),
                *extra]

    def start(self) -> tuple[subprocess.Popen[bytes], int]:
        """The campaign, and the pid of its command once it sleeps on a worker."""
        campaign = subprocess.Popen(self.argv(), cwd=self.tmp_path, env=self.env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
        assert wait_for(lambda: processes_running(self.duration), 90), "the command never started on a worker"
        [command] = processes_running(self.duration)
        return campaign, command

    def resume(self) -> subprocess.CompletedProcess[str]:
        self.hold.unlink()
        self.starts_before = len(self.starts.read_text().split())
        return subprocess.run(self.argv("--resume"), cwd=self.tmp_path, env=self.env, capture_output=True, text=True,
                              timeout=120)

    def cleanup(self, campaign: subprocess.Popen[bytes]) -> None:
        if campaign.poll() is None:
            campaign.kill()
            campaign.wait()
        for pid in processes_running(self.duration):
            os.kill(pid, signal.SIGKILL)

    def check_resumed_once(self, result: subprocess.CompletedProcess[str]) -> None:
        from rose.journal import read_journal

        assert result.returncode == 0, result.stderr[-3000:]
        records = list(read_journal(str(self.run_dir)))
        assert [r["state"]["iteration"] for r in records if r["type"] == "iteration"] == [0, 1]
        done = Counter((r["task"], r["iteration"]) for r in records if r["type"] == "task" and r["status"] == "done")
        assert set(done.values()) == {1}, done  # every task of the campaign finished once
        simulations = sum(count for (task, _), count in done.items() if task == "simulation")
        # each simulation of the resume started once (the killed run's starts come before)
        assert len(self.starts.read_text().split()) == self.starts_before + simulations


def wait_for_workers(address: str, count: int) -> None:
    from distributed import Client

    with Client(address, timeout=30) as client:
        client.wait_for_workers(count, timeout=60)


def test_a_command_dies_with_its_worker_process_and_its_campaign(cluster: Cluster, tmp_path: Path) -> None:
    """kill -9 of the campaign and of the worker process running its command (a batch job's
    processes killed together): the worker's watchdog ends the command; a resume runs it once."""
    from rose.journal import read_journal

    orphans = Orphans(tmp_path, cluster.address)
    campaign, command = orphans.start()
    try:
        worker = parent_of(command)
        assert wait_for(lambda: children_of(worker, "watchdog.py"), 10), "the worker process has no watchdog"
        assert wait_for(lambda: any(r["type"] == "process" for r in read_journal(str(orphans.run_dir))), 10)
        [spawned] = [r for r in read_journal(str(orphans.run_dir)) if r["type"] == "process"]
        assert (spawned["task"], spawned["pid"], spawned["host"]) == ("simulation", command, os.uname().nodename)
        os.kill(campaign.pid, signal.SIGKILL)
        os.kill(worker, signal.SIGKILL)
        campaign.wait(10)
        assert wait_for(lambda: not processes_running(orphans.duration), 10), (
            f"`sleep {orphans.duration}` still runs after its campaign and its worker process were killed"
        )
        wait_for_workers(cluster.address, 2)  # the nanny restarts the worker
        orphans.check_resumed_once(orphans.resume())
    finally:
        orphans.cleanup(campaign)


def test_a_resume_ends_the_command_the_journal_names(cluster: Cluster, tmp_path: Path) -> None:
    """Campaign, worker process and its watchdog all killed: nothing is left to end the command
    but the resume, which ends the process the journal names before it runs anything."""
    orphans = Orphans(tmp_path, cluster.address)
    campaign, command = orphans.start()
    try:
        worker = parent_of(command)
        assert wait_for(lambda: children_of(worker, "watchdog.py"), 10), "the worker process has no watchdog"
        watchdogs = children_of(worker, "watchdog.py")
        from rose.journal import read_journal

        # the spawn event reaches the campaign's journal
        assert wait_for(lambda: any(r["type"] == "process" for r in read_journal(str(orphans.run_dir))), 10)
        for pid in (campaign.pid, *watchdogs, worker):
            os.kill(pid, signal.SIGKILL)
        campaign.wait(10)
        time.sleep(3)
        assert processes_running(orphans.duration) == [command], "nothing should have ended the command yet"
        wait_for_workers(cluster.address, 2)
        result = orphans.resume()
        assert not processes_running(orphans.duration)
        assert "ended task 'simulation'" in result.stderr
        orphans.check_resumed_once(result)
    finally:
        orphans.cleanup(campaign)


def test_a_command_dies_with_a_local_cluster_killed_with_its_campaign(tmp_path: Path) -> None:
    """The campaign's own LocalCluster (`rose.engine("dask")`): its worker processes die with the
    campaign, and their watchdogs end the command."""
    orphans = Orphans(tmp_path, "local")
    campaign, _command = orphans.start()
    try:
        os.kill(campaign.pid, signal.SIGKILL)
        campaign.wait(10)
        assert wait_for(lambda: not processes_running(orphans.duration), 15), (
            f"`sleep {orphans.duration}` still runs after its campaign (and its LocalCluster) was killed"
        )
    finally:
        orphans.cleanup(campaign)
