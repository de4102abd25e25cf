"""rose-plugin-optuna: Optuna samplers as query policies, with real studies (in memory and sqlite)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest

import rose
from rose.plugins import registry
from rose.policies import Policy, PolicyError
from rose.testing import check_policy_spec

RUNNING, COMPLETE = optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.COMPLETE
POOL = np.linspace(-2.0, 2.0, 41)
optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_the_optuna_policy_is_registered_and_passes_the_policy_contract() -> None:
    spec = registry().policies["optuna"]
    assert spec.batch_aware and spec.pending_aware
    assert isinstance(rose.policy("optuna"), Policy)
    check_policy_spec(spec, POOL)  # TPESampler (constant liar), in memory
    check_policy_spec(spec, np.random.default_rng(0).uniform(size=(30, 2)), sampler="RandomSampler")
    check_policy_spec(spec, np.random.default_rng(1).uniform(size=(30, 3)), sampler_options={"n_startup_trials": 2,
                                                                                          "multivariate": True})


def test_asked_trials_stay_running_until_their_label_is_told() -> None:
    policy = rose.policy("optuna", seed=0)
    picks = policy.select(POOL, k=3)
    study = policy.study
    trials = study.get_trials()
    assert [t.state for t in trials] == [RUNNING] * 3
    assert [t.user_attrs["rose_candidate"] for t in trials] == picks
    assert [t.user_attrs["rose_point"] for t in trials] == [[POOL[i]] for i in picks]
    # the trials hold exactly the points that will be labelled (the suggestion is snapped before it is stored)
    assert [t.params for t in trials] == [{"x0": POOL[i]} for i in picks]
    policy.observe(POOL[picks[:2]], [0.5, -1.0])
    trials = study.get_trials()
    assert [t.state for t in trials] == [COMPLETE, COMPLETE, RUNNING]
    assert [t.value for t in trials[:2]] == [0.5, -1.0]
    assert len(policy.pending_trials) == 1
    # the still-running point is never offered again, and the next batch's trials join it
    again = policy.select(POOL, k=2, pending=[POOL[picks[2]]])
    assert picks[2] not in again
    rebuilt = policy.study  # the study of this selection: the two labels, the pending point and the new batch
    assert [t.state for t in rebuilt.get_trials()] == [COMPLETE, COMPLETE, RUNNING, RUNNING, RUNNING]
    assert [t.params["x0"] for t in rebuilt.get_trials()][2] == POOL[picks[2]]


def test_a_pending_point_the_study_does_not_know_becomes_a_running_trial_at_that_point() -> None:
    policy = rose.policy("optuna", seed=0)
    policy.select(POOL, k=1, pending=[1.5, -0.5])
    running = policy.study.get_trials(states=(RUNNING,))
    assert sorted(t.params["x0"] for t in running)[:2] == [-0.5, 1.5] or {-0.5, 1.5} <= {t.params["x0"] for t in running}
    policy.observe([1.5], [2.0])
    [told] = policy.study.get_trials(states=(COMPLETE,))
    assert told.params == {"x0": 1.5} and told.value == 2.0


class RecordingSampler(optuna.samplers.RandomSampler):
    """A real random sampler that remembers which trials were running when it was asked."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed=seed)
        self.running_seen: list[list[float]] = []

    def sample_independent(self, study: Any, trial: Any, param_name: str, param_distribution: Any) -> Any:
        others = study.get_trials(deepcopy=False, states=(RUNNING,))
        self.running_seen.append(sorted(t.params.get(param_name, float("nan")) for t in others
                                        if t.number != trial.number))
        return super().sample_independent(study, trial, param_name, param_distribution)


def test_the_sampler_sees_pending_points_and_earlier_picks_as_running_trials() -> None:
    """What TPE's constant liar (Optuna's default) needs: the points in flight, as RUNNING trials."""
    sampler = RecordingSampler(seed=3)
    policy = rose.policy("optuna", sampler=sampler, names=["x"], bounds=[(-2.0, 2.0)])
    policy.observe([0.0, 1.0], [0.0, 1.0])  # the initial design, labelled: completed trials
    picks = policy.select(POOL, k=2, pending=[-1.0])
    assert sampler.running_seen[0] == [-1.0]  # the first ask already sees the pending point
    assert sampler.running_seen[1] == sorted([-1.0, float(POOL[picks[0]])])  # the second also the first pick
    assert all(t.params["x"] in POOL for t in policy.study.trials)
    completed = policy.study.get_trials(states=(COMPLETE,))
    assert [(t.params, t.value) for t in completed] == [({"x": 0.0}, 0.0), ({"x": 1.0}, 1.0)]
    assert isinstance(optuna.samplers.TPESampler(), optuna.samplers.TPESampler)


