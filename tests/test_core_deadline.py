"""Deadlines: the forms users write, the Slurm job's end, and whether the next piece of work fits."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from rose.deadline import (
    DEADLINE_ENV,
    MARGIN_ENV,
    Deadline,
    DeadlineError,
    Durations,
    campaign_deadline,
    parse_deadline,
    slurm_deadline,
)

NOW = dt.datetime(2026, 12, 6, 12, 0, 0).timestamp()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("45m", 2700), ("2h", 7200), ("1h30m", 5400), ("1d", 86400), ("+1:30:00", 5400), ("+0:05", 300)],
)
def test_durations_count_from_now(text: str, seconds: float) -> None:
    assert parse_deadline(text, now=NOW) == NOW + seconds


def test_clock_times_and_dates() -> None:
    assert parse_deadline("23:30", now=NOW) == dt.datetime(2026, 12, 6, 23, 30).timestamp()
    assert parse_deadline("13:00:15", now=NOW) == dt.datetime(2026, 12, 6, 13, 0, 15).timestamp()
    assert parse_deadline("2026-12-07T01:00", now=NOW) == dt.datetime(2026, 12, 7, 1, 0).timestamp()
    assert parse_deadline(NOW + 10, now=NOW) == NOW + 10
    assert parse_deadline(dt.timedelta(minutes=1), now=NOW) == NOW + 60


@pytest.mark.parametrize("text", ["11:00", "2026-12-05T10:00", str(NOW - 1)])
def test_a_deadline_in_the_past_is_an_error_naming_the_value(text: str) -> None:
    with pytest.raises(DeadlineError, match="in the past") as info:
        parse_deadline(text, now=NOW)
    assert text in str(info.value)


@pytest.mark.parametrize("text", ["soon", "25:00", "1x", "", True, None])
def test_unreadable_deadlines_list_the_forms(text: object) -> None:
    with pytest.raises(DeadlineError, match="duration"):
        parse_deadline(text, now=NOW)


def test_fits_keeps_the_margin() -> None:
    deadline = Deadline(at=NOW + 60, source="user", margin=5)
    assert deadline.fits(55, now=NOW)
    assert not deadline.fits(55.5, now=NOW)
    assert deadline.fits(None, now=NOW)          # nothing known yet: runs, the guard ends it at the margin
    assert not deadline.fits(None, now=NOW + 56)


def test_durations_expect_a_high_quantile() -> None:
    durations = Durations(quantile=0.9)
    assert durations.expected() is None
    for seconds in [10, 11, 12, 10, 13, 10, 11, 30, 10, 12]:
        durations.add(seconds)
    assert durations.expected() == 13          # the 9th of 10, one slow outlier in ten tolerated
    durations.add(float("nan"))
    assert len(durations) == 10
    assert durations.shortest() == 10


def test_slurm_end_time_from_the_environment_variable() -> None:
    env = {"SLURM_JOB_ID": "42", "SLURM_JOB_END_TIME": str(int(NOW + 600))}
    deadline = slurm_deadline(env)
    assert deadline == Deadline(at=NOW + 600, source="slurm", job_id="42")
    assert slurm_deadline({}) is None


def test_the_earliest_deadline_wins_and_the_margin_is_read_from_the_environment() -> None:
    soon = time.time() + 600
    env = {DEADLINE_ENV: str(soon), MARGIN_ENV: "12", "SLURM_JOB_ID": "7", "SLURM_JOB_END_TIME": str(int(soon + 60))}
    deadline = campaign_deadline("2h", env)
    assert deadline is not None
    assert (deadline.at, deadline.source, deadline.job_id, deadline.margin) == (soon, "user", "7", 12.0)
    assert campaign_deadline(None, {}) is None
    assert campaign_deadline(None, {**env, DEADLINE_ENV: "none"}) is None      # not even the allocation's end
    with pytest.raises(DeadlineError, match="ROSE_DEADLINE_MARGIN"):
        campaign_deadline(None, {MARGIN_ENV: "ten"})


async def test_within_cancels_work_still_running_at_the_margin() -> None:
    import asyncio

    from rose.deadline import DeadlineReached, within

    cancelled = []

    async def slow() -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return "late"

    deadline = Deadline(at=time.time() + 0.4, source="user", margin=0.2)
    started = time.monotonic()
    with pytest.raises(DeadlineReached):
        await within(deadline, slow())
    assert cancelled == [True]
    assert 0.1 < time.monotonic() - started < 5
    assert await within(Deadline(at=time.time() + 60, source="user", margin=1), asyncio.sleep(0, "ok")) == "ok"


def test_sigterm_near_the_deadline_is_the_allocation_ending() -> None:
    from rose.deadline import forget_signals, note_termination, stop_reason_for_termination

    deadline = Deadline(at=NOW + 30, source="slurm", job_id="9", margin=5)
    assert stop_reason_for_termination(deadline, now=NOW) == "stopped"   # cancelled, but no SIGTERM came
    note_termination()
    try:
        assert stop_reason_for_termination(deadline, now=NOW) == "deadline"
        assert stop_reason_for_termination(deadline, now=NOW - 3600) == "stopped"   # a person cancelled it
        assert stop_reason_for_termination(None, now=NOW) == "stopped"
    finally:
        forget_signals()


def test_rose_run_and_the_submit_chain_tell_walltime_from_scancel_by_one_rule() -> None:
    """A SIGTERM within TERM_WINDOW of the job's end is the walltime (the chain continues), earlier is a
    person (the chain stops); a deadline margin larger than half the window widens it."""
    from rose.deadline import TERM_WINDOW, term_is_walltime

    end = NOW + 3600
    assert term_is_walltime(end - TERM_WINDOW + 1, end)
    assert term_is_walltime(end + 5, end)                     # Slurm signals a little after the limit
    assert not term_is_walltime(end - TERM_WINDOW - 1, end)   # scancel a minute and more before the end
    assert not term_is_walltime(end - 100, None)              # no known end: a person
    assert term_is_walltime(end - 100, end, margin=60)        # 2 x margin beats the window


def test_iteration_durations_from_the_summary() -> None:
    from rose.deadline import durations_from_summary

    records = [
        {"type": "start", "time": 100.0, "learner_id": None},
        {"type": "iteration", "time": 110.0, "learner_id": None},
        {"type": "iteration", "time": 125.0, "learner_id": None},
        {"type": "iteration", "time": 1.0, "learner_id": 3},
        {"type": "resume", "time": 500.0, "learner_id": None},
        {"type": "iteration", "time": 512.0, "learner_id": None},
    ]
    durations = durations_from_summary(records)
    assert len(durations) == 3
    assert durations.expected() == 15.0
    assert durations.shortest() == 10.0
