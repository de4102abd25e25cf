"""Backend options from the command line: ``rose run --backend-option KEY=VALUE`` -> the factory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rose.engine import engine as make_engine
from rose.errors import RoseError
from rose.overrides import ENV, Overrides, applied, engine_choice, parse_backend_option


@pytest.mark.parametrize(("text", "expected"), [
    ("n_workers=4", ("n_workers", 4)),
    ("processes=false", ("processes", False)),
    ("address=tcp://10.0.0.1:8786", ("address", "tcp://10.0.0.1:8786")),
    ("queue=", ("queue", "")),
    ('raptor_config={"masters": 1}', ("raptor_config", {"masters": 1})),
    ("kill_grace=2.5", ("kill_grace", 2.5)),
])
def test_values_are_json_when_they_can_be(text: str, expected: tuple[str, object]) -> None:
    assert parse_backend_option(text) == expected


@pytest.mark.parametrize("text", ["n_workers", "=4", "two words=1"])
def test_malformed_option_names_the_fix(text: str) -> None:
    with pytest.raises(RoseError, match="KEY=VALUE"):
        parse_backend_option(text)


def test_options_travel_as_json_and_merge_over_the_script() -> None:
    over = Overrides(backend_options={"max_workers": 1})
    assert json.loads(over.to_env()[ENV["backend_options"]]) == {"max_workers": 1}
    with applied(over):
        # same backend: the script's options stay, the command line wins on a clash
        assert engine_choice("local", {"max_workers": 4, "executor": "process"}) == (
            "local", {"max_workers": 1, "executor": "process"})
    with applied(Overrides(backend="dask", backend_options={"address": "tcp://h:1"})):
        # another backend: the script's options are for the old one and are dropped
        assert engine_choice("local", {"max_workers": 4}) == ("dask", {"address": "tcp://h:1"})
    with applied(Overrides(dry_run=True, backend_options={"max_workers": 1})):
        assert engine_choice("local", {}) == ("dry-run", {})


def test_a_bad_environment_value_is_an_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV["backend_options"], "[1, 2]")
    with pytest.raises(RoseError, match="ROSE_BACKEND_OPTIONS"):
        Overrides.from_env()


async def test_options_reach_the_local_factory_and_are_checked(tmp_path: Path) -> None:
    with applied(Overrides(backend_options={"max_workers": "3"})):
        async with make_engine("local", work_dir=str(tmp_path)) as engine:
            assert engine.backend.max_workers == 3
    with applied(Overrides(backend_options={"max_wrkers": 3})), pytest.raises(TypeError) as unknown:
        await make_engine("local", work_dir=str(tmp_path))
    assert "max_wrkers" in str(unknown.value) and "max_workers" in str(unknown.value)
    with applied(Overrides(backend_options={"max_workers": "many"})), pytest.raises(TypeError, match="many"):
        await make_engine("local", work_dir=str(tmp_path))
