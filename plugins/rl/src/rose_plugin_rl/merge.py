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

import logging
import os
import re
from collections.abc import Sequence

from attrs import define, field

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
) -> MergeReport:
    """Merge the environment banks in ``work_dir`` into ``<work_dir>/<merged_name>``.

    Every environment in ``env_names`` must have written a bank: its own
    ``experience_bank_<name>.npz`` or, for scripts that choose their own names, at least
    as many other ``experience_bank_*.npz`` files as environments without their own.
    Raises :class:`MissingBankError` otherwise and :class:`CorruptBankError` for an
    unreadable bank, before anything is written or deleted.
    """
    work_dir = os.path.abspath(work_dir)
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
    merged.save(work_dir, merged_name)
    for path in ordered:
        try:
            os.unlink(path)
        except FileNotFoundError:  # pragma: no cover - removed by someone else meanwhile
            pass
    dropped = previous + new - len(merged)
    logger.debug("merged %d new experiences from %d bank(s) into %s (%d total, %d dropped by the cap)",
                 new, len(ordered), merged_path, len(merged), dropped)
    return MergeReport(path=merged_path, total=len(merged), new=new, previous=previous, dropped=dropped,
                       by_source=by_source, files=ordered)
