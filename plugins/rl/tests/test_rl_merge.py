"""Merging environment banks: order, cap, atomicity, and loud failures."""

from __future__ import annotations

import os

import pytest
from rose_plugin_rl.errors import CorruptBankError, MissingBankError
from rose_plugin_rl.experience import ExperienceBank, create_experience
from rose_plugin_rl.merge import MERGED_BANK_NAME, bank_file_for, merge_banks


def _write(path: str, source: str, n: int) -> None:
    bank = ExperienceBank()
    for i in range(n):
        bank.add(create_experience([i], 0, 1.0, [i + 1], False, {"source": source, "i": i}))
    bank.save(os.path.dirname(path), os.path.basename(path))


def _sources(path: str) -> list[str]:
    return [e.info["source"] for e in ExperienceBank.load(path)]


def test_merge_orders_by_environment_keeps_history_and_removes_merged_banks(tmp_path):
    wd = os.fspath(tmp_path)
    envs = ["env_b", "env_a"]
    _write(bank_file_for(wd, "env_a"), "a0", 2)
    _write(bank_file_for(wd, "env_b"), "b0", 3)
    report = merge_banks(wd, envs)
    assert report.by_source == {"env_b": 3, "env_a": 2}
    assert (report.new, report.previous, report.total, report.dropped) == (5, 0, 5, 0)
    assert _sources(report.path) == ["b0"] * 3 + ["a0"] * 2  # registration order
    assert sorted(os.listdir(wd)) == [MERGED_BANK_NAME]

    _write(bank_file_for(wd, "env_a"), "a1", 1)
    _write(bank_file_for(wd, "env_b"), "b1", 1)
    _write(os.path.join(wd, "experience_bank_custom_name.npz"), "x1", 1)  # any experience_bank_*.npz counts
    report = merge_banks(wd, envs)
    assert report.previous == 5 and report.total == 8
    assert report.by_source == {"env_b": 1, "env_a": 1, "experience_bank_custom_name.npz": 1}
    assert _sources(report.path)[5:] == ["b1", "a1", "x1"]


def test_merged_bank_is_capped_keeping_the_newest(tmp_path):
    wd = os.fspath(tmp_path)
    _write(bank_file_for(wd, "e"), "old", 4)
    merge_banks(wd, ["e"], max_size=5)
    _write(bank_file_for(wd, "e"), "new", 3)
    report = merge_banks(wd, ["e"], max_size=5)
    assert report.total == 5 and report.dropped == 2
    assert _sources(report.path) == ["old", "old", "new", "new", "new"]


def test_missing_environment_bank_is_an_error_naming_the_expected_path(tmp_path):
    wd = os.fspath(tmp_path)
    _write(bank_file_for(wd, "env_1"), "one", 2)
    with pytest.raises(MissingBankError, match="'env_2'") as info:
        merge_banks(wd, ["env_1", "env_2"])
    assert bank_file_for(wd, "env_2") in str(info.value)
    assert os.path.exists(bank_file_for(wd, "env_1"))  # nothing deleted
    assert not os.path.exists(os.path.join(wd, MERGED_BANK_NAME))
    with pytest.raises(MissingBankError, match="no experience bank was written"):
        merge_banks(os.fspath(tmp_path / "empty"), ["env_1"])


def test_corrupt_bank_is_reported_and_nothing_is_lost(tmp_path):
    wd = os.fspath(tmp_path)
    _write(bank_file_for(wd, "env_1"), "first", 2)
    merge_banks(wd, ["env_1"])
    merged = os.path.join(wd, MERGED_BANK_NAME)
    before = open(merged, "rb").read()
    _write(bank_file_for(wd, "env_1"), "second", 2)
    bad = bank_file_for(wd, "env_2")
    with open(bad, "wb") as handle:
        handle.write(b"PK\x03\x04 truncated")
    with pytest.raises(CorruptBankError) as info:
        merge_banks(wd, ["env_1", "env_2"])
    assert info.value.path == bad and bad in str(info.value)
    assert os.path.exists(bank_file_for(wd, "env_1")) and os.path.exists(bad)
    assert open(merged, "rb").read() == before


def test_environment_banks_survive_a_failed_write_of_the_merged_bank(tmp_path, monkeypatch):
    wd = os.fspath(tmp_path)
    _write(bank_file_for(wd, "env_1"), "x", 2)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    # fault injection: the disk fills up while the merged bank is written
    monkeypatch.setattr("numpy.savez", full_disk)
    with pytest.raises(OSError, match="No space left"):
        merge_banks(wd, ["env_1"])
    assert os.listdir(wd) == [os.path.basename(bank_file_for(wd, "env_1"))]  # no partial or temp file


def test_bank_file_names_are_safe(tmp_path):
    assert os.path.basename(bank_file_for(os.fspath(tmp_path), "env 1/../x")) == "experience_bank_env_1_.._x.npz"
