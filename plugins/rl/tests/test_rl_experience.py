"""ExperienceBank: storage, sampling, merging and the safe, versioned file format."""

from __future__ import annotations

import json
import os
import pickle
import random
import zipfile

import numpy as np
import pytest

from rose.errors import RoseError


@pytest.fixture
def exp_api():
    from rose.rl.experience import Experience, ExperienceBank, create_experience

    return Experience, ExperienceBank, create_experience


def _bank(n: int, max_size=None, seed=None):
    from rose.rl.experience import ExperienceBank, create_experience

    bank = ExperienceBank(max_size=max_size, seed=seed)
    for i in range(n):
        bank.add(create_experience(np.array([i, i + 0.5], dtype=np.float32), i % 3, float(i), [i + 1.0, 0.0], i == n - 1,
                                   {"step": i, "tag": f"e{i}"}))
    return bank


def test_public_imports_resolve_through_rose():
    from rose_plugin_rl.experience import ExperienceBank as Direct

    import rose.rl
    from rose.rl import ExperienceBank as FromRl
    from rose.rl.experience import Experience, ExperienceBank, create_experience

    assert ExperienceBank is FromRl is Direct
    assert {"Experience", "ExperienceBank", "create_experience"} <= set(dir(rose.rl.experience))
    assert create_experience(1, 2, 3.0, 4, True).info == {}
    assert Experience(1, 2, 3.0, 4, False, None).info == {}


def test_add_len_iter_index_and_fifo(exp_api):
    Experience, ExperienceBank, create_experience = exp_api
    bank = _bank(5, max_size=3)
    assert len(bank) == 3
    assert [e.info["step"] for e in bank] == [2, 3, 4]  # oldest dropped first
    assert bank[0].info["step"] == 2 and bank[-1].info["step"] == 4
    assert [e.info["step"] for e in bank[1:]] == [3, 4]
    bank.add_batch([create_experience(0, 0, 0.0, 0, False, {"step": 99})])
    assert [e.info["step"] for e in bank] == [3, 4, 99]
    with pytest.raises(TypeError, match="create_experience"):
        bank.add((1, 2, 3, 4, 5))
    with pytest.raises(ValueError, match="max_size"):
        ExperienceBank(max_size=0)
    bank.clear()
    assert len(bank) == 0 and list(bank) == []


def test_get_recent(exp_api):
    bank = _bank(5)
    assert bank.get_recent(0) == []  # ROSE 0.3 returned everything here
    assert [e.info["step"] for e in bank.get_recent(2)] == [3, 4]
    assert len(bank.get_recent(50)) == 5
    with pytest.raises(ValueError):
        bank.get_recent(-1)


def test_sampling_is_reproducible_with_a_seed(exp_api):
    bank = _bank(50)
    first = [e.info["step"] for e in bank.sample(10, seed=7)]
    again = [e.info["step"] for e in bank.sample(10, seed=7)]
    other = [e.info["step"] for e in bank.sample(10, seed=8)]
    assert first == again and first != other
    # the bank's own generator is seedable too
    a, b = _bank(50, seed=3), _bank(50, seed=3)
    assert [e.info["step"] for e in a.sample(10)] == [e.info["step"] for e in b.sample(10)]
    # numpy and stdlib generators are accepted
    gen = [e.info["step"] for e in bank.sample(5, rng=np.random.default_rng(1))]
    assert gen == [e.info["step"] for e in bank.sample(5, rng=np.random.default_rng(1))]
    std = [e.info["step"] for e in bank.sample(5, rng=random.Random(1))]
    assert std == [e.info["step"] for e in bank.sample(5, rng=random.Random(1))]


def test_sampling_without_replacement(exp_api):
    bank = _bank(10)
    picked = [e.info["step"] for e in bank.sample(10, replace=False, seed=0)]
    assert sorted(picked) == list(range(10))
    with pytest.raises(ValueError, match="without replacement from a bank of size 10"):
        bank.sample(11, replace=False)
    assert _bank(0).sample(4) == []
    assert bank.sample(0) == []
    with pytest.raises(ValueError):
        bank.sample(-1)


