"""``RadicalExecutionBackend``: rhapsody-py's RADICAL-Pilot backend, made safe for ROSE.

Same constructor as :class:`rhapsody.backends.RadicalExecutionBackend` (and as the one
the reference documents import from ``radical.asyncflow``): ``resources`` is the pilot
description (``resource``, ``runtime`` in minutes, ``cores``, ``gpus``, ``project``,
``queue``, ...), ``raptor_config`` enables Raptor (needed for function tasks). What this
subclass adds, each for a trap measured on this machine:

* **The pilot finds RADICAL-Pilot.** The pilot agent is started from the Python
  environment ``VIRTUAL_ENV`` names and needs its ``bin`` on ``PATH``; both are set from
  the running interpreter when missing.
* **cores are always set.** ``local.*`` resources default to this machine's core count
  (RP's own default for ``local.localhost`` describes a fake 8-core node).
* **An invalid task description fails that task, not the engine.** Every description is
  verified before submission (an unknown key raised inside asyncflow's loop shuts the
  whole engine down and leaves later tasks waiting forever); so is the fit of the
  request in the pilot (a task asking for more cores or GPUs than the pilot has would
  wait forever): it fails with :class:`~rose.errors.ResourceError`.
* **Function tasks without Raptor** run as executable tasks of
  :mod:`rose_plugin_radical.runner` in the pilot's Python: the function and its arguments
  go to a file in the session folder (which the compute nodes must see, as they see the
  campaign directory), the campaign script's directory is put on ``sys.path`` there, and
  the return value (or the exception) comes back the same way. With ``raptor_config``,
  RP's Raptor runs them instead.
* **Full stdout.** RP keeps only the last 1024 characters of a task's output; the backend
  reads the whole ``<task>.out`` from the task sandbox when it is reachable.
* **Sessions stay in the campaign directory**: RP's session folder goes to
  ``session_dir`` (``rose.engine`` passes ``<runs>/.radical``), and on ``local.*``
  resources so does the pilot sandbox, instead of the current directory and ``$HOME``.
* A failed pilot fails every later task at once, with the pilot sandbox to look at.
* **One submission per turn.** ROSE hands each task to :meth:`RadicalExecutionBackend.rose_start_task`;
  the tasks started in one turn of the event loop (a fan-out's whole width) reach RP in one
  ``submit_tasks`` call at the turn's end, not one call (about 2-3 ms of RP's time each) per task.
* **Callbacks on the event loop.** RP reports task states from its own threads; they are
  handed to asyncflow on the event loop's thread (thread-safe, and the engine wakes at
  once instead of on its next 1 s poll: ~1 s less per task).
* **No shell interprets arguments.** RP writes ``executable "arg" ...`` into a shell
  script, inside double quotes, so ``$(...)``, backticks and ``$HOME`` in an argument
  would run or expand. The backend hands RP the whole argv already quoted for the shell
  (single quotes), so the process receives exactly the argv the task returned.
* **A visible pilot.** Pilot states (submitted, queued with its batch job id, active,
  done or failed) are logged at INFO under ``rose.radical``: a pilot may wait hours in a
  batch queue.
* **Machines without a shared file system**: ``shared_filesystem=False`` runs each task
  in its RP sandbox, stages the files of its working directory in, and the files it
  created or changed back (one archive per task, unpacked into the working directory).
* Shutdown closes the session in a worker thread (about 15 s here) so the event loop stays
  responsive.
"""
# ruff: noqa: E402 - radical.utils warns at import unless its fork warning is silenced first

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import shlex
import sys
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from rose.engine import silence_radical_fork_warning

silence_radical_fork_warning()

import radical.pilot as rp
import radical.utils as ru
from rhapsody.backends.execution.radical_pilot import RadicalExecutionBackend as _RhapsodyRadical

from rose.engine import quiet_asyncflow_shutdown, script_directory
from rose.errors import ResourceError
from rose_plugin_radical.batch import PilotJob, use_shipped_resource
from rose_plugin_radical.leftovers import end_pilot_processes

