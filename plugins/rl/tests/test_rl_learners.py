"""The RL learners on a real engine: loops, criteria, configurations, failures, trackers."""

from __future__ import annotations

import os
import sys
import warnings

import pytest

from rose import LearnerConfig, TaskConfig
from rose.errors import LearnerFailedError, RoseError
from rose.metrics import GREATER_THAN_THRESHOLD
from rose.testing import RecordingTracker


def _learner(cls_name: str, engine, **kwargs):
    import rose.rl.reinforcement_learner as rl

    return getattr(rl, cls_name)(engine, **kwargs)


def _sequential(engine, calls: list, criterion: list | None = None):
    srl = _learner("SequentialReinforcementLearner", engine)

    @srl.environment_task(as_executable=False)
    async def environment(*args, **kwargs):
        calls.append(("environment", args, kwargs))
        return {"episodes": len([c for c in calls if c[0] == "environment"])}

    @srl.update_task(as_executable=False)
    async def update(*args, **kwargs):
        calls.append(("update", args, kwargs))
        return {"policy_version": len([c for c in calls if c[0] == "update"])}

    if criterion is not None:
        @srl.as_stop_criterion(metric_name="MODEL_REWARD", threshold=200, operator=GREATER_THAN_THRESHOLD,
                               as_executable=False)
        async def reward(*args, **kwargs):
            calls.append(("criterion", args, kwargs))
            return criterion.pop(0)

    return srl


async def test_sequential_without_criterion_runs_max_iter(rl_engine):
    calls: list = []
    srl = _sequential(rl_engine, calls)
    tracker = RecordingTracker()
    srl.add_tracker(tracker)
    states = [s async for s in srl.start(max_iter=3)]
    assert [s.iteration for s in states] == [0, 1, 2]
    assert [s.policy_version for s in states] == [1, 2, 3]
    assert [s.metric_value for s in states] == [None, None, None]
    # environment -> update each iteration, nothing extra after the last one
    assert [c[0] for c in calls] == ["environment", "update"] * 3
    assert calls[0][1] == () and calls[1][1] == ({"episodes": 1},)
    assert calls[2][1] == ({"policy_version": 1},)  # the next environment gets the latest policy
    assert tracker.stop[1] == "max_iter_reached" and len(tracker.states) == 3
    assert tracker.manifest.learner_type == "SequentialReinforcementLearner"


async def test_sequential_stops_at_the_first_reward_above_threshold(rl_engine):
    calls: list = []
    srl = _sequential(rl_engine, calls, criterion=[50.0, 150.0, 250.0, 900.0])
    tracker = RecordingTracker()
    srl.add_tracker(tracker)
    final = await srl.start(max_iter=10)
    assert final.iteration == 2 and final.should_stop and final.metric_value == 250.0
    assert final.metric_history == [50.0, 150.0, 250.0]
    assert [c for c in calls if c[0] == "criterion"][0][1] == ({"policy_version": 1},)
    assert [c[0] for c in calls].count("environment") == 3
    assert tracker.stop[1] == "criterion_met"


async def test_sequential_skip_pre_loop_and_skip_environment_step(rl_engine):
    calls: list = []
    srl = _sequential(rl_engine, calls, criterion=[1.0, 2.0])
    states = [s async for s in srl.start(max_iter=2, skip_pre_loop=True, skip_environment_step=True)]
    assert len(states) == 2
    assert [c[0] for c in calls] == ["criterion", "update", "criterion"]
    assert calls[0][1] == ()  # nothing ran before the first criterion

    srl = _learner("SequentialReinforcementLearner", rl_engine)

    @srl.update_task(as_executable=False)
    async def update(*args):
        return None

    with pytest.raises(ValueError, match="needs an environment task"):
        srl.start(max_iter=2)
    with pytest.raises(ValueError, match="max_iter > 0 or a stop criterion"):
        srl.start(skip_environment_step=True)


async def test_sequential_configuration_and_set_next_config(rl_engine):
    calls: list = []
    srl = _sequential(rl_engine, calls)
    first = LearnerConfig(environment=TaskConfig(kwargs={"--epsilon": 0.5}))
    second = LearnerConfig(environment=TaskConfig(kwargs={"--epsilon": 0.1}), update=TaskConfig(args=("lr",)))
    states = []
    async for state in srl.start(max_iter=3, initial_config=first):
        states.append(state)
        if state.iteration == 0:
            srl.set_next_config(second)
    envs = [c for c in calls if c[0] == "environment"]
    assert [e[2]["--epsilon"] for e in envs] == [0.5, 0.1, 0.1]
    assert [c for c in calls if c[0] == "update"][1][1][0] == "lr"
    assert states[0].current_config is first and states[1].current_config is second


async def test_sequential_learn_is_deprecated_and_returns_the_final_state(rl_engine):
    calls: list = []
    srl = _sequential(rl_engine, calls)
    with pytest.warns(DeprecationWarning, match="learn"):
        final = await srl.learn(max_iter=2)
    assert final.iteration == 1


