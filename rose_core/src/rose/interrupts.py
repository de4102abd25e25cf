"""How a campaign stopped by SIGTERM or SIGHUP ends its program: one line and the signal's exit status.

:mod:`rose.engine` turns SIGTERM (a batch system's preemption) and SIGHUP (a closed terminal)
into cancelling the program's main task, so the campaign stops cleanly: running tasks are
cancelled, the stop is journaled, trackers hear ``stopped``. Left alone, that cancellation
would leave ``asyncio.run(main())`` as a ``CancelledError`` traceback with exit status 1.
Instead, the top-level campaign (and ``async with rose.engine(...)``) turn it into
:class:`StoppedBySignal`, a ``SystemExit`` with status ``128 + signal number`` (143 for
SIGTERM, as a shell reports a process the signal ended), after one log line naming the
campaign to resume. ``finally`` blocks and ``async with`` exits of the script still run.
"""

from __future__ import annotations

import asyncio
import logging
import signal

__all__ = ["SAID_BY_CALLER", "SIGNALS", "StoppedBySignal", "exit_for_signal", "signal_of"]

logger = logging.getLogger("rose.campaign")

#: the attribute marking the "stopped by SIGTERM" log record (a caller that reports the stop itself drops it)
SAID_BY_CALLER = "rose_signal_stop"
#: the signals rose.engine turns into a clean stop, by the name it cancels the main task with
SIGNALS = {"SIGTERM": signal.SIGTERM, "SIGHUP": signal.SIGHUP}


class StoppedBySignal(SystemExit):
    """The program ends because of ``signal_name``, its campaign stopped cleanly (exit status 128 + signal)."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(128 + int(SIGNALS[signal_name]))
        self.signal_name = signal_name


def signal_of(exc: BaseException | None) -> str | None:
    """``"SIGTERM"`` or ``"SIGHUP"`` when ``exc`` is the cancellation rose.engine made for that signal."""
    if isinstance(exc, asyncio.CancelledError) and exc.args and exc.args[0] in SIGNALS:
        return str(exc.args[0])
    return None


def exit_for_signal(exc: BaseException | None, run_dir: str | None = None) -> StoppedBySignal | None:
    """The :class:`StoppedBySignal` to raise instead of ``exc`` (None when ``exc`` is something else).

    Logs one line saying so, naming ``run_dir`` (the campaign to resume) when given.
    """
    name = signal_of(exc)
    if name is None:
        return None
    mark = {SAID_BY_CALLER: True}  # `rose run` says it in its own words
    if run_dir is not None:
        logger.warning("stopped by %s: the campaign recorded its stop; continue it with start(resume=%r) "
                       "or rose run --resume %s", name, run_dir, run_dir, extra=mark)
    else:
        logger.warning("stopped by %s", name, extra=mark)
    return StoppedBySignal(name)