__all__ = ["PilotLostError", "RadicalExecutionBackend", "create_backend", "prepare_environment"]

logger = logging.getLogger(__name__)
#: the pilot's lifecycle, for users (``rose run --log-level INFO`` shows it)
lifecycle = logging.getLogger("rose.lifecycle.radical")  # shown by `rose run` and the progress view

_SHORTENED = "[... CONTENT SHORTENED ...]"


def prepare_environment() -> None:
    """Let a pilot started from this process find this Python environment.

    RADICAL-Pilot starts the agent from ``$VIRTUAL_ENV`` (or Python as found on ``PATH``);
    a script run as ``.venv/bin/python`` has neither set. This sets both from
    ``sys.prefix`` when running inside a virtual environment.
    """
    if sys.prefix == sys.base_prefix:
        return
    if not os.environ.get("VIRTUAL_ENV") and not os.environ.get("CONDA_PREFIX"):
        os.environ["VIRTUAL_ENV"] = sys.prefix
        logger.info("RADICAL-Pilot: VIRTUAL_ENV set to %s", sys.prefix)
    venv_bin = os.path.join(sys.prefix, "bin")
    path = os.environ.get("PATH", "")
    if venv_bin not in path.split(os.pathsep):
        os.environ["PATH"] = venv_bin + (os.pathsep + path if path else "")
        logger.info("RADICAL-Pilot: %s put first on PATH", venv_bin)