async def test_parallel_learners_have_own_configs_and_directories(rl_engine):
    prl = _learner("ParallelReinforcementLearner", rl_engine)

    @prl.environment_task
    async def environment(*args, **kwargs):
        return [sys.executable, "-c", "import os, sys; print(os.getcwd(), sys.argv[1])", str(kwargs["seed"])]

    @prl.update_task(as_executable=False)
    async def update(env_output, **kwargs):
        cwd, seed = env_output.split()
        return {"cwd": cwd, "seed": int(seed)}

    tracker = RecordingTracker()
    prl.add_tracker(tracker)
    configs = [LearnerConfig(environment=TaskConfig(kwargs={"seed": s})) for s in (11, 22)]
    seen = [s async for s in prl.start(parallel_learners=2, max_iter=2, learner_configs=configs)]
    assert sorted((s.learner_id, s.iteration) for s in seen) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    for state in seen:
        assert state.seed == (11, 22)[state.learner_id]
        assert state.cwd == os.path.join(prl.run_dir, f"learner-{state.learner_id}")
    assert os.path.exists(os.path.join(prl.run_dir, "learner-0", "journal.jsonl"))
    assert tracker.manifest.parallel_count == 2 and len(tracker.states) == 4
    assert tracker.stop[1] == "max_iter_reached"

    with pytest.raises(ValueError, match="For single learner"):
        prl.start(parallel_learners=1, max_iter=2)
    with pytest.raises(ValueError, match="learner_configs has 1 entries"):
        prl.start(parallel_learners=2, max_iter=2, learner_configs=[None])


async def test_parallel_learner_failure_is_reported_and_others_finish(rl_engine, caplog):
    prl = _learner("ParallelReinforcementLearner", rl_engine)

    @prl.environment_task(as_executable=False)
    async def environment(*args, fail=False):
        if fail:
            raise RuntimeError("simulator crashed")
        return {"ok": True}

    @prl.update_task(as_executable=False)
    async def update(*args):
        return None

    configs = [None, LearnerConfig(environment={1: TaskConfig(kwargs={"fail": True})})]
    with pytest.raises(LearnerFailedError) as info:
        await prl.start(parallel_learners=2, max_iter=3, learner_configs=configs)
    finals = info.value.results
    assert [s.iteration for s in finals if s.learner_id == 0] == [2]
    assert "[learner-1] failed with error" in caplog.text and "simulator crashed" in caplog.text


def _parallel_experience(engine, calls, fail_at=None, silent_env=None, **options):
    from rose.rl.experience import ExperienceBank, create_experience

    pe = _learner("ParallelExperience", engine, **options)

    async def environment(*args, name, p=0, **kwargs):
        iteration = sum(1 for c in calls if c[0] == name)
        calls.append((name, args, {"p": p, **kwargs}))
        if fail_at == (name, iteration):
            raise RuntimeError(f"{name} diverged")
        if name != silent_env:
            bank = ExperienceBank()
            for step in range(2):
                bank.add(create_experience([p, step], step, float(p), [p, step + 1], step == 1, {"env": name}))
            bank.save(pe.work_dir, os.path.basename(pe.bank_file(name)))
        return {"p": p}

    for env_name in ("env_1", "env_2", "env_3"):
        async def env(*args, _name=env_name, **kwargs):
            return await environment(*args, name=_name, **kwargs)

        pe.environment_task(name=env_name, as_executable=False)(env)

    @pe.update_task(as_executable=False)
    async def update(bank_path, lr=None):
        bank = ExperienceBank.load(bank_path)
        calls.append(("update", (bank_path,), {"lr": lr}))
        return {"bank_size": len(bank), "sources": sorted({e.info["env"] for e in bank}), "lr": lr}

    @pe.as_stop_criterion(metric_name="MODEL_REWARD", threshold=30, operator=GREATER_THAN_THRESHOLD, as_executable=False)
    async def reward(update_result):
        return float(update_result["bank_size"] * 2)

    return pe


async def test_parallel_experience_registers_named_environments_at_decoration(rl_engine):
    pe = _parallel_experience(rl_engine, [])
    assert pe.environment_names == ["env_1", "env_2", "env_3"]
    assert {k: v.kind for k, v in pe.tasks.items()} == {
        "env_1": "environment", "env_2": "environment", "env_3": "environment",
        "update": "update", "criterion": "criterion",
    }


