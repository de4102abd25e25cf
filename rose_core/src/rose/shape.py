"""The shape of a parallel campaign on resume: the same children, or a clear error.

A parallel campaign (:mod:`rose.fanout`) keeps each child in ``<run_dir>/<prefix>-<id>``.
Resumed with fewer children, the missing ones would stay unfinished; with more, the new ones
would start from iteration 0 beside children that have already run. Neither is what a
resume means, so :func:`check_shape` refuses both before anything is written, naming the
difference and the way out.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from rose.errors import RoseError
from rose.journal import JOURNAL_NAME

__all__ = ["CampaignShapeError", "check_shape", "recorded_children"]


class CampaignShapeError(RoseError):
    """A parallel campaign resumed with other children than it has."""


def recorded_children(run_dir: str, prefix: str) -> list[str]:
    """The child directories (``<prefix>-<id>``) of ``run_dir`` that hold a journal, sorted."""
    try:
        entries = list(os.scandir(run_dir))
    except OSError:
        return []
    return sorted(
        entry.name for entry in entries
        if entry.is_dir() and entry.name.startswith(f"{prefix}-") and os.path.isfile(os.path.join(entry.path, JOURNAL_NAME))
    )


def check_shape(run_dir: str, children: Sequence[str], *, prefix: str = "learner", what: str = "learner") -> None:
    """Raise :class:`CampaignShapeError` unless resuming ``run_dir`` with the child directories
    ``children`` (``<prefix>-<id>`` names) continues exactly the children it has.

    The campaign's children are those its start record counts (``parallel_count``) and those
    with a journal of their own in ``run_dir``.
    """
    from rose.resume_choice import first_record

    try:
        manifest = first_record(os.path.join(run_dir, JOURNAL_NAME)).get("manifest") or {}
    except OSError:
        manifest = {}
    had = recorded_children(run_dir, prefix)
    count = manifest.get("parallel_count")
    count = count if isinstance(count, int) and not isinstance(count, bool) and count >= len(had) else len(had)
    wanted = list(children)
    if count == 0:
        return  # killed before its start record and before any child journal: nothing has run yet
    left = [name for name in had if name not in wanted]
    if not left and count == len(wanted):
        return
    if left:
        consequence = f"{', '.join(left)} would be left unfinished"
    else:
        fresh = [name for name in wanted if name not in had]
        consequence = (f"{', '.join(fresh) or 'the extra ' + what + 's'} would start from iteration 0 beside "
                       f"{what}s that have already run")
    listed = f" ({', '.join(had)})" if had else ""
    raise CampaignShapeError(
        f"cannot resume {run_dir}: it is a campaign of {count} {what}s{listed}, and this start asks for "
        f"{len(wanted)}: {consequence}. Resume it with the same {count} {what}s, or start a new campaign "
        f"(without resume, or with another run_dir)."
    )