class RadicalExecutionBackend(_RhapsodyRadical):  # type: ignore[misc]
    """RADICAL-Pilot backend; ``await RadicalExecutionBackend({"resource": ..., "runtime": ...})``.

    ``session_dir`` is where RP writes its session folder (default: ``$RADICAL_PILOT_BASE``
    or the current directory, as RP does).
    """

    def __init__(
        self,
        resources: dict[str, Any] | None = None,
        raptor_config: dict[str, Any] | None = None,
        name: str | None = "radical_pilot",
        *,
        session_dir: str | None = None,
        shared_filesystem: bool = True,
    ) -> None:
        pilot = dict(resources or {})
        pilot.setdefault("resource", "local.localhost")
        pilot.setdefault("runtime", 30)
        local = str(pilot["resource"]).startswith("local.")
        if local and "cores" not in pilot and "nodes" not in pilot:
            pilot["cores"] = os.cpu_count() or 1
        if local and "sandbox" not in pilot and session_dir is not None:
            pilot["sandbox"] = os.path.abspath(session_dir)
        super().__init__(pilot, raptor_config, name)
        self.session_dir = os.path.abspath(session_dir) if session_dir is not None else None
        self._function_files: dict[str, tuple[str, str]] = {}
        self._token = uuid.uuid4().hex[:8]
        self.shared_filesystem = bool(shared_filesystem)
        self._pilot_states_seen: dict[str, str] = {}
        self._closing = False
        self._staged: dict[str, tuple[str, str]] = {}  # uid -> (working directory, returned archive)
        self._finished: set[str] = set()  # uids of tasks whose final state reached asyncflow
        self._queued: dict[str, dict[str, Any]] = {}  # uid -> task started this turn, not yet sent to RP
        self._send_scheduled = False
        self.pilot_job: PilotJob | None = None

    async def _initialize(self) -> None:
        prepare_environment()
        cfg: dict[str, Any] = {}
        if self.session_dir is not None:
            os.makedirs(self.session_dir, exist_ok=True)
            cfg = {"base": self.session_dir}
        use_shipped_resource(str(self.resources["resource"]), self.session_dir or os.getcwd())
        self.tasks: dict[str, Any] = {}
        self.raptor_mode = False
        self._callback_func: Callable[..., Any] = _no_callback
        self._on_state: Callable[..., Any] = _no_callback  # every task state from RP (register_callback)
        self.session = rp.Session(uid=ru.generate_id("rose.session", mode=ru.ID_PRIVATE), cfg=cfg)
        try:
            self.task_manager = rp.TaskManager(self.session)
            self.pilot_manager = rp.PilotManager(self.session)
            self.resource_pilot = self.pilot_manager.submit_pilots(rp.PilotDescription(self.resources))
            self.pilot_job = PilotJob(self.resource_pilot.uid, str(self.resources["resource"]),
                                      self.resources.get("runtime"),
                                      urlparse(str(self.resource_pilot.pilot_sandbox)).path or None)
            _close_at_exit(self)
            self.pilot_manager.register_callback(self.handle_pilot_state_callback)
            self.pilot_manager.register_callback(self._log_pilot_state)
            self.task_manager.add_pilots(self.resource_pilot)
            if self.raptor_config:
                self.raptor_mode = True
                self.setup_raptor_mode(self.raptor_config)
        except BaseException:
            self.session.close(download=False)
            raise
        lifecycle.info(
            "RADICAL-Pilot session %s: pilot %s submitted to %s (%s cores, %s GPUs, %s min); session folder %s",
            self.session.uid, self.resource_pilot.uid, self.resources["resource"], self.resources.get("cores"),
            self.resources.get("gpus", 0), self.resources.get("runtime"), self.session.path,
        )

    def _log_pilot_state(self, pilot: Any, state: str) -> None:
        """Log a pilot state change at INFO, once per state (RP calls this from its own thread)."""
        uid = getattr(pilot, "uid", "pilot")
        if self._pilot_states_seen.get(uid) == state:
            return  # RP reports some states twice
        self._pilot_states_seen[uid] = state
        resource = self.resources.get("resource")
        if self.pilot_job is not None:
            self.pilot_job.state(state, _native_id(pilot))
        if state == rp.PMGR_LAUNCHING:
            lifecycle.info("pilot %s: submitting to %s", uid, resource)
        elif state == rp.PMGR_ACTIVE_PENDING:
            lifecycle.info("pilot %s: queued on %s (%s); waiting for the allocation to start",
                           uid, resource, _job_id(pilot))
        elif state == rp.PMGR_ACTIVE:
            queued = self.pilot_job.queued_seconds if self.pilot_job is not None else None
            lifecycle.info("pilot %s: active on %s after %s in the queue; tasks start now",
                           uid if self.pilot_job is None else self.pilot_job.describe(), resource,
                           "?" if queued is None else f"{queued:.0f} s")
        elif state == rp.DONE or (state == rp.CANCELED and self._closing):
            lifecycle.info("pilot %s: done", uid)
        elif state in (rp.FAILED, rp.CANCELED):
            lifecycle.warning("pilot %s: %s; see the pilot sandbox %s", uid, state.lower(),
                              getattr(pilot, "pilot_sandbox", "?"))

    # -- submission ---------------------------------------------------------------------
    def rose_start_task(self, task: dict[str, Any]) -> bool:
        """Take ``task`` from ROSE's submission (:func:`rose.engine.submit_task`), without an
        asyncio task around it: the tasks started in one turn of the event loop reach RP together,
        in one ``TaskManager.submit_tasks`` call at the turn's end (RP takes 2-3 ms per call,
        measured on a local pilot; a fan-out of 200 tasks made 200 calls before). Always True."""
        self.tasks[task["uid"]] = task
        self._queued[task["uid"]] = task
        if not self._send_scheduled:
            self._send_scheduled = True
            asyncio.get_running_loop().call_soon(self._send_queued)
        return True

    def _send_queued(self) -> None:
        """Submit the tasks started during the last turn (a submission RP refuses fails them all)."""
        self._send_scheduled = False
        queued, self._queued = list(self._queued.values()), {}
        try:
            self._submit(queued)
        except Exception as exc:  # noqa: BLE001 - RP refused the batch: each of its tasks fails, not the loop
            for task in queued:
                if str(task["uid"]) not in self._finished:
                    self._fail(task, exc)

    async def submit_tasks(self, tasks: list[dict[str, Any]]) -> Any:
        """Verify each task's description and fit, fail the bad ones, submit the rest."""
        return self._submit(tasks)

    def _submit(self, tasks: list[dict[str, Any]]) -> Any:
        ready = []
        for task in tasks:
            self.tasks[task["uid"]] = task
            try:
                description = self._checked_description(task)
            except Exception as exc:  # noqa: BLE001 - whatever it is fails this task, not the engine
                self._fail(task, exc)
                continue
            if description is not None:
                ready.append(description)
        if not ready:
            return []
        return self.task_manager.submit_tasks(ready)

    async def cancel_task(self, uid: str) -> bool:
        """Cancel task ``uid``: one still waiting for the turn's end is never sent to RP."""
        if self._queued.pop(uid, None) is not None:
            self.tasks.pop(uid, None)
            return True
        return bool(await super().cancel_task(uid))

    def _checked_description(self, task: dict[str, Any]) -> Any:
        name = str(task.get("name", task["uid"]))
        if getattr(self, "_pilot_lost", None):
            raise PilotLostError(f"task {name!r} cannot run: {self._pilot_lost}")
        if getattr(self, "_pilot_failed", False):
            raise RuntimeError(
                f"the RADICAL-Pilot pilot has failed, task {name!r} cannot run; see the pilot sandbox "
                f"{self.resource_pilot.pilot_sandbox} (bootstrap_0.out, agent_0.err)"
            )
        options = task.get("task_backend_specific_kwargs") or {}
        self._check_fit(name, options)
        source = task
        if task.get("function") and not self.raptor_mode:
            source = self._function_as_executable(task, name)
        options = dict(options)
        staged_cwd = None if self.shared_filesystem else _take_cwd(options)
        description = self.build_task(task["uid"], source, options)
        if description is None:  # pragma: no cover - build_task already reported the failure
            return None
        if staged_cwd is not None:
            self._stage(task["uid"], description, staged_cwd)
        if source.get("executable"):
            task = source
            # RP double-quotes each argument in its launch script ($, ` and \ stay live);
            # one single-quoted command line reaches the process as exactly this argv
            argv = [str(task["executable"]), *(str(a) for a in task.get("arguments") or ())]
            description.executable = shlex.join(argv)
            description.arguments = []
        try:
            description.verify()
        except Exception as exc:
            schema = sorted(rp.TaskDescription._schema)
            raise ValueError(
                f"task {name!r} has an invalid RADICAL-Pilot task description {dict(options)!r}: {exc}. "
                f"Per-task resources belong in resources={{'cores': ..., 'gpus': ..., 'ranks': ...}}; "
                f"a hand-written task_description may only use RP keys: {', '.join(schema)}"
            ) from exc
        return description

    def _function_as_executable(self, task: dict[str, Any], name: str) -> dict[str, Any]:
        """A copy of function ``task`` that runs it through :mod:`rose_plugin_radical.runner`."""
        import cloudpickle

        folder = os.path.join(self.session_dir or os.getcwd(), "functions")
        os.makedirs(folder, exist_ok=True)
        payload = os.path.join(folder, f"{self._token}-{task['uid']}.in")
        result = os.path.join(folder, f"{self._token}-{task['uid']}.out")
        qualname = getattr(task["function"], "__qualname__", name)
        label = name if qualname == name else f"{name} ({qualname})"
        try:
            data = cloudpickle.dumps((label, task["function"], tuple(task.get("args") or ()),
                                      dict(task.get("kwargs") or {})))
        except Exception as exc:
            raise TypeError(
                f"function task {label!r} cannot be sent to the pilot: {exc}. Its function and arguments must be "
                "picklable (plain data, arrays, file paths; no open files, locks or engines)"
            ) from exc
        with open(payload, "wb") as handle:
            handle.write(data)
        self._function_files[task["uid"]] = (payload, result)
        return {**task, "function": None, "executable": sys.executable,
                "arguments": ["-m", "rose_plugin_radical.runner", payload, result, script_directory() or ""]}

    def _stage(self, uid: str, description: Any, cwd: str) -> None:
        """No shared file system: copy ``cwd``'s files in, and what the task wrote back out.

        The task runs in its RP sandbox; every regular file at the top of ``cwd`` is staged
        in; after the command, the files it created or changed are packed into one archive
        (``tar``), staged back and unpacked into ``cwd`` when the task ends.
        """
        inputs = sorted(entry.name for entry in os.scandir(cwd) if entry.is_file() and not entry.name.startswith(
            ".rose-staged-"))
        description.input_staging = [
            {"source": f"file://localhost{os.path.join(cwd, name)}", "target": f"task:///{name}", "action": rp.TRANSFER}
            for name in inputs
        ]
        archive = f".rose-staged-{self._token}-{uid}.tgz"
        marker = ".rose-started"
        description.pre_exec = [f": > {marker}", *(description.pre_exec or [])]
        description.post_exec = [
            *(description.post_exec or []),
            f"find . -type f -newer {marker} ! -name {marker} ! -name {shlex.quote(uid)}'.*' ! -name '.rose-staged-*'"
            f" -print0 | tar --null -czf {archive} -T -",
        ]
        description.output_staging = [
            {"source": f"task:///{archive}", "target": f"file://localhost{os.path.join(cwd, archive)}", "action": rp.TRANSFER}
        ]
        self._staged[uid] = (cwd, os.path.join(cwd, archive))

    def _unstage(self, task: dict[str, Any]) -> None:
        """Unpack what a staged task wrote into its working directory."""
        staged = self._staged.pop(task["uid"], None)
        if staged is None:
            return
        import tarfile

        cwd, archive = staged
        try:
            with tarfile.open(archive) as packed:
                packed.extractall(cwd, filter="data")
        except (OSError, tarfile.TarError) as exc:
            logger.warning("task %s: the files it wrote could not be brought back to %s: %s",
                           task.get("name", task["uid"]), cwd, exc)
        finally:
            with contextlib.suppress(OSError):
                os.remove(archive)

    def _function_outcome(self, task: dict[str, Any], state: str) -> str:
        """Read back a runner's result into ``task``; the state asyncflow should see."""
        files = self._function_files.pop(task["uid"], None)
        if files is None or state not in (rp.DONE, rp.FAILED):
            if files is not None:
                self._function_files[task["uid"]] = files
            return state
        import pickle

        payload, result = files
        try:
            with open(result, "rb") as handle:
                record = pickle.load(handle)
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError) as exc:
            stderr = task.get("stderr") or ""
            task["exception"] = RuntimeError(
                f"function task {task.get('name', task['uid'])!r} ended without a result ({exc}); its runner's "
                f"stderr: {stderr[-2000:] or '(empty)'}"
            )
            state = rp.FAILED
        else:
            if record[0] == "ok":
                task["return_value"], state = record[1], rp.DONE
                task.pop("exception", None)
            else:
                task["exception"], task["stderr"], state = record[1], record[2], rp.FAILED
        for path in (payload, result):
            with contextlib.suppress(OSError):
                os.remove(path)
        return state

    def _check_fit(self, name: str, options: dict[str, Any]) -> None:
        ranks = int(options.get("ranks", 1) or 1)
        cores = ranks * int(options.get("cores_per_rank", 1) or 1)
        gpus = ranks * float(options.get("gpus_per_rank", 0) or 0)
        pilot_cores = self.resources.get("cores")
        pilot_gpus = self.resources.get("gpus", 0) or 0
        if "nodes" in self.resources:
            return  # node-based pilots: RP knows the node shape, we do not
        problems = []
        if pilot_cores is not None and cores > int(pilot_cores):
            problems.append(f"{cores} cores ({ranks} rank(s) x {cores // ranks}) but the pilot has {pilot_cores}")
        if gpus > float(pilot_gpus):
            problems.append(f"{gpus:g} GPUs but the pilot has {pilot_gpus}")
        if problems:
            request = {k: options[k] for k in ("ranks", "cores_per_rank", "gpus_per_rank") if k in options}
            raise ResourceError(
                name, request, "radical",
                "; ".join(problems) + " (raise cores=/gpus= of rose.engine('radical', ...) or ask for less)",
            )

    def handle_pilot_state_callback(self, pilot: Any, state: str) -> None:
        """A pilot that failed or was cancelled (scancel, walltime) fails every task in flight.

        RP leaves the tasks of a cancelled pilot in their last state forever, so without this
        a campaign would wait for them without end. Each task fails with
        :class:`PilotLostError` naming the pilot, its batch job and what happened; later
        submissions fail at once with the same message.
        """
        if state not in (rp.FAILED, rp.CANCELED) or self._closing or getattr(self, "_pilot_lost", None):
            return
        job = self.pilot_job.describe() if self.pilot_job is not None else getattr(pilot, "uid", "pilot")
        what = ("was cancelled: its batch job ended (scancel, walltime or preemption) before the campaign did"
                if state == rp.CANCELED else "failed")
        message = (f"the RADICAL-Pilot pilot {job} on {self.resources.get('resource')} {what}; the tasks in flight "
                   f"cannot finish. Resume the campaign (rose run --resume) in a new allocation; the pilot "
                   f"sandbox is {getattr(pilot, 'pilot_sandbox', '?')}")
        self._pilot_lost = message
        self._pilot_failed = True
        lifecycle.error("pilot %s", message)
        for uid, task in list(self.tasks.items()):
            if uid in self._finished:
                continue
            error = PilotLostError(f"task {task.get('name', uid)!r}: {message}")
            task.update({"exception": error, "stdout": "", "stderr": str(error), "exit_code": None})
            self._on_state(task, rp.FAILED)

    def _fail(self, task: dict[str, Any], error: BaseException) -> None:
        logger.error("task %s not submitted: %s", task.get("name", task["uid"]), error)
        task.update({"exception": error, "stdout": "", "stderr": str(error), "exit_code": None})
        self._on_state(task, rp.FAILED)

    # -- results ------------------------------------------------------------------------
    def register_callback(self, func: Any) -> None:
        """Register asyncflow's callback: run it on the event loop, with the full stdout.

        RP calls back from its own threads, for every state a task passes through (about ten
        from submission to the end); asyncflow acts on its running state and its ends only, and
        resolves asyncio futures, which is only safe (and only wakes the engine at once) on the
        loop's thread. So the other states stop here, on RP's thread, without waking the loop,
        and the rest is handed over to the loop and to ``self._callback_func``: ``func``, or what
        ROSE's engine puts in its place to settle its own tasks (``rose.engine``: the same
        outcome without asyncflow's argument checks per state).
        """
        loop = asyncio.get_running_loop()
        states = self.get_task_states_map()  # the mapper asyncflow reads them from: running, and the ends
        acted_on = frozenset((states.RUNNING, *states.terminal_states))

        def on_loop(task: Any, state: str, *args: Any, **kwargs: Any) -> None:
            if state not in acted_on and not args and not kwargs:
                return
            if isinstance(task, dict) and state in (rp.DONE, rp.FAILED, rp.CANCELED):
                self._finished.add(str(task.get("uid")))
            if isinstance(task, dict) and state in (rp.DONE, rp.FAILED):
                self._complete_stdout(task)
                self._unstage(task)
                state = self._function_outcome(task, state)
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                self._callback_func(task, state, *args, **kwargs)
            elif not loop.is_closed():
                loop.call_soon_threadsafe(functools.partial(self._hand_over, task, state, args, kwargs))

        super().register_callback(on_loop)
        self._on_state = on_loop
        self._callback_func = func

    def _hand_over(self, task: Any, state: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """(On the loop.) Hand one task state to ``self._callback_func`` as it is then (asyncflow's
        callback, or the engine's settlement once the engine has put it there)."""
        self._callback_func(task, state, *args, **kwargs)

    def _complete_stdout(self, task: dict[str, Any]) -> None:
        stdout = task.get("stdout")
        if not isinstance(stdout, str) or not stdout.startswith(_SHORTENED):
            return
        try:
            sandbox = urlparse(str(self.resource_pilot.pilot_sandbox)).path
            with open(os.path.join(sandbox, task["uid"], f"{task['uid']}.out"), errors="replace") as handle:
                task["stdout"] = handle.read()
        except OSError:
            logger.warning(
                "task %s: RADICAL-Pilot kept only the last 1024 characters of its output and the task "
                "sandbox is not reachable from here; write large results to a file", task["uid"],
            )

    # -- shutdown -----------------------------------------------------------------------
    async def shutdown(self) -> None:
        """Close the RP session (cancels tasks, stops the pilot) without blocking the loop."""
        session = getattr(self, "session", None)
        if session is None:
            return
        self._closing = True
        if self.pilot_job is not None:
            self.pilot_job.stop()
        logger.info("closing RADICAL-Pilot session %s", session.uid)
        await asyncio.to_thread(session.close, download=False)
        logger.info("RADICAL-Pilot session %s closed", session.uid)
        await asyncio.to_thread(self._end_local_leftovers)
        pilot = getattr(self, "resource_pilot", None)
        final = (rp.DONE, rp.CANCELED, rp.FAILED)
        if pilot is not None and self._pilot_states_seen.get(getattr(pilot, "uid", "pilot")) not in final:
            # RP may stop its callback thread before the pilot's last state reaches it: the
            # pilot ended with the session, so say so once (as the callback would have)
            state = getattr(pilot, "state", None)
            self._log_pilot_state(pilot, state if state in final else rp.CANCELED)


    def _end_local_leftovers(self) -> None:
        """End the processes a pilot on this machine (``local.*``) left running after its session closed."""
        job = self.pilot_job
        if job is not None and job.sandbox and job.resource.startswith("local."):
            end_pilot_processes(job.pilot, job.sandbox)


def _no_callback(task: Any, state: str) -> None:
    """The task callback until asyncflow registers its own."""


def _whole(option: str, value: Any, minimum: int) -> int:
    """``value`` as an int >= ``minimum`` (strings from the command line accepted), else an error."""
    if isinstance(value, bool):
        value = None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise TypeError(f"radical backend: {option} must be a whole number >= {minimum}, got {value!r}") from None
    if number < minimum:
        raise ValueError(f"radical backend: {option} must be >= {minimum}, got {value!r}")
    return number


def _take_cwd(options: dict[str, Any]) -> str | None:
    """Remove the ``cd <cwd>`` the translator put first in ``pre_exec``; return that cwd."""
    pre_exec = list(options.get("pre_exec") or [])
    if not pre_exec:
        return None
    try:
        words = shlex.split(str(pre_exec[0]))
    except ValueError:
        return None
    if len(words) != 2 or words[0] != "cd":
        return None
    options["pre_exec"] = pre_exec[1:]
    if not options["pre_exec"]:
        del options["pre_exec"]
    return words[1]


def _close_at_exit(backend: RadicalExecutionBackend) -> None:
    """Close ``backend``'s session when the process exits without a shutdown (a script cancelled by
    SIGTERM never reaches its ``engine.shutdown()``): its pilot's batch job must not outlive it."""
    import atexit
    import weakref

    ref = weakref.ref(backend)

    def close() -> None:
        alive = ref()
        session = getattr(alive, "session", None)
        if alive is None or session is None or alive._closing or getattr(session, "closed", False):
            return
        alive._closing = True
        lifecycle.info("closing the RADICAL-Pilot session %s at exit: its pilot's batch job is cancelled", session.uid)
        with contextlib.suppress(Exception):
            session.close(download=False)
        with contextlib.suppress(Exception):
            alive._end_local_leftovers()

    atexit.register(close)


class PilotLostError(RuntimeError):
    """The pilot ended (cancelled, failed, walltime) while tasks needed it."""


def _native_id(pilot: Any) -> str | None:
    """The batch system's id of ``pilot``'s job, when RP knows it."""
    text = _job_id(pilot)
    return text.removeprefix("batch job ") if text.startswith("batch job ") else None


def _job_id(pilot: Any) -> str:
    """The batch system's job id of ``pilot`` as far as RP tells it, else its job manager URL."""
    try:
        details = pilot.as_dict()
    except Exception:  # noqa: BLE001 - only for a log line
        return "unknown"
    for key in ("native_id", "job_id", "jobid"):
        value = details.get(key) or (details.get("resource_details") or {}).get(key)
        if value:
            return f"batch job {value}"
    url = str(details.get("js_url") or "")
    return f"job manager {url}" if url else "batch job id not reported"


async def create_backend(
    resource: str = "local.localhost",
    runtime: int = 30,
    cores: int | None = None,
    gpus: int = 0,
    project: str | None = None,
    queue: str | None = None,
    session_dir: str | None = None,
    raptor_config: dict[str, Any] | None = None,
    shared_filesystem: bool = True,
    **pilot_options: Any,
) -> RadicalExecutionBackend:
    """The ``radical`` backend for ``rose.engine("radical", resource=..., runtime=..., cores=...)``.

    ``runtime`` is the pilot's wall time in minutes; ``cores``/``gpus`` its size (``cores``
    defaults to this machine's core count on ``local.*`` resources); ``project`` and
    ``queue`` the allocation and batch queue; ``pilot_options`` any other RP
    PilotDescription key (``nodes``, ``access_schema``, ``sandbox``, ...).
    ``shared_filesystem=False`` is for machines whose compute nodes do not see the
    campaign directory: tasks then run in their RP sandboxes, with the files of their
    working directory staged in and the files they write staged back.

    Options may arrive as strings (``rose run --backend-option runtime=60``); they are
    checked here, and an unknown pilot option is an error listing the valid ones.
    """
    runtime = _whole("runtime", runtime, 1)
    cores = None if cores is None else _whole("cores", cores, 1)
    gpus = _whole("gpus", gpus, 0)
    if not isinstance(shared_filesystem, bool):
        raise TypeError(f"radical backend: shared_filesystem must be true or false, got {shared_filesystem!r}")
    if not isinstance(resource, str) or not resource:
        raise TypeError(f"radical backend: resource must be a resource label like 'local.localhost', got {resource!r}")
    unknown = sorted(set(pilot_options) - set(rp.PilotDescription._schema))
    if unknown:
        raise TypeError(
            f"radical backend: unknown option(s) {unknown}; rose.engine('radical', ...) takes resource, runtime, "
            "cores, gpus, project, queue, session_dir, raptor_config, shared_filesystem and any RADICAL-Pilot "
            f"PilotDescription key: {', '.join(sorted(rp.PilotDescription._schema))}"
        )
    pilot: dict[str, Any] = {"resource": resource, "runtime": runtime, **pilot_options}
    if cores is not None:
        pilot["cores"] = cores
    if gpus:
        pilot["gpus"] = gpus
    if project is not None:
        pilot["project"] = project
    if queue is not None:
        pilot["queue"] = queue
    quiet_asyncflow_shutdown()
    if session_dir is None:
        from rose.engine import runs_root

        session_dir = os.path.join(runs_root(), ".radical")
    backend = RadicalExecutionBackend(pilot, raptor_config, session_dir=session_dir,
                                      shared_filesystem=shared_filesystem)
    await backend
    return backend
