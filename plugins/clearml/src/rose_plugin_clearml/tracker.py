"""``ClearMLTracker``: a ROSE tracker that records a campaign as one ClearML task.

What the task holds:

* hyperparameters (section ``ROSE``, at the start): the campaign's parameters as the core
  flattens them (:func:`rose.tracking.campaign_params`): ``learner_type``, ``parallel_count``,
  ``max_iter``, ``criterion/metric_name|threshold|operator|function``, ``task/<task>/as_executable``,
  ``task/<task>/function``, every ``log_params`` entry as ``task/<task>/<key>``, the tasks'
  resources (values of ``resources["env"]`` shown as ``***``) and each learner's configuration
  (``config/<task>/<key>``);
* scalars (every iteration, ``iteration`` = ROSE iteration): the criterion metric and every
  numeric value of the iteration's state, each a plot whose series is the learner
  (``value`` for a single learner; for parallel learners the ``learner_label`` state value, else
  ``learner_names[learner_id]``, else the learner id), so learners compare in one plot;
* at the end: tags ``stop:<reason>`` and ``final_iter:<i>``, user properties ``stop_reason``
  and ``final_iteration``, artifacts ``final_state`` and ``manifest`` (JSON); the task is
  marked failed when the campaign ended with an error, then closed.

ClearML sends in the background and its calls arrive on ROSE's tracker thread, never on the
event loop. A ClearML failure is logged as one warning and tracking turns off; the campaign
goes on. ``offline=True`` (or ClearML's own ``CLEARML_OFFLINE_MODE=1``) keeps everything in
ClearML's offline session folder (``tracker.offline_folder``), to import later with
``clearml.Task.import_offline_session``.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from rose.state import IterationState, jsonable
from rose.tracking import PipelineManifest, TrackerBase, campaign_params, masked_manifest, state_metrics

__all__ = ["ClearMLTracker"]

logger = logging.getLogger(__name__)

#: Task.init options a tracker uses by default: it records the campaign, it does not take over the script
_FRAMEWORKS = ("catboost", "fastai", "gradio", "hydra", "joblib", "lightgbm", "matplotlib", "megengine", "pytorch",
               "scikit", "tensorboard", "tensorflow", "tfdefines", "xgboost")
_QUIET_INIT = {
    "auto_connect_arg_parser": False,
    # no framework patching, and no repository detection: ClearML runs `git` from a thread of its
    # own there, which can hang in a process whose other threads are busy spawning tasks
    "auto_connect_frameworks": {**dict.fromkeys(_FRAMEWORKS, False), "detect_repository": False},
    "auto_resource_monitoring": False,
    "auto_connect_streams": False,
}


class ClearMLTracker(TrackerBase):
    """Record a ROSE campaign in a ClearML task: ``learner.add_tracker(ClearMLTracker("ROSE", "surrogate"))``.

    ``project_name`` and ``task_name`` name the task (``task_name`` defaults to the campaign
    directory's name). ``learner_names`` names the series of parallel learners by learner id
    (ROSE 0.3's argument; a ``learner_label`` state value wins). ``tags`` are added to the task.
    ``offline=True`` switches ClearML to offline mode before the task is created (no server);
    ``None`` leaves ClearML's own setting. ``task_type`` is ClearML's (``"training"``,
    ``"optimizer"``, ...). ``init_options`` go to ``clearml.Task.init`` as they are (by default
    the tracker turns off ClearML's automatic argparse, framework, stream and resource capture).
    If the script already created a ClearML task (``Task.init``), the tracker records into it and
    leaves closing it to the script.
    """

    def __init__(
        self,
        project_name: str = "ROSE",
        task_name: str | None = None,
        learner_names: Sequence[str] | None = None,
        *,
        tags: Sequence[str] | None = None,
        offline: bool | None = None,
        task_type: str = "training",
        init_options: Mapping[str, Any] | None = None,
    ) -> None:
        if importlib.util.find_spec("clearml") is None:
            raise ImportError(
                "ClearMLTracker needs the clearml package, which is not installed in this environment: "
                "pip install rose-plugin-clearml (or pip install clearml)"
            )
        if not isinstance(project_name, str) or not project_name.strip():
            raise ValueError(f"ClearMLTracker: project_name must be a non-empty string, got {project_name!r}")
        if task_name is not None and (not isinstance(task_name, str) or not task_name.strip()):
            raise ValueError(f"ClearMLTracker: task_name must be a non-empty string or None, got {task_name!r}")
        if learner_names is not None and (isinstance(learner_names, str) or not all(isinstance(n, str) for n in learner_names)):
            raise TypeError(f"ClearMLTracker: learner_names must be a list of strings, got {learner_names!r}")
        if offline not in (None, True, False):
            raise TypeError(f"ClearMLTracker: offline must be True, False or None, got {offline!r}")
        self.project_name = project_name
        self.task_name = task_name
        self.learner_names = list(learner_names) if learner_names is not None else None
        self.tags = [str(t) for t in (tags or ())]
        self.offline = offline
        self.task_type = task_type
        self.init_options = dict(init_options or {})
        self.task: Any = None
        self.task_id: str | None = None
        self.offline_folder: str | None = None
        self._lock = threading.RLock()
        self._logger: Any = None
        self._owns_task = False
        self._starts = 0
        self._manifest: PipelineManifest | None = None
        self._last: dict[Any, IterationState] = {}
        self._reasons: list[str] = []

    @property
    def active(self) -> bool:
        """True while a campaign is being recorded (False after a ClearML failure turned tracking off)."""
        return self._logger is not None

    # the tracker protocol ----------------------------------------------------------------------
    def on_start(self, manifest: PipelineManifest) -> None:
        """Create (or join) the ClearML task and record the campaign's parameters."""
        with self._lock:
            self._starts += 1
            if self._starts > 1:
                self._guard("recording the parameters of a joining learner", self._connect, manifest)
                return
            self._manifest, self._last, self._reasons = manifest, {}, []
            self._guard("creating the ClearML task", self._create, manifest)

    def on_iteration(self, state: IterationState) -> None:
        """Report the iteration's metric and numeric state values as scalars."""
        with self._lock:
            if self._logger is None:
                return
            self._last[state.learner_id] = state
            self._guard("reporting scalars", self._report, state)

    def on_stop(self, final_state: IterationState | None, reason: str) -> None:
        """Tag the stop reason, attach the final state, mark the task and close it."""
        with self._lock:
            if self._starts == 0:
                return
            self._starts -= 1
            self._reasons.append(reason)
            if final_state is not None:
                self._last.setdefault(final_state.learner_id, final_state)
            if self._starts > 0 or self.task is None:
                return
            reasons = self._reasons
            overall = "error" if "error" in reasons else "stopped" if "stopped" in reasons else reasons[-1]
            if self._logger is not None:
                self._guard("recording the end of the campaign", self._finish, final_state, overall)
            self._close(overall)

    # ClearML calls -----------------------------------------------------------------------------
    def _guard(self, what: str, fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except Exception as exc:
            self._logger = None
            cause = " ".join(f"{type(exc).__name__}: {exc}".split())[:600]
            logger.warning(
                "ClearML tracker (project %r): %s failed: %s. ClearML tracking is off for the rest of this campaign; "
                "the campaign goes on. Check the ClearML configuration (clearml-init, CLEARML_API_HOST) or use offline=True.",
                self.project_name, what, cause,
            )
            logger.debug("ClearML failure details", exc_info=exc)

    def _create(self, manifest: PipelineManifest) -> None:
        from clearml import Task

        if self.offline is not None:
            Task.set_offline(self.offline)
        current: Any = Task.current_task()
        if current is not None:  # the script's own task
            self.task, self._owns_task = current, False
        else:
            import os

            name = self.task_name or (os.path.basename(os.path.normpath(manifest.run_dir))
                                      if manifest.run_dir else manifest.learner_type)
            options = {**_QUIET_INIT, "reuse_last_task_id": False, **self.init_options}
            self.task = Task.init(project_name=self.project_name, task_name=name,
                                  task_type=self.task_type, **options)
            self._owns_task = True
        self.task_id = str(self.task.id)
        if Task.is_offline():
            folder = self.task.get_offline_mode_folder()
            self.offline_folder = None if folder is None else str(folder)
        self._logger = self.task.get_logger()
        if self.tags:
            self.task.add_tags(self.tags)
        self._connect(manifest)

    def _connect(self, manifest: PipelineManifest) -> None:
        if self.task is None or self._logger is None:
            return
        params = campaign_params(manifest)  # the core's flattening, as every tracker records it
        clean = {k: v if isinstance(v, (str, int, float, bool)) or v is None else str(jsonable(v)) for k, v in params.items()}
        self.task.connect(clean, name="ROSE")

    def _series(self, state: IterationState) -> str:
        if state.learner_id is None:
            return "value"
        label = state.state.get("learner_label")
        if isinstance(label, str) and label.strip():
            return label.strip()
        names = self.learner_names
        if names is not None and isinstance(state.learner_id, int) and 0 <= state.learner_id < len(names):
            return names[state.learner_id]
        return str(state.learner_id)

    def _report(self, state: IterationState) -> None:
        series = self._series(state)
        for title, value in state_metrics(state).items():
            if math.isfinite(value):
                self._logger.report_scalar(title=title, series=series, value=value, iteration=int(state.iteration))

    def _finish(self, final_state: IterationState | None, reason: str) -> None:
        task = self.task
        last = [s for s in self._last.values()]
        final_iteration = final_state.iteration if final_state is not None else max((s.iteration for s in last), default=None)
        task.add_tags([f"stop:{reason}", f"final_iter:{final_iteration}"])
        task.set_user_properties(stop_reason=reason, final_iteration=str(final_iteration))
        document = {
            "reason": reason,
            "final_state": final_state.to_dict() if final_state is not None else None,
            "learners": {str(k): s.to_dict() for k, s in self._last.items() if k is not None},
        }
        task.upload_artifact("final_state", artifact_object=jsonable(document))
        if self._manifest is not None:
            task.upload_artifact("manifest", artifact_object=masked_manifest(self._manifest))
        if reason == "error":
            task.mark_failed(status_reason="the ROSE campaign ended with an error", force=True)

    def _close(self, reason: str) -> None:
        task, self.task, self._logger = self.task, None, None
        try:
            if self._owns_task:
                task.close()
            else:
                task.flush(wait_for_uploads=True)
        except Exception as exc:  # noqa: BLE001 - reported; the campaign is over anyway
            logger.warning("ClearML tracker (project %r): closing task %s failed: %s: %s",
                           self.project_name, self.task_id, type(exc).__name__, exc)
            return
        where = f"offline session {self.offline_folder}" if self.offline_folder else f"task id {self.task_id}"
        logger.info("ClearML task %r (%s) closed: %s", self.task_name or self.task_id, reason, where)