def test_merge_and_merge_inplace(exp_api):
    _, ExperienceBank, _ = exp_api
    a, b = _bank(3, max_size=10), _bank(2, max_size=4)
    merged = a.merge(b)
    assert len(merged) == 5 and merged.max_size == 10
    assert len(a) == 3 and len(b) == 2  # untouched
    assert merged.session_id not in (a.session_id, b.session_id)
    small = _bank(3, max_size=4)
    assert small.merge_inplace(_bank(3)) is small
    assert len(small) == 4  # FIFO under its own cap
    assert ExperienceBank().merge(ExperienceBank()).max_size is None


def test_round_trip_keeps_values_dtypes_and_metadata(tmp_path, exp_api):
    Experience, ExperienceBank, create_experience = exp_api
    bank = _bank(6, max_size=20)
    path = bank.save(tmp_path)
    assert path == os.path.join(tmp_path, f"{bank.session_id}.npz")
    assert bank.session_id.startswith("experience_bank_")
    loaded = ExperienceBank.load(path)
    assert list(loaded) == list(bank)
    assert loaded.max_size == 20 and loaded.session_id == bank.session_id
    assert loaded[0].state.dtype == np.float32
    assert isinstance(loaded[0].action, int) and isinstance(loaded[0].reward, float)
    assert loaded[-1].done is True and loaded[0].done is False
    assert ExperienceBank.load(path, max_size=2).max_size == 2


def test_round_trip_of_irregular_values_uses_json(tmp_path, exp_api):
    Experience, ExperienceBank, create_experience = exp_api
    bank = ExperienceBank()
    bank.add(create_experience("start", None, 1, [1, [2, 3]], False, {"nested": {"a": [1, 2]}, "arr": np.arange(2)}))
    bank.add(create_experience({"x": 1}, "left", -0.5, None, True))
    loaded = ExperienceBank.load(bank.save(tmp_path, "irregular.npz"))
    assert loaded[0] == create_experience("start", None, 1.0, [1, [2, 3]], False, {"nested": {"a": [1, 2]}, "arr": [0, 1]})
    assert loaded[1].state == {"x": 1} and loaded[1].next_state is None and loaded[1].action == "left"
    empty = ExperienceBank.load(ExperienceBank().save(tmp_path, "empty.npz"))
    assert len(empty) == 0


def test_file_is_an_npz_with_a_json_header_and_no_pickle(tmp_path):
    path = _bank(3).save(tmp_path, "bank.npz")
    with np.load(path, allow_pickle=False) as data:
        header = json.loads(data["header"].tobytes().decode())
        assert header["format"] == "rose-experience-bank" and header["version"] == 1
        assert header["count"] == 3
        assert header["fields"]["state"] == {"encoding": "array", "dtype": "<f4", "shape": [2]}
        assert data["state"].shape == (3, 2)
        assert data["reward"].tolist() == [0.0, 1.0, 2.0]
        assert json.loads(data["info.json"].tobytes().decode())[1] == {"step": 1, "tag": "e1"}
        assert all(data[name].dtype != object for name in data.files)
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]  # no temporary file left


def test_save_refuses_values_that_need_pickle(tmp_path, exp_api):
    _, ExperienceBank, create_experience = exp_api
    bank = ExperienceBank()
    bank.add(create_experience(1, 1, 1.0, 1, False, {"obj": object()}))
    with pytest.raises(TypeError, match="experience 0: field 'info'.*no pickle"):
        bank.save(tmp_path, "bad.npz")
    assert not os.listdir(tmp_path)


