"""A real one-node Slurm on this machine, for tests and for trying ``rose submit`` out.

Debian's ``slurm-wlm`` and ``munge`` packages (installed by :func:`install` when missing and
the machine allows it: root and ``apt-get``); every file of the cluster (configuration,
munge key and socket, state, spool, logs) lives in one folder, so nothing in ``/etc`` is
touched and several folders never share a daemon. Commands::

    python -m rose.testing.slurm install      # apt-get install slurm-wlm munge (root only)
    python -m rose.testing.slurm start [DIR]  # start munged, slurmctld, slurmd; wait for an idle node
    python -m rose.testing.slurm stop [DIR]   # cancel every job, stop the three daemons

``make slurm`` / ``make slurm-stop`` call them with ``DIR=/tmp/rose-slurm``. Slurm's client
commands find the cluster through ``SLURM_CONF`` (``export SLURM_CONF=DIR/slurm.conf``).

In pytest, tests marked ``slurm`` use the session fixture ``local_slurm`` (a
:class:`LocalSlurm`; its ``env`` is the environment for processes that talk to it); where
the machine cannot run Slurm, they skip and say why.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["LocalSlurm", "SlurmUnavailable", "install", "missing_programs", "why_not"]

logger = logging.getLogger(__name__)

#: the programs a local cluster needs, all from Debian's slurm-wlm and munge packages
PROGRAMS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scancel")
_SBIN = ("/usr/sbin", "/sbin", "/usr/bin")


class SlurmUnavailable(RuntimeError):
    """This machine cannot run the local Slurm; the message says why."""


def _which(program: str) -> str | None:
    found = shutil.which(program)
    if found:
        return found
    for folder in _SBIN:
        candidate = os.path.join(folder, program)
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def missing_programs() -> list[str]:
    """The programs of :data:`PROGRAMS` not installed here."""
    return [program for program in PROGRAMS if _which(program) is None]


def why_not() -> str | None:
    """Why :func:`install` cannot install Slurm here (``None`` when it can)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "installing slurm-wlm and munge needs root (apt-get), and this process is not root"
    if shutil.which("apt-get") is None:
        return "installing slurm-wlm and munge needs apt-get (Debian or Ubuntu), not found on PATH"
    return None


