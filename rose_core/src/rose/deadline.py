"""When a campaign must stop: the end of its batch allocation, or a deadline the user gives.

A campaign inside a Slurm job takes its deadline from the job (the end time of
``SLURM_JOB_ID``); ``rose run --deadline 23:30`` or ``start(deadline="2h")`` give one by hand
(the earlier of the two wins). Before each iteration, and before each new submission of a
steady-state learner, the campaign asks :meth:`Deadline.fits` whether the work still fits: the
time left against what the journal says such work takes (:class:`Durations`, a high quantile
of past durations) plus a margin to write and close. When it does not, the campaign stops with
stop reason ``deadline`` and nothing half done; ``rose run`` then exits with
:data:`DEADLINE_EXIT_CODE`, so a batch script knows to submit its successor.

Forms of a deadline (:func:`parse_deadline`):

* a duration from now: ``90s``, ``45m``, ``2h``, ``1h30m``, ``1d``, or ``+1:30:00`` (H:MM[:SS]);
* a clock time today: ``23:30``, ``23:30:15``;
* a date and time: ``2026-12-06T23:30`` (ISO 8601; local time unless it names a zone);
* a number: seconds since the epoch.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import logging
import math
import os
import re
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar

from attrs import frozen

from rose.errors import RoseError

__all__ = [
    "TERM_WINDOW",
    "DEADLINE_ENV",
    "DEADLINE_EXIT_CODE",
    "DEFAULT_MARGIN",
    "MARGIN_ENV",
    "Deadline",
    "DeadlineError",
    "DeadlineReached",
    "Durations",
    "campaign_deadline",
    "durations_from_summary",
    "forget_signals",
    "listen_for_warning",
    "parse_deadline",
    "slurm_deadline",
    "slurm_job_times",
    "note_termination",
    "stop_reason_for_termination",
    "stopped_at_deadline",
    "term_is_walltime",
    "warned",
    "within",
]

logger = logging.getLogger(__name__)

#: ``rose run``'s exit code when a campaign stopped at its deadline (EX_TEMPFAIL: "try again later")
DEADLINE_EXIT_CODE = 75
#: the environment variable ``rose run --deadline`` sets (seconds since the epoch; ``none``: no deadline
#: from the allocation either, the batch system ends the campaign with its SIGTERM)
DEADLINE_ENV = "ROSE_DEADLINE"
#: what ``--deadline`` / :data:`DEADLINE_ENV` take to switch planning against the allocation's end off
NO_DEADLINE = ("none", "off")
#: the environment variable of the margin kept to write the journal and close (seconds)
MARGIN_ENV = "ROSE_DEADLINE_MARGIN"
#: seconds kept, by default, between the end of the last piece of work and the deadline
DEFAULT_MARGIN = 5.0

_FORMS = ("a duration (90s, 45m, 2h, 1h30m, +1:30:00), a clock time today (23:30), "
          "a date and time (2026-12-06T23:30) or seconds since the epoch")
_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?[smhd])+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_HMS = re.compile(r"^(\d+):(\d{2})(?::(\d{2}))?$")
#: ``slurm_job_times`` answers by (job id, ``SLURM_CONF``)
_job_times: dict[tuple[str, str], tuple[float | None, float | None]] = {}


#: a SIGTERM this close to the deadline (seconds) is the allocation ending: stop reason ``deadline``
TERM_WINDOW = 60.0
_T = TypeVar("_T")


class DeadlineError(RoseError, ValueError):
    """A deadline that cannot be used: unreadable, in the past, or shorter than the work."""


class DeadlineReached(Exception):
    """Work was still running when the deadline's margin was reached: it was cancelled."""