def test_save_defaults_to_rose_bank_file(tmp_path, monkeypatch, exp_api):
    _, ExperienceBank, _ = exp_api
    target = tmp_path / "experience_bank_env_1.npz"
    monkeypatch.setenv("ROSE_BANK_FILE", os.fspath(target))
    assert _bank(2).save() == os.fspath(target)
    monkeypatch.delenv("ROSE_BANK_FILE")
    monkeypatch.setenv("ROSE_WORK_DIR", os.fspath(tmp_path / "wd"))
    bank = _bank(1)
    assert bank.save() == os.path.join(tmp_path, "wd", f"{bank.session_id}.npz")


def test_load_of_a_missing_file_names_the_path(tmp_path, exp_api):
    from rose.rl.experience import ExperienceBankError

    _, ExperienceBank, _ = exp_api
    missing = tmp_path / "nope.npz"
    with pytest.raises(FileNotFoundError, match=str(missing)) as info:
        ExperienceBank.load(missing)
    assert isinstance(info.value, ExperienceBankError) and isinstance(info.value, RoseError)
    assert info.value.path == os.fspath(missing)


def _rewrite(path, **changes):
    with np.load(path, allow_pickle=False) as data:
        members = {name: data[name] for name in data.files}
    members.update(changes)
    for name in [k for k, v in members.items() if v is None]:
        del members[name]
    with open(path, "wb") as handle:
        np.savez(handle, **members)


def _header(path, **changes):
    with np.load(path, allow_pickle=False) as data:
        header = json.loads(data["header"].tobytes().decode())
    header.update(changes)
    return np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)


@pytest.mark.parametrize(
    "damage, message",
    [
        ("truncate", "not a readable experience bank"),
        ("garbage", "not an .npz archive"),
        ("pickle", "pickle file"),
        ("no_header", "'header' member is missing"),
        ("foreign", "does not describe a 'rose-experience-bank'"),
        ("newer", "format version 2, newer"),
        ("short_column", "field 'reward' holds 2 values, header says 3"),
        ("missing_member", "member 'info.json' is missing"),
        ("bad_json", "field 'info' is not valid JSON"),
    ],
)
def test_load_of_a_corrupt_file_names_the_path(tmp_path, exp_api, damage, message):
    from rose.rl.experience import ExperienceBankError

    _, ExperienceBank, _ = exp_api
    path = _bank(3).save(tmp_path, "bank.npz")
    if damage == "truncate":
        data = open(path, "rb").read()
        open(path, "wb").write(data[: len(data) // 2])
    elif damage == "garbage":
        open(path, "wb").write(b"not a bank at all")
    elif damage == "pickle":
        with open(path, "wb") as handle:
            pickle.dump([1, 2, 3], handle)
    elif damage == "no_header":
        _rewrite(path, header=None)
    elif damage == "foreign":
        _rewrite(path, header=_header(path, format="something-else"))
    elif damage == "newer":
        _rewrite(path, header=_header(path, version=2))
    elif damage == "short_column":
        _rewrite(path, reward=np.zeros(2))
    elif damage == "missing_member":
        _rewrite(path, **{"info.json": None})
    elif damage == "bad_json":
        _rewrite(path, **{"info.json": np.frombuffer(b"[{", dtype=np.uint8)})
    with pytest.raises(ValueError, match=message) as info:
        ExperienceBank.load(path)
    assert isinstance(info.value, ExperienceBankError)
    assert path in str(info.value) and info.value.path == path


def test_zip_with_an_object_array_is_rejected_without_unpickling(tmp_path, exp_api):
    _, ExperienceBank, _ = exp_api
    path = _bank(2).save(tmp_path, "bank.npz")
    with np.load(path, allow_pickle=False) as data:
        members = {name: data[name] for name in data.files}
    members["state"] = np.array([object(), object()], dtype=object)
    with open(path, "wb") as handle:
        np.savez(handle, **members)
    assert zipfile.is_zipfile(path)
    with pytest.raises(ValueError, match=path):
        ExperienceBank.load(path)


def test_as_arrays_stacks_numeric_fields(exp_api):
    arrays = _bank(4).as_arrays()
    assert arrays["state"].shape == (4, 2) and arrays["reward"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert arrays["done"].dtype == bool
