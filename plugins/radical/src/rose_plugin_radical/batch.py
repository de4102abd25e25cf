"""Pilots as batch jobs: the resource descriptions this plugin ships, and a pilot's job seen from ROSE.

``rose.engine("radical", resource="local.slurm")`` (or ``rose run ... --backend radical
--backend-option resource=local.slurm``) submits the pilot as a batch job to the Slurm of
this machine (``make slurm`` starts a one-node one). RADICAL-Pilot finds resource
descriptions in its configuration folders; the ones in :data:`SHIPPED_RESOURCES` are written
into a folder of the session directory, which ``RADICAL_CONFIG_USER_DIR`` then names (the
user's own ``~/.radical/pilot/configs`` files are carried over into it, so they still apply).

:class:`PilotJob` follows one pilot's batch job: its id, its time in the queue and its
state changes go to the lifecycle log (a queued pilot says so every :data:`WAITING_EVERY`
seconds) and to a batch-job record for ``rose show`` (:func:`rose.allocation.write_batch_job`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import threading
import time
from typing import Any

from rose.allocation import write_batch_job

__all__ = ["SHIPPED_RESOURCES", "WAITING_EVERY", "PilotJob", "use_shipped_resource"]

lifecycle = logging.getLogger("rose.lifecycle.radical")

#: seconds between two "still queued" lines of a pilot waiting for its allocation
WAITING_EVERY = 30.0
#: seconds between two looks at the batch queue (``squeue``) while the pilot is not active
POLL_EVERY = 3.0

#: resource descriptions shipped with the plugin: {site: {resource: RP resource config}}
SHIPPED_RESOURCES: dict[str, dict[str, dict[str, Any]]] = {
    "local": {
        "slurm": {
            "description": "The Slurm of this machine (e.g. `make slurm`): the pilot is a batch job on it.",
            "default_schema": "local",
            "schemas": {"local": {"job_manager_endpoint": "slurm://localhost/",
                                  "filesystem_endpoint": "file://localhost/"}},
            "default_remote_workdir": "$HOME",
            "resource_manager": "SLURM",
            "agent_config": "default",
            "agent_scheduler": "CONTINUOUS",
            "agent_spawner": "POPEN",
            # FORK fails every task with "no launcher found" inside a Slurm allocation
            "launch_methods": {"order": ["SRUN"], "SRUN": {}},
            "rp_version": "installed",
            "virtenv_mode": "local",
            "python_dist": "default",
            "cores_per_node": os.cpu_count() or 1,
            "gpus_per_node": 0,
            "lfs_path_per_node": "/tmp",
            "lfs_size_per_node": 1024,
        }
    }
}


def use_shipped_resource(resource: str, folder: str) -> bool:
    """Make RP find ``resource`` when it is one of :data:`SHIPPED_RESOURCES`; ``True`` if it is.

    Writes ``folder/.radical/pilot/configs/resource_<site>.json`` (the user's own file of
    that site merged in) and points ``RADICAL_CONFIG_USER_DIR`` at ``folder``.
    """
    site, _, name = resource.partition(".")
    if name not in SHIPPED_RESOURCES.get(site, {}):
        return False
    user_home = os.environ.get("RADICAL_CONFIG_USER_DIR") or os.path.expanduser("~")
    user_configs = os.path.join(user_home, ".radical", "pilot", "configs")
    configs = os.path.join(os.path.abspath(folder), ".radical", "pilot", "configs")
    os.makedirs(configs, exist_ok=True)
    if os.path.abspath(user_configs) != configs and os.path.isdir(user_configs):
        for entry in os.listdir(user_configs):  # keep the user's own configurations in effect
            source = os.path.join(user_configs, entry)
            if os.path.isfile(source):
                shutil.copyfile(source, os.path.join(configs, entry))
    path = os.path.join(configs, f"resource_{site}.json")
    merged: dict[str, Any] = {}
    if os.path.isfile(path):
        with open(path) as handle:
            merged = json.load(handle)
    merged.update({key: value for key, value in SHIPPED_RESOURCES[site].items() if key not in merged})
    with open(path, "w") as handle:
        json.dump(merged, handle, indent=2)
    os.environ["RADICAL_CONFIG_USER_DIR"] = os.path.abspath(folder)
    return True


class PilotJob:
    """One pilot's batch job: its id, queue time and states, logged and recorded for ``rose show``.

    RP reports pilot states from its own threads; :meth:`state` is thread-safe.
    """

    def __init__(self, pilot_uid: str, resource: str, runtime_minutes: Any, sandbox: str | None = None) -> None:
        self.pilot = pilot_uid
        self.sandbox = sandbox.rstrip("/") if sandbox else None
        self.job_state: str | None = None  # the batch system's word for the job (PENDING, RUNNING, ...)
        self.allocation_started: float | None = None
        self.resource = resource
        self.runtime_minutes = runtime_minutes
        self.job_id: str | None = None
        self.submitted = time.time()
        self.started: float | None = None
        self.ended: float | None = None
        self.states: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._waiting = threading.Event()
        self._ticker: threading.Thread | None = None
        self._record()

    def state(self, state: str, job_id: str | None = None) -> None:
        """Note a pilot state (``PMGR_ACTIVE_PENDING`` starts the "still queued" lines)."""
        with self._lock:
            now = time.time()
            if job_id and not self.job_id:
                self.job_id = job_id
            self.states.append({"state": state, "time": now})
            if state == "PMGR_ACTIVE_PENDING" and self._ticker is None:
                self._ticker = threading.Thread(target=self._tick, name=f"rose-{self.pilot}-queued", daemon=True)
                self._ticker.start()
            elif state == "PMGR_ACTIVE":
                self.started = now
                self._waiting.set()
            elif state in ("DONE", "FAILED", "CANCELED"):
                self.ended = now
                self._waiting.set()
            self._record()

    @property
    def queued_seconds(self) -> float | None:
        """Seconds from submission until the allocation started (so far, while queued)."""
        end = self.allocation_started or self.started
        if end is not None:
            return end - self.submitted
        return None if self.ended is not None else time.time() - self.submitted

    def _queued(self) -> float | None:
        end = self.allocation_started or self.started
        return None if end is None else round(end - self.submitted, 3)

    def describe(self) -> str:
        """``pilot.0000 (batch job 12)`` or ``pilot.0000 (batch job id not known yet)``."""
        return f"{self.pilot} ({f'batch job {self.job_id}' if self.job_id else 'batch job id not known yet'})"

    def stop(self) -> None:
        """End the "still queued" lines."""
        self._waiting.set()

    def _tick(self) -> None:
        said = time.monotonic()
        while not self._waiting.wait(POLL_EVERY):
            self._look_up()
            if time.monotonic() - said < WAITING_EVERY:
                continue
            said = time.monotonic()
            waited = time.time() - self.submitted
            if self.job_state == "RUNNING":
                lifecycle.info("pilot %s: the allocation started %.0f s ago; the pilot agent is still starting",
                               self.describe(), time.time() - (self.allocation_started or time.time()))
            else:
                lifecycle.info("pilot %s: still queued on %s after %.0f s%s; tasks start when the allocation starts",
                               self.describe(), self.resource, waited,
                               f" (Slurm: {self.job_state})" if self.job_state else "")

    def _look_up(self) -> None:
        """Find the pilot's Slurm job (its working directory is the pilot sandbox) and its state."""
        if self.sandbox is None or shutil.which("squeue") is None:
            return
        try:
            done = subprocess.run(["squeue", "-h", "-o", "%i|%T|%Z"], capture_output=True, text=True, timeout=20,
                                  check=False)
        except (OSError, subprocess.SubprocessError):
            return
        for line in done.stdout.splitlines():
            job_id, _, rest = line.partition("|")
            state, _, workdir = rest.partition("|")
            if workdir.rstrip("/") != self.sandbox:
                continue
            with self._lock:
                changed = job_id != self.job_id or state != self.job_state
                self.job_id, self.job_state = job_id, state
                if state == "RUNNING" and self.allocation_started is None:
                    self.allocation_started = time.time()
                    lifecycle.info("pilot %s: its allocation started after %.0f s in the queue", self.describe(),
                                   self.allocation_started - self.submitted)
                if changed:
                    self.states.append({"state": f"slurm:{state}", "time": time.time()})
                    self._record()
            return

    def _record(self) -> None:
        write_batch_job({
            "kind": "pilot", "backend": "radical", "name": self.pilot, "resource": self.resource,
            "job_id": self.job_id, "submitted": self.submitted, "started": self.started, "ended": self.ended,
            "queued_seconds": self._queued(), "job_state": self.job_state,
            "allocation_started": self.allocation_started,
            "runtime_minutes": self.runtime_minutes, "states": list(self.states), "pid": os.getpid(),
        })