@frozen(kw_only=True)
class Deadline:
    """The time a campaign must be done by.

    ``at`` is seconds since the epoch, ``source`` where it came from (``"slurm"`` or
    ``"user"``), ``job_id`` the batch job (if any) and ``margin`` the seconds kept to write
    the journal and close after the last piece of work.
    """

    at: float
    source: str
    job_id: str | None = None
    margin: float = DEFAULT_MARGIN

    def left(self, now: float | None = None) -> float:
        """Seconds until the deadline (negative once it has passed)."""
        return self.at - (time.time() if now is None else now)

    def fits(self, seconds: float | None, now: float | None = None) -> bool:
        """True when work expected to take ``seconds`` ends before the deadline, margin kept.

        Work of unknown length (``None``: nothing like it has run yet) fits while the margin
        has not been reached; the campaign's guard ends it at the margin if it runs too long.
        """
        return self.left(now) - self.margin >= (seconds or 0.0)

    def describe(self) -> str:
        """``23:30:00 (slurm job 1234)``: for log lines and messages."""
        clock = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.at))
        where = f"slurm job {self.job_id}" if self.job_id else self.source
        return f"{clock} ({where})"


class Durations:
    """How long past pieces of work took, and what the next one is expected to take.

    The expectation is a high quantile (``quantile``, by default the 90th percentile) of the
    last ``window`` durations: one slow iteration in ten is already planned for.
    """

    def __init__(self, quantile: float = 0.9, window: int = 50) -> None:
        if not 0.0 < quantile <= 1.0:
            raise ValueError(f"Durations: quantile must be in (0, 1], got {quantile!r}")
        self.quantile = quantile
        self._seconds: deque[float] = deque(maxlen=window)

    def add(self, seconds: float) -> None:
        """Record one duration (negative or non-finite values are ignored)."""
        if math.isfinite(seconds) and seconds >= 0:
            self._seconds.append(float(seconds))

    def __len__(self) -> int:
        return len(self._seconds)

    def expected(self) -> float | None:
        """The quantile of the recorded durations (nearest rank), or None before the first."""
        if not self._seconds:
            return None
        ordered = sorted(self._seconds)
        rank = max(1, math.ceil(self.quantile * len(ordered)))
        return ordered[rank - 1]

    def shortest(self) -> float | None:
        """The shortest recorded duration, or None before the first."""
        return min(self._seconds) if self._seconds else None


def parse_deadline(value: Any, *, now: float | None = None, what: str = "deadline") -> float:
    """Seconds since the epoch for ``value`` (a string in one of the forms above, a number,
    a ``datetime`` or a ``timedelta`` from now). A deadline in the past is an error."""
    now = time.time() if now is None else now
    at = _parse(value, now, what)
    if at <= now:
        shown = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))
        raise DeadlineError(
            f"{what} {value!r} is in the past ({shown}); give a later time, or a duration such as 2h"
        )
    return at


def _parse(value: Any, now: float, what: str) -> float:
    if isinstance(value, bool):
        raise DeadlineError(f"{what} {value!r} is not a time: give {_FORMS}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise DeadlineError(f"{what} {value!r} is not a finite number of seconds since the epoch")
        return float(value)
    if isinstance(value, _dt.timedelta):
        return now + value.total_seconds()
    if isinstance(value, _dt.datetime):
        return value.timestamp()
    if not isinstance(value, str) or not value.strip():
        raise DeadlineError(f"{what} {value!r} is not a time: give {_FORMS}")
    text = value.strip()
    if _DURATION.match(text):
        return now + sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text))
    if text.startswith("+") and _HMS.match(text[1:]):
        return now + _hms_seconds(text[1:])
    if _HMS.match(text):
        hours, minutes, seconds = (int(part or 0) for part in _HMS.match(text).groups())  # type: ignore[union-attr]
        if hours > 23 or minutes > 59 or seconds > 59:
            raise DeadlineError(f"{what} {value!r} is not a clock time; for a duration write +{text} or 2h")
        today = _dt.datetime.fromtimestamp(now)
        return today.replace(hour=hours, minute=minutes, second=seconds, microsecond=0).timestamp()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return _dt.datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise DeadlineError(f"{what} {value!r} is not a time: give {_FORMS}") from None


def _hms_seconds(text: str) -> float:
    hours, minutes, seconds = (int(part or 0) for part in _HMS.match(text).groups())  # type: ignore[union-attr]
    return hours * 3600.0 + minutes * 60.0 + seconds