async def test_parallel_experience_merges_every_environment_and_uses_per_env_config(rl_engine):
    calls: list = []
    pe = _parallel_experience(rl_engine, calls)
    tracker = RecordingTracker()
    pe.add_tracker(tracker)
    config = LearnerConfig(
        tasks={
            "env_1": TaskConfig(kwargs={"p": 10}),
            "env_3": {0: TaskConfig(kwargs={"p": 30}), -1: TaskConfig(kwargs={"p": 31})},
        },
        environment=TaskConfig(kwargs={"p": 2}),
        update=pe.create_iteration_schedule("update", {0: {"kwargs": {"lr": 0.1}}, -1: {"kwargs": {"lr": 0.01}}}),
    )
    states = [s async for s in pe.start(max_iter=5, initial_config=config)]
    # stops at the first iteration whose reward passes 30: bank sizes 6, 12, 18 -> rewards 12, 24, 36
    assert [s.metric_value for s in states] == [12.0, 24.0, 36.0] and states[-1].should_stop
    assert {name: [c[0] for c in calls].count(name) for name in pe.environment_names} == {
        "env_1": 3, "env_2": 3, "env_3": 3}
    params = [(c[0], c[2]["p"]) for c in calls if c[0].startswith("env")]
    assert sorted(params) == sorted([("env_1", 10), ("env_2", 2), ("env_3", 30)]
                                    + [("env_1", 10), ("env_2", 2), ("env_3", 31)] * 2)
    updates = [c for c in calls if c[0] == "update"]
    assert [u[2]["lr"] for u in updates] == [0.1, 0.01, 0.01]
    assert all(u[1] == (pe.merged_bank_path,) for u in updates)
    last = states[-1]
    assert last.sources == ["env_1", "env_2", "env_3"] and last.bank_size == 18
    assert last.experience_new == 6 and last.experience_total == 18
    assert last.experience_by_environment == {"env_1": 2, "env_2": 2, "env_3": 2}
    assert last.env_3 == {"p": 31}
    assert os.listdir(pe.work_dir) == ["experience_bank.npz"]  # environment banks merged and removed
    assert tracker.stop[1] == "criterion_met" and len(tracker.states) == 3
    assert tracker.manifest.extra["environments"] == ["env_1", "env_2", "env_3"]


async def test_parallel_experience_merged_bank_cap(rl_engine):
    pe = _parallel_experience(rl_engine, [], merged_bank_max_size=8)
    states = [s async for s in pe.start(max_iter=2)]
    assert [s.experience_total for s in states] == [6, 8]
    assert states[-1].bank_size == 8


async def test_environment_failure_names_the_environment(rl_engine):
    from rose.rl.reinforcement_learner import EnvironmentTaskError

    calls: list = []
    pe = _parallel_experience(rl_engine, calls, fail_at=("env_2", 1))
    tracker = RecordingTracker()
    pe.add_tracker(tracker)
    with pytest.raises(EnvironmentTaskError, match="'env_2'") as info:
        async for _ in pe.start(max_iter=4):
            pass
    assert info.value.iteration == 1 and list(info.value.failures) == ["env_2"]
    assert "env_2 diverged" in str(info.value)
    assert [c[0] for c in calls].count("update") == 1  # no update on partial experience
    assert tracker.stop[1] == "error"
    # the banks of the environments that succeeded are kept, not merged away
    assert sorted(os.listdir(pe.work_dir)) == ["experience_bank.npz", "experience_bank_env_1.npz", "experience_bank_env_3.npz"]


async def test_environment_without_a_bank_is_reported(rl_engine):
    from rose.rl.experience import ExperienceBankError

    pe = _parallel_experience(rl_engine, [], silent_env="env_3")
    with pytest.raises(ExperienceBankError, match="'env_3'.*experience_bank_env_3.npz"):
        await pe.start(max_iter=2)


async def test_parallel_experience_learn_and_validation(rl_engine):
    pe = _parallel_experience(rl_engine, [])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        final = await pe.learn()
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)
    assert final.iteration == 2 and final.should_stop

    empty = _learner("ParallelExperience", rl_engine)
    with pytest.raises(ValueError, match=r"@pe.environment_task\(name='env_1'\)"):
        empty.start(max_iter=1)
    with pytest.raises(ValueError, match="merged_bank_max_size"):
        _learner("ParallelExperience", rl_engine, merged_bank_max_size=0)


async def test_parallel_experience_needs_a_backend_that_places_executables(rose_engine):
    pe = _learner("ParallelExperience", rose_engine)

    @pe.environment_task(name="env_1")
    async def env_1(*args):
        return "true"

    @pe.update_task
    async def update(*args):
        return "true"

    with pytest.raises(RoseError, match="cannot set a task's working directory.*rose.engine\\('local'\\)"):
        pe.start(max_iter=1)


async def test_parallel_learners_on_a_backend_without_working_directories(rose_engine):
    prl = _learner("ParallelReinforcementLearner", rose_engine)

    @prl.environment_task
    async def environment(*args):
        return ["echo", "experience"]

    @prl.update_task(as_executable=False)
    async def update(env_output):
        return {"seen": env_output.strip()}

    finals = await prl.start(parallel_learners=2, max_iter=1)
    assert [(s.learner_id, s.seen) for s in finals] == [(0, "experience"), (1, "experience")]