def test_a_sqlite_study_survives_a_restart_with_its_running_trials(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    first = rose.policy("optuna", storage=storage, study_name="pool", seed=1)
    picks = first.select(POOL, k=2)
    first.observe([POOL[picks[0]]], [3.0])
    del first
    resumed = rose.policy("optuna", storage=storage, study_name="pool", seed=1)
    resumed.select(POOL, k=1, pending=[POOL[picks[1]]])
    loaded = optuna.load_study(study_name="pool", storage=storage)
    assert len(loaded.trials) == 3, "the pending point was recognised as the running trial it is"
    resumed.observe([POOL[picks[1]]], [4.0])
    loaded = optuna.load_study(study_name="pool", storage=storage)
    by_number = {t.number: t for t in loaded.trials}
    assert by_number[0].state == COMPLETE and by_number[0].value == 3.0
    assert by_number[1].state == COMPLETE and by_number[1].value == 4.0
    assert by_number[2].state == RUNNING


def test_tpe_finds_the_minimum_of_a_pool_in_a_real_study() -> None:
    policy = rose.policy("optuna", seed=5, sampler_options={"n_startup_trials": 4})
    f = (POOL - 0.7) ** 2
    pending: list[float] = []
    for _ in range(8):  # two points in flight at a time: label one, select one
        [pick] = policy.select(POOL, k=1, pending=pending)
        pending.append(float(POOL[pick]))
        if len(pending) == 2:
            done = pending.pop(0)
            policy.observe([done], [float((done - 0.7) ** 2)])
    assert policy.study.best_value < 0.1 * f.max()
    assert len(policy.study.get_trials(states=(RUNNING,))) == 1


def test_errors_name_the_problem_and_the_fix() -> None:
    with pytest.raises(PolicyError, match="unknown Optuna sampler 'TPE'.*TPESampler"):
        rose.policy("optuna", sampler="TPE").select(POOL, k=1)
    with pytest.raises(PolicyError, match="direction must be 'minimize' or 'maximize'"):
        rose.policy("optuna", direction="min")
    policy = rose.policy("optuna", bounds=[(0.0, 1.0)])
    with pytest.raises(PolicyError, match=r"outside the search space .*pass wider bounds="):
        policy.select(POOL, k=1)
    with pytest.raises(PolicyError, match="k=50 candidates but only 41"):
        rose.policy("optuna").select(POOL, k=50)


def test_entry_module_does_not_import_optuna() -> None:
    code = "import sys, rose_plugin_optuna.plugin as p; p.rose_policies(); print('optuna' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"}).stdout.strip()
    assert out == "False"


def test_a_study_built_by_hand_is_used_and_its_trials_hold_the_labelled_points(tmp_path: Path) -> None:
    study = optuna.create_study(study_name="mine", storage=f"sqlite:///{tmp_path / 'mine.db'}", direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=2))
    policy = rose.policy("optuna", study=study)
    grid = np.array([[a, b] for a in (0.0, 0.5, 1.0) for b in (0.0, 0.5, 1.0)])
    picks = policy.select(grid, k=4)
    assert [[t.params["x0"], t.params["x1"]] for t in study.trials] == grid[picks].tolist()
    policy.observe(grid[picks], [1.0, 2.0, 3.0, 4.0])
    assert study.best_trial.params == {"x0": grid[picks[3]][0], "x1": grid[picks[3]][1]}


EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "policies" / "optuna_pool.py"


def test_the_optuna_example_keeps_a_consistent_sqlite_study(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(EXAMPLE), "--max-iter", "3"], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "ROSE_RUNS_DIR": str(tmp_path / "runs")}, timeout=240)
    assert done.returncode == 0, done.stderr
    assert [line.split(":")[0] for line in done.stdout.splitlines() if line.startswith("iteration")] == [
        "iteration 0", "iteration 1", "iteration 2"]
    [database] = (tmp_path / "runs").glob("*/optuna.db")
    study = optuna.load_study(study_name="branin", storage=f"sqlite:///{database}")
    running = study.get_trials(states=(RUNNING,))
    complete = study.get_trials(states=(COMPLETE,))
    assert len(complete) == 6 + 2 * 4 and len(running) == 4, "initial design + two told batches; the last batch asked only"
    sys.path.insert(0, str(EXAMPLE.parent))
    try:
        from optuna_pool import branin
    finally:
        sys.path.remove(str(EXAMPLE.parent))
    for trial in complete:  # every told value belongs to exactly the point in the trial
        assert trial.value == pytest.approx(float(branin(np.array([[trial.params["a"], trial.params["b"]]]))[0]))


def test_the_optuna_block_of_the_policies_page_runs(capsys: pytest.CaptureFixture[str]) -> None:
    docs = Path(__file__).resolve().parents[3] / "docs" / "policies.md"
    blocks = [b.split("```", 1)[0] for b in docs.read_text().split("```python\n")[1:]]
    [block] = [b for b in blocks if "optuna" in b]
    exec(compile(block, "docs/policies.md", "exec"), {"__name__": "docs_block"})
    assert capsys.readouterr().out.strip() == "6 trials, 1 point in flight"


