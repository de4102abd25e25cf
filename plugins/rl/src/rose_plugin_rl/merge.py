"""Merging the experience banks written by parallel environment tasks.

Layout of a ParallelExperience working directory::

    <work_dir>/experience_bank_<env name>.npz   written by environment task <env name>
    <work_dir>/experience_bank_<anything>.npz   also merged (e.g. ExperienceBank().save())
    <work_dir>/experience_bank.npz              the merged bank the update task reads

:func:`merge_banks` loads the previous merged bank and every environment bank, appends
them (previous experience first, then the environments in registration order, then other
bank files by name), keeps the newest ``max_size`` experiences, writes the merged bank
atomically (temporary file, then ``os.replace``) and only then deletes the environment
banks it merged. A missing or corrupt bank raises an error naming its path; nothing is
deleted and the previous merged bank is left as it was.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Sequence
from typing import Any

from attrs import asdict, define, field

from rose_plugin_rl.errors import MissingBankError
from rose_plugin_rl.experience import BANK_PREFIX, BANK_SUFFIX, ExperienceBank

__all__ = ["MERGED_BANK_NAME", "MergeReport", "bank_file_for", "find_bank_files", "merge_banks"]

logger = logging.getLogger(__name__)

MERGED_BANK_NAME = "experience_bank.npz"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@define(kw_only=True)
class MergeReport:
    """What one merge did: the merged bank's path and size, and what each source added."""

    path: str
    total: int
    new: int
    previous: int
    dropped: int
    by_source: dict[str, int] = field(factory=dict)
    files: list[str] = field(factory=list)


def bank_file_for(work_dir: str, env_name: str) -> str:
    """The bank file environment task ``env_name`` is expected to write (``$ROSE_BANK_FILE``)."""
    safe = _UNSAFE.sub("_", env_name).strip("._") or "env"
    return os.path.join(work_dir, f"{BANK_PREFIX}{safe}{BANK_SUFFIX}")


def find_bank_files(work_dir: str) -> list[str]:
    """Every ``experience_bank_*.npz`` file in ``work_dir`` (sorted; the merged bank excluded)."""
    try:
        names = os.listdir(work_dir)
    except FileNotFoundError:
        return []
    return sorted(
        os.path.join(work_dir, n)
        for n in names
        if n.startswith(BANK_PREFIX) and n.endswith(BANK_SUFFIX) and os.path.isfile(os.path.join(work_dir, n))
    )


def merge_banks(
    work_dir: str,
    env_names: Sequence[str] = (),
    *,
    max_size: int | None = None,
    merged_name: str = MERGED_BANK_NAME,
    tag: str | None = None,
    record_dir: str | None = None,
) -> MergeReport:
    """Merge the environment banks in ``work_dir`` into ``<work_dir>/<merged_name>``.

    Every environment in ``env_names`` must have written a bank: its own
    ``experience_bank_<name>.npz`` or, for scripts that choose their own names, at least
    as many other ``experience_bank_*.npz`` files as environments without their own.
    Raises :class:`MissingBankError` otherwise and :class:`CorruptBankError` for an
    unreadable bank, before anything is written or deleted.

    With a ``tag`` (ParallelExperience passes the iteration) the merge happens at most once
    per tag, even if the process is killed at any moment of it and the merge is called again:
    the new bank is written under a temporary name, then the merge's report is recorded in
    ``<record_dir>/<tag>.json`` (default ``<work_dir>/merges``), then the bank takes its place,
    then the sources are deleted; a repeated call finishes whatever step was cut off and
    returns the recorded report.
    """
    work_dir = os.path.abspath(work_dir)
    records = record_dir or os.path.join(work_dir, "merges")
    if tag is not None:
        done = _finish_recorded_merge(work_dir, merged_name, tag, records)
        if done is not None:
            return done
    files = find_bank_files(work_dir)
    expected = {name: bank_file_for(work_dir, name) for name in env_names}
    own = {path: name for name, path in expected.items() if path in files}
    others = [path for path in files if path not in own]
    missing = [name for name, path in expected.items() if path not in own]
    if not files:
        listing = ", ".join(f"{n!r} -> {p}" for n, p in expected.items()) or "(none registered)"
        raise MissingBankError(
            f"no experience bank was written in {work_dir}: each environment task must save its "
            f"experience there, e.g. `bank.save()` in the task (it writes $ROSE_BANK_FILE). "
            f"Expected: {listing}",
            work_dir,
        )
    if missing and len(others) < len(missing):
        listing = ", ".join(f"{n!r} -> {expected[n]}" for n in missing)
        raise MissingBankError(
            f"environment task(s) {missing} wrote no experience bank in {work_dir} (expected {listing}); "
            f"the task must call bank.save() (which writes $ROSE_BANK_FILE) before it exits",
            expected[missing[0]],
        )
    merged_path = os.path.join(work_dir, merged_name)
    merged = ExperienceBank(max_size=max_size, session_id=os.path.splitext(merged_name)[0])
    previous = 0
    if os.path.exists(merged_path):
        earlier = ExperienceBank.load(merged_path)
        previous = len(earlier)
        merged.merge_inplace(earlier)
    ordered = [expected[name] for name in env_names if expected[name] in own] + others
    by_source: dict[str, int] = {}
    new = 0
    for path in ordered:
        bank = ExperienceBank.load(path)
        label = own.get(path) or os.path.basename(path)
        by_source[label] = by_source.get(label, 0) + len(bank)
        new += len(bank)
        merged.merge_inplace(bank)
    dropped = previous + new - len(merged)
    report = MergeReport(path=merged_path, total=len(merged), new=new, previous=previous, dropped=dropped,
                         by_source=by_source, files=ordered)
    if tag is None:
        merged.save(work_dir, merged_name)
    else:
        pending = f"{merged_name}.{_tag_name(tag)}.pending.npz"
        merged.save(work_dir, pending)
        _write_json(_record_path(records, tag), {**asdict(report), "pending": pending})
        os.replace(os.path.join(work_dir, pending), merged_path)
    _remove(ordered)
    logger.debug("merged %d new experiences from %d bank(s) into %s (%d total, %d dropped by the cap)",
                 new, len(ordered), merged_path, len(merged), dropped)
    return report


def _tag_name(tag: str) -> str:
    return _UNSAFE.sub("_", str(tag)).strip("._") or "tag"


def _record_path(record_dir: str, tag: str) -> str:
    return os.path.join(record_dir, f"{_tag_name(tag)}.json")


def _write_json(path: str, data: dict[str, Any]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".part", "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    os.replace(path + ".part", path)


def _remove(paths: Sequence[str]) -> None:
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:  # already removed by an earlier, interrupted run of this merge
            pass


def _finish_recorded_merge(work_dir: str, merged_name: str, tag: str, record_dir: str) -> MergeReport | None:
    """The report of the merge tagged ``tag`` if it already happened (finishing its last steps)."""
    path = _record_path(record_dir, tag)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    pending = os.path.join(work_dir, data.pop("pending"))
    if os.path.exists(pending):
        os.replace(pending, os.path.join(work_dir, merged_name))
    report = MergeReport(**data)
    _remove(report.files)
    logger.info("experience of %s was already merged into %s; not merging it again", tag, report.path)
    return report