def slurm_deadline(environ: Mapping[str, str] | None = None) -> Deadline | None:
    """The end of the Slurm job this process runs in, or None outside a job.

    ``SLURM_JOB_END_TIME`` where Slurm sets it (23.02 and later), else the end time that
    ``squeue -j $SLURM_JOB_ID -o %e`` reports. A job without a time limit has no deadline.
    """
    environ = os.environ if environ is None else environ
    job_id = environ.get("SLURM_JOB_ID")
    if not job_id:
        return None
    margin = _margin(environ)
    end = environ.get("SLURM_JOB_END_TIME")
    if end and end.strip().isdigit() and int(end) > 0:
        return Deadline(at=float(end), source="slurm", job_id=job_id, margin=margin)
    at = slurm_job_times(job_id, environ)[1]
    if at is None:
        logger.warning("running in Slurm job %s, but squeue gives no end time for it: no deadline from the allocation "
                       "(give one with rose run --deadline)", job_id)
        return None
    return Deadline(at=at, source="slurm", job_id=job_id, margin=margin)


def _margin(environ: Mapping[str, str]) -> float:
    text = environ.get(MARGIN_ENV)
    if not text:
        return DEFAULT_MARGIN
    try:
        margin = float(text)
    except ValueError:
        raise DeadlineError(f"{MARGIN_ENV}={text!r} is not a number of seconds (for example 10)") from None
    if not math.isfinite(margin) or margin < 0:
        raise DeadlineError(f"{MARGIN_ENV}={text!r} must be a number of seconds >= 0")
    return margin


def slurm_job_times(job_id: str, environ: Mapping[str, str] | None = None) -> tuple[float | None, float | None]:
    """``(start, end)`` of Slurm job ``job_id`` in unix seconds (``squeue -o "%S %e"``), ``None`` if unknown.

    Asked once per process, job and cluster (``SLURM_CONF``): the deadline of every learner and the
    journal's allocation record share one ``squeue``.
    """
    key = (str(job_id), (os.environ if environ is None else environ).get("SLURM_CONF", ""))
    if key not in _job_times:
        _job_times[key] = _ask_squeue(job_id, environ)
    return _job_times[key]


def _ask_squeue(job_id: str, environ: Mapping[str, str] | None) -> tuple[float | None, float | None]:
    try:
        done = subprocess.run(["squeue", "-h", "-j", str(job_id), "-o", "%S %e"], capture_output=True, text=True,
                              timeout=30, check=False, env=dict(environ) if environ is not None else None)
    except (OSError, subprocess.SubprocessError):
        return None, None
    words = done.stdout.split()
    if done.returncode != 0 or len(words) != 2:
        return None, None
    return _slurm_time(words[0]), _slurm_time(words[1])


def _slurm_time(text: str) -> float | None:
    """A Slurm timestamp (``2026-12-06T21:30:00``, local time) in unix seconds; ``None`` for N/A, Unknown."""
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", text):
        return None
    return _dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").timestamp()


def campaign_deadline(given: Any = None, environ: Mapping[str, str] | None = None) -> Deadline | None:
    """The deadline a campaign starting now keeps: the earliest of the one ``given`` to
    ``start(deadline=...)``, ``rose run --deadline`` (:data:`DEADLINE_ENV`) and the Slurm job's end.

    A :class:`Deadline` given (a parallel learner hands its own to its children) is kept as it is.
    """
    if isinstance(given, Deadline):
        return given
    environ = os.environ if environ is None else environ
    candidates: list[Deadline] = []
    margin = _margin(environ)
    job = environ.get("SLURM_JOB_ID") or None
    if given is not None:
        candidates.append(Deadline(at=parse_deadline(given), source="user", job_id=job, margin=margin))
    if environ.get(DEADLINE_ENV, "").strip().lower() in NO_DEADLINE:
        return candidates[0] if candidates else None
    if environ.get(DEADLINE_ENV):
        at = parse_deadline(environ[DEADLINE_ENV], what=f"rose run --deadline ({DEADLINE_ENV})")
        candidates.append(Deadline(at=at, source="user", job_id=job, margin=margin))
    allocation = slurm_deadline(environ)
    if allocation is not None:
        candidates.append(allocation)
    return min(candidates, key=lambda d: d.at) if candidates else None