def test_a_steady_state_loop_with_a_tpe_study_labels_every_point_once() -> None:
    policy = rose.policy("optuna", seed=1, sampler_options={"n_startup_trials": 3})
    order = np.random.default_rng(4)
    in_flight = [float(POOL[i]) for i in policy.select(POOL, k=4)]
    labelled: list[float] = []
    while in_flight:
        finished = in_flight.pop(int(order.integers(len(in_flight))))
        policy.observe([finished], [(finished - 0.7) ** 2])
        labelled.append(finished)
        free = POOL[~np.isin(POOL, labelled)]
        if free.size > len(in_flight):
            [pick] = policy.select(free, k=1, pending=in_flight)
            assert float(free[pick]) not in in_flight
            in_flight.append(float(free[pick]))
        assert len(policy.study.get_trials(states=(RUNNING,))) == len(in_flight)
    assert sorted(labelled) == POOL.tolist()
    assert len(policy.study.trials) == POOL.size and policy.study.best_value == pytest.approx(0.0, abs=0.01)


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.parametrize("sampler", ["TPESampler", "RandomSampler", "QMCSampler"])
def test_a_new_policy_told_every_label_selects_what_the_long_lived_one_did(sampler: str) -> None:
    """What a resume needs: the selection is a function of the request (labels, pending, seed), not of history."""
    options = {"n_startup_trials": 3} if sampler == "TPESampler" else {}
    lived = rose.policy("optuna", sampler=sampler, seed=7, sampler_options=options)
    labels: list[tuple[float, float]] = [(-2.0, 7.3), (2.0, 1.7)]
    for step in range(6):
        lived.observe([[x] for x, _ in labels], [y for _, y in labels])  # every label so far, each time
        free = np.array([x for x in POOL if x not in {x for x, _ in labels}])  # labelled points are no candidates
        pending = [float(free[len(free) // 2])] if step % 2 else []
        picks = lived.select(free, k=2, pending=pending)
        fresh = rose.policy("optuna", sampler=sampler, seed=7, sampler_options=options)
        fresh.observe([[x] for x, _ in labels], [y for _, y in labels])
        assert fresh.select(free, k=2, pending=pending) == picks, f"selection {step} differs after a restart"
        labels += [(float(free[i]), float((free[i] - 0.7) ** 2)) for i in picks]
    assert len({x for x, _ in labels}) == len(labels), "no point was selected twice"


def test_the_last_request_orders_the_trials_so_a_resume_rebuilds_the_same_study() -> None:
    """Requests may list the labels in any order (sorted, by arrival): the study follows the last one."""
    arrival = [(0.0, 0.49), (-1.0, 2.89), (1.5, 0.64), (0.5, 0.04)]
    in_order = rose.policy("optuna", seed=3)
    in_order.observe([[-1.0], [0.0]], [2.89, 0.49])  # an earlier request, sorted by x
    in_order.select(POOL, k=1)
    in_order.observe([[x] for x, _ in arrival], [y for _, y in arrival])
    lived = in_order.select(POOL, k=2)
    resumed = rose.policy("optuna", seed=3)
    resumed.observe([[x] for x, _ in arrival], [y for _, y in arrival])
    assert resumed.select(POOL, k=2) == lived
    assert [t.params["x0"] for t in resumed.study.trials[:4]] == [x for x, _ in arrival]
    assert resumed.observed_points == [[x] for x, _ in arrival], "a label given again is held once"


def test_an_unseeded_rebuilt_policy_is_deterministic_and_a_seed_changes_it() -> None:
    picks = [rose.policy("optuna", sampler="RandomSampler").select(POOL, k=3) for _ in range(2)]
    assert picks[0] == picks[1]
    seeded = {tuple(rose.policy("optuna", sampler="RandomSampler", seed=s).select(POOL, k=3)) for s in range(5)}
    assert len(seeded) > 1


def test_a_live_study_keeps_its_trials_and_fails_the_resume_check(tmp_path: Path) -> None:
    """A study given by storage= is kept, not rebuilt: the policy contract's resume check says what that costs."""
    from rose.testing.policy import ContractFailure, check_policy_resumes

    made = iter(range(100))

    def live() -> Any:
        return rose.policy("optuna", sampler="RandomSampler", storage=f"sqlite:///{tmp_path / 'live.db'}",
                           study_name=f"s{next(made)}")

    assert not live().rebuilds and rose.policy("optuna").rebuilds
    with pytest.raises(ContractFailure, match="a new policy selects what a long-lived one does.*rebuild any model"):
        check_policy_resumes(live, POOL)
    check_policy_resumes(lambda: rose.policy("optuna", sampler="RandomSampler"), POOL)


def test_a_nan_label_is_a_failed_trial_of_the_rebuilt_study() -> None:
    """A failed evaluation (NaN) is kept once, as a FAIL trial the sampler does not model (not a raw Optuna error)."""
    policy = rose.policy("optuna", seed=0)
    for _ in range(2):  # every label so far, twice
        policy.observe([[0.0], [1.0]], [float("nan"), 1.0])
        policy.select(POOL, k=2)
    assert [t.state for t in policy.study.trials] == [optuna.trial.TrialState.FAIL, COMPLETE, RUNNING, RUNNING]
    assert len(policy.observed_points) == 2
