"""Opening a learner's campaign: a new :class:`~rose.campaign.Campaign`, its directory, its resume.

:meth:`Learner.launch <rose.learner.Learner.launch>` calls :func:`open_campaign`; the
fan-out (:mod:`rose.fanout`) uses :func:`begin_campaign` and :func:`prepare_resume` for a
parallel parent. Everything here happens before the first task runs.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from rose import overrides, private
from rose.campaign import Campaign, CampaignStream
from rose.errors import JournalError
from rose.journal_read import JOURNAL_NAME, SUMMARY_NAME, read_journal, read_summary
from rose.loop import check_resumable, run_iterations
from rose.manifest import build_manifest
from rose.options import check_same_options
from rose.processes import reap_leftovers
from rose.resume import ResumePoint, load_resume_point
from rose.steps import Plan

if TYPE_CHECKING:
    from rose.learner import Learner

__all__ = ["begin_campaign", "check_resources", "open_campaign", "open_direct_campaign", "place_tasks", "prepare_resume",
           "resume_dir"]


def open_campaign(learner: Learner, plan: Plan) -> CampaignStream:
    """Open the journal and trackers of ``learner``'s campaign for ``plan``; the stream of its states."""
    campaign = begin_campaign(learner, plan)
    point = prepare_resume(learner, campaign)
    check_resources(learner)  # before the directory exists: a refused start leaves nothing behind
    place_tasks(learner)
    manifest = build_manifest(learner, learner.run_dir, max_iter=campaign.max_iter, **learner.manifest_extra(plan))
    campaign.open(manifest)  # the lock first: a second resume of a running campaign is refused here, harming nothing
    if point is not None:
        reap_leftovers(point.processes, campaign.journal)
    return CampaignStream(run_iterations(learner, plan, campaign), campaign.abandon,
                          exit_on_signal=learner.run_dir if learner.learner_id is None else None)


def begin_campaign(learner: Learner, plan: Plan) -> Campaign:
    """A new :class:`Campaign` of ``learner``; resets what the last one left (stop request, history)."""
    if learner.campaign is not None and not learner.campaign.lock:
        learner.campaign.end("stopped")  # tasks called directly before (a custom loop, rose.direct): their record ends
        learner.campaign.finish_now(None, "stopped")
    if learner.campaign is not None and learner.campaign.lock and learner._own_run_dir and plan.resume is None:
        learner._run_dir = None  # a second start() of the same object gets its own directory
    learner._stop_requested = False
    learner.reset_history()  # a resume restores it from the journal
    learner.campaign = Campaign(learner, plan)
    return learner.campaign


def open_direct_campaign(learner: Learner) -> Campaign:
    """The campaign journaling the tasks a custom loop calls directly (:mod:`rose.direct`): no lock,
    no resume, tasks run where they run (no working directory is imposed)."""
    os.makedirs(learner.run_dir, exist_ok=True)
    campaign = Campaign(learner, Plan(), lock=False)
    campaign.open(build_manifest(learner, learner.run_dir, extra={"direct_calls": True}))
    learner.campaign = campaign
    return campaign


def prepare_resume(learner: Learner, campaign: Campaign) -> ResumePoint | None:
    """Load the journal of the campaign ``plan.resume`` names (``True``: the learner's newest) to
    continue it: the metric history and last state are restored, the options checked."""
    resume = campaign.plan.resume
    if resume is None:
        resume = overrides.resume_for(learner)  # `rose run --resume RUN`
    if resume is None or resume is False:
        return None
    run_dir = resume_dir(learner, resume)
    assert run_dir is not None
    point = load_resume_point(run_dir)
    check_resumable(learner, point)
    check_same_options(run_dir, point.options, campaign.plan.start_options, campaign.plan.allow_changed_options,
                       learner.options_class)
    campaign.point = point
    learner._run_dir = run_dir
    learner.restore_history(point.states)
    if campaign.deadline is not None:  # how long this campaign's work took, to plan against the deadline
        campaign.time_records(read_summary(os.path.join(run_dir, SUMMARY_NAME)),
                              read_journal(os.path.join(run_dir, JOURNAL_NAME)))
    return point


def resume_dir(learner: Learner, resume: str | os.PathLike[str] | bool | None) -> str | None:
    """The campaign directory ``resume`` names for ``learner`` (None: none).

    ``True`` or ``"latest"`` (``rose run --resume latest``): the learner's own ``run_dir`` when
    it was given one, else the newest campaign of its learner type and tasks under the runs
    root (:func:`rose.resume_choice.choose_campaign`: an error listing the candidates when none fits).
    """
    if resume is None or resume is False:
        return None
    if resume is True or resume == overrides.LATEST:
        if not learner._own_run_dir and learner._run_dir is not None:
            return learner._run_dir
        from rose.resume_choice import choose_campaign

        kinds = {name: spec.kind for name, spec in learner.tasks.items()}
        return choose_campaign(type(learner).__name__, kinds, name=learner.name)
    return os.path.abspath(os.fspath(resume))


def place_tasks(learner: Learner) -> None:
    """Create the campaign directory; the learner's tasks run in it unless they set ``cwd`` (a
    child already has its own; a bare thread pool runs tasks where it runs them)."""
    try:
        private.make_dirs(learner.run_dir)
    except OSError as exc:
        raise JournalError(os.path.join(learner.run_dir, JOURNAL_NAME), exc) from exc
    if learner._cwd_is_default:
        learner.task_cwd, learner._cwd_is_default = None, False
    if learner.task_cwd is None and learner.asyncflow is not None and learner.backend_accepts({"cwd": learner.run_dir}):
        learner.task_cwd, learner._cwd_is_default = learner.run_dir, True


def check_resources(learner: Learner) -> None:
    """Translate every task's resources for the learner's engine now, so a request the backend
    cannot satisfy fails before any compute is spent (ResourceError names the task)."""
    if learner.asyncflow is not None:
        translate = learner.translator()
        for spec in learner.tasks.values():
            translate(spec.name, spec.resources, spec.shell)