def install() -> None:
    """Install Debian's ``slurm-wlm`` and ``munge`` unless present (``apt-get update`` first).

    Raises :class:`SlurmUnavailable` naming the reason when they are missing and cannot be
    installed (not root, no ``apt-get``, or apt-get failed).
    """
    missing = missing_programs()
    if not missing:
        return
    reason = why_not()
    if reason is not None:
        raise SlurmUnavailable(f"Slurm is not installed (missing {', '.join(missing)}) and {reason}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # another apt-get (the browser install of `make test`, unattended upgrades) holds dpkg's lock: wait for it
    wait = ["-o", "DPkg::Lock::Timeout=600"]
    for command in (["apt-get", *wait, "update", "-qq"], ["apt-get", *wait, "install", "-y", "-qq", "slurm-wlm", "munge"]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SlurmUnavailable(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()[-1500:]}")
    still = missing_programs()
    if still:
        raise SlurmUnavailable(f"apt-get installed slurm-wlm and munge but {', '.join(still)} is still missing")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _node_line() -> str:
    """This machine as a Slurm node (``slurmd -C``: CPUs, sockets, cores, memory)."""
    slurmd = _which("slurmd") or "slurmd"
    done = subprocess.run([slurmd, "-C"], capture_output=True, text=True, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("NodeName="):
            words = [w for w in line.split() if not w.startswith("NodeName=")]
            return " ".join(words)
    return f"CPUs={os.cpu_count() or 1}"


class LocalSlurm:
    """A one-node Slurm cluster whose every file is in ``folder``.

    ``start()`` writes the configuration, starts munged, slurmctld and slurmd and waits
    until the node is idle; ``stop()`` cancels every job and stops the daemons. ``env``
    is ``os.environ`` plus ``SLURM_CONF`` (what ``sbatch``, ``squeue``, RADICAL-Pilot and
    dask-jobqueue need to reach this cluster).
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder).resolve()
        self.conf = self.folder / "slurm.conf"
        self.node = socket.gethostname().split(".")[0]
        self.partition = "debug"

    @property
    def env(self) -> dict[str, str]:
        """The environment of a process that uses this cluster."""
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    # -- configuration --------------------------------------------------------------------
    def _write_config(self) -> None:
        for sub in ("state", "spool", "munge", "log"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder / "munge", 0o700)
        key = self.folder / "munge" / "munge.key"
        if not key.exists():
            key.write_bytes(os.urandom(1024))
            os.chmod(key, 0o600)
        ctld_port, node_port = _free_port(), _free_port()
        folder = self.folder
        self.conf.write_text(
            "\n".join([
                "# a one-node Slurm written by rose.testing.slurm; every file of it is in this folder",
                "ClusterName=rose-local",
                f"SlurmctldHost={self.node}(127.0.0.1)",
                f"SlurmctldPort={ctld_port}",
                f"SlurmdPort={node_port}",
                "SlurmUser=root",
                "SlurmdUser=root",
                "AuthType=auth/munge",
                "CredType=cred/munge",
                f"AuthInfo=socket={folder / 'munge' / 'munge.socket'}",
                f"StateSaveLocation={folder / 'state'}",
                f"SlurmdSpoolDir={folder / 'spool'}",
                f"SlurmctldPidFile={folder / 'slurmctld.pid'}",
                f"SlurmdPidFile={folder / 'slurmd.pid'}",
                f"SlurmctldLogFile={folder / 'log' / 'slurmctld.log'}",
                f"SlurmdLogFile={folder / 'log' / 'slurmd.log'}",
                "ProctrackType=proctrack/linuxproc",
                "TaskPlugin=task/none",
                "SelectType=select/cons_tres",
                "SelectTypeParameters=CR_Core",
                "SchedulerType=sched/backfill",
                "MpiDefault=none",
                "JobAcctGatherType=jobacct_gather/none",
                "AccountingStorageType=accounting_storage/none",
                "JobCompType=jobcomp/none",
                "ReturnToService=2",
                "MinJobAge=300",
                "KillWait=30",  # Slurm's default: SIGTERM at the time limit, SIGKILL 30 s later
                "InactiveLimit=0",
                "Waittime=0",
                "SlurmctldTimeout=30",
                "SlurmdTimeout=60",
                f"NodeName={self.node} NodeAddr=127.0.0.1 {_node_line()} State=UNKNOWN",
                f"PartitionName={self.partition} Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
                "",
            ])
        )

    # -- daemons --------------------------------------------------------------------------
    def _pidfile(self, daemon: str) -> Path:
        return self.folder / f"{daemon}.pid"

    def _spawn(self, daemon: str, argv: list[str]) -> None:
        log = open(self.folder / "log" / f"{daemon}.out", "ab")
        try:
            process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       env=self.env, start_new_session=True)
        finally:
            log.close()
        (self.folder / f"{daemon}.process").write_text(str(process.pid))

    def _pid(self, daemon: str) -> int | None:
        path = self.folder / f"{daemon}.process"
        try:
            pid = int(path.read_text())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) else None

    def start(self, timeout: float = 60.0) -> LocalSlurm:
        """Start the cluster and wait until its node is idle (raises :class:`SlurmUnavailable`)."""
        missing = missing_programs()
        if missing:
            raise SlurmUnavailable(f"Slurm is not installed here (missing {', '.join(missing)}); "
                                   "run `make slurm-install` as root")
        if self.running():
            return self
        self._write_config()
        munge = self.folder / "munge"
        self._spawn("munged", [str(_which("munged")), "--foreground", "--force",
                               f"--socket={munge / 'munge.socket'}", f"--key-file={munge / 'munge.key'}",
                               f"--pid-file={munge / 'munged.pid'}", f"--seed-file={munge / 'munged.seed'}",
                               f"--log-file={self.folder / 'log' / 'munged.log'}"])
        self._wait_for(lambda: (munge / "munge.socket").exists(), 10, "munged to open its socket")
        self._spawn("slurmctld", [str(_which("slurmctld")), "-D", "-c", "-i", "-f", str(self.conf)])
        self._spawn("slurmd", [str(_which("slurmd")), "-D", "-f", str(self.conf)])
        self._wait_for(self._idle, timeout, f"node {self.node} to be idle in sinfo")
        logger.info("local Slurm up: SLURM_CONF=%s", self.conf)
        return self

    def _idle(self) -> bool:
        for daemon in ("munged", "slurmctld", "slurmd"):
            if self._pid(daemon) is None:
                raise SlurmUnavailable(f"{daemon} of the local Slurm exited; its log: {self._log_tail(daemon)}")
        done = subprocess.run([str(_which("sinfo")), "-h", "-o", "%T"], env=self.env, capture_output=True,
                              text=True, check=False)
        return done.returncode == 0 and done.stdout.strip() == "idle"

    def _log_tail(self, daemon: str) -> str:
        chunks = []
        for name in (f"{daemon}.out", f"{daemon}.log"):
            path = self.folder / "log" / name
            if path.exists():
                chunks.append(path.read_text(errors="replace")[-1500:])
        return "\n".join(chunks) or "(empty)"

    def _wait_for(self, ready: Any, timeout: float, what: str) -> None:
        end = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > end:
                self.stop()
                raise SlurmUnavailable(f"the local Slurm did not start: gave up waiting {timeout:g} s for {what}; "
                                       f"logs in {self.folder / 'log'}")
            time.sleep(0.2)

    def running(self) -> bool:
        """Whether all three daemons of this folder are alive."""
        return all(self._pid(daemon) is not None for daemon in ("munged", "slurmctld", "slurmd"))

    def stop(self) -> None:
        """Cancel every job, then stop slurmd, slurmctld and munged (and wait until they are gone)."""
        if self._pid("slurmctld") is not None and self.conf.exists():
            subprocess.run([str(_which("scancel") or "scancel"), "--full", "--user", "root"], env=self.env,
                           capture_output=True, check=False, timeout=30)
            self._wait_jobs_gone(15)
        steps = self._steps()
        for daemon in ("slurmd", "slurmctld", "munged"):
            pid = self._pid(daemon)
            if pid is not None:
                _end(pid)
            (self.folder / f"{daemon}.process").unlink(missing_ok=True)
        for pid in steps:  # a job step slurmd left behind (its job outlived scancel)
            _end(pid)

    def processes(self) -> list[int]:
        """Ids of the live processes of this cluster (its daemons and the job steps of its slurmd)."""
        daemons = [pid for daemon in ("munged", "slurmctld", "slurmd") if (pid := self._pid(daemon)) is not None]
        return daemons + self._steps()

    def _steps(self) -> list[int]:
        """The job steps (``slurmstepd``) of this cluster: their environment names its configuration."""
        mine = f"SLURM_CONF={self.conf}".encode()
        steps = []
        for pid in _pids_of("slurmstepd"):
            try:
                environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if mine in environ:
                steps.append(pid)
        return steps

    def _wait_jobs_gone(self, timeout: float) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            done = subprocess.run([str(_which("squeue") or "squeue"), "-h", "-o", "%i"], env=self.env,
                                  capture_output=True, text=True, check=False)
            if done.returncode != 0 or not done.stdout.strip():
                return
            time.sleep(0.3)

    def submit(self, *sbatch_args: str) -> str:
        """``sbatch --parsable ARGS``; the job id."""
        done = subprocess.run([str(_which("sbatch")), "--parsable", *sbatch_args], env=self.env,
                              capture_output=True, text=True, check=True)
        return done.stdout.strip().split(";")[0]

    def job_state(self, job_id: str) -> str:
        """The job's state in ``squeue`` (``""`` once it left the queue)."""
        done = subprocess.run([str(_which("squeue")), "-h", "-j", job_id, "-o", "%T"], env=self.env,
                              capture_output=True, text=True, check=False)
        return done.stdout.strip()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as gone
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


def _end(pid: int, timeout: float = 15.0) -> None:
    """SIGTERM ``pid``, then SIGKILL it after ``timeout`` s; reap it if it is our child."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    end = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < end:
        _reap(pid)
        time.sleep(0.1)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _reap(pid)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _pids_of(name: str) -> list[int]:
    """Process ids whose command name is ``name`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if comm == name and _alive(int(entry.name)):
            found.append(int(entry.name))
    return found


# -- pytest ---------------------------------------------------------------------------------

try:
    import pytest
except ImportError:  # pragma: no cover - rose.testing without pytest installed
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    def pytest_configure(config: Any) -> None:
        """Register the ``slurm`` marker."""
        config.addinivalue_line(
            "markers", "slurm: needs the local one-node Slurm (fixture local_slurm); skipped loudly without it"
        )

    @pytest.fixture(scope="session")
    def local_slurm(tmp_path_factory: Any) -> Iterator[LocalSlurm]:
        """A running one-node Slurm for the whole test session, stopped at its end.

        Installs slurm-wlm and munge when missing and allowed (root, apt-get); skips the
        test with the reason otherwise.
        """
        try:
            install()
            cluster = LocalSlurm(tmp_path_factory.mktemp("slurm")).start()
        except SlurmUnavailable as exc:
            message = f"SKIPPED LOUDLY: no local Slurm on this machine: {exc}"
            sys.stderr.write(message + "\n")
            pytest.skip(message)
        try:
            yield cluster
        finally:
            cluster.stop()


def main(argv: list[str] | None = None) -> int:
    """``python -m rose.testing.slurm install|start|stop [DIR]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in ("install", "start", "stop", "status"):
        sys.stderr.write("usage: python -m rose.testing.slurm install|start|stop|status [DIR]\n")
        return 2
    command = args[0]
    folder = args[1] if len(args) > 1 else os.path.join(os.environ.get("TMPDIR", "/tmp"), "rose-slurm")
    try:
        if command == "install":
            missing = missing_programs()
            if not missing:
                sys.stdout.write("slurm-install: slurm-wlm and munge are installed; nothing to do\n")
                return 0
            reason = why_not()
            if reason is not None:
                sys.stdout.write(
                    "*" * 78 + f"\nslurm-install: SKIPPED: Slurm is missing ({', '.join(missing)}) and {reason}.\n"
                    "The tests marked `slurm` will skip. Install slurm-wlm and munge to run them.\n" + "*" * 78 + "\n"
                )
                return 0
            sys.stdout.write("slurm-install: apt-get install slurm-wlm munge ...\n")
            install()
            sys.stdout.write("slurm-install: done\n")
            return 0
        cluster = LocalSlurm(folder)
        if command == "start":
            install()
            cluster.start()
            sys.stdout.write(f"local Slurm running; use it with:\n  export SLURM_CONF={cluster.conf}\n")
        elif command == "stop":
            cluster.stop()
            sys.stdout.write(f"local Slurm in {cluster.folder} stopped\n")
        else:
            sys.stdout.write(f"local Slurm in {cluster.folder}: {'running' if cluster.running() else 'stopped'}\n")
    except SlurmUnavailable as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