# -- while a campaign runs --------------------------------------------------------------------
_warning = threading.Event()
#: campaign directories of this process whose top-level campaign stopped at its deadline (``rose run`` exits 75)
stopped_at_deadline: list[str] = []
_terminated = threading.Event()


def warn() -> None:
    """The allocation's warning signal arrived (Slurm's ``--signal=B:USR1@N``): campaigns stop
    at their next iteration boundary with reason ``deadline``; work in flight runs on until the
    deadline's margin (or, with no deadline known, until the SIGTERM that ends the allocation)."""
    if not _warning.is_set():
        logger.warning("warning signal received: the allocation ends soon; campaigns stop at their next iteration "
                       "with reason 'deadline' (resume them in the next allocation)")
    _warning.set()


def warned() -> bool:
    """True once the allocation's warning signal (SIGUSR1) arrived in this process."""
    return _warning.is_set()


def listen_for_warning() -> None:
    """Make SIGUSR1 call :func:`warn` (on the running event loop; a no-op outside the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, warn)
    except (NotImplementedError, RuntimeError, ValueError):  # pragma: no cover - no signals here
        pass


def forget_signals() -> None:
    """Forget the warning signal and SIGTERM received so far (a process that goes on to run
    other campaigns after a deadline stop, and tests)."""
    _warning.clear()
    _terminated.clear()


def note_termination() -> None:
    """SIGTERM arrived in this process (``rose.engine`` calls it before cancelling the campaign)."""
    _terminated.set()


def stop_reason_for_termination(deadline: Deadline | None, now: float | None = None) -> str:
    """The stop reason of a cancelled campaign: ``deadline`` when SIGTERM came as the allocation
    ends (its warning arrived, or the deadline is within :data:`TERM_WINDOW` seconds), else
    ``stopped`` (a person cancelled it, or the consumer stopped iterating)."""
    if not _terminated.is_set():
        return "stopped"
    if warned():
        return "deadline"
    if deadline is not None and term_is_walltime(time.time() if now is None else now, deadline.at, deadline.margin):
        return "deadline"
    return "stopped"


def term_is_walltime(received: float, end: float | None, margin: float = 0.0) -> bool:
    """Whether a SIGTERM received at ``received`` (epoch seconds) is the allocation ending at ``end``
    rather than a person (``scancel``): it came within :data:`TERM_WINDOW` seconds (or twice the
    deadline margin, if larger) of the end. The one rule ``rose run`` and the ``rose submit``
    chain both decide by."""
    return end is not None and end - received <= max(TERM_WINDOW, 2 * margin)


async def within(deadline: Deadline, work: Awaitable[_T]) -> _T:
    """Await ``work``; if it still runs when the deadline's margin is reached, cancel it and
    raise :class:`DeadlineReached` (its tasks are journaled as not done, and run again on resume)."""
    task = asyncio.ensure_future(work)
    try:
        left = deadline.left() - deadline.margin
        if left > 0:
            await asyncio.wait({task}, timeout=left)
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise DeadlineReached(f"work still running at {deadline.describe()} minus a margin of {deadline.margin:g} s")
        return task.result()
    finally:
        if not task.done():  # our own cancellation (SIGTERM, a break): take the work with us
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def durations_from_summary(records: Any, learner_id: Any = None) -> Durations:
    """How long each finished iteration of learner ``learner_id`` took, from its summary records
    (``rose.journal.read_summary``): the time from the start, resume or previous iteration."""
    durations = Durations()
    previous: float | None = None
    for record in records:
        if record.get("learner_id") != learner_id:
            continue
        kind, moment = record.get("type"), record.get("time")
        if not isinstance(moment, (int, float)):
            continue
        if kind in ("start", "resume"):
            previous = float(moment)
        elif kind == "iteration" and previous is not None:
            durations.add(float(moment) - previous)
            previous = float(moment)
    return durations

