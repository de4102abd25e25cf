"""The rose_commands hook: plugin subcommands of `rose`, parsed by argparse, listed, refused on conflicts."""

from __future__ import annotations

import argparse

import pytest

import rose
from rose.cli import main
from rose.errors import PluginConflictError, PluginLoadError
from rose.records import CommandSpec
from rose.testing import check_command_spec

CALLS: list[argparse.Namespace] = []


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name")
    parser.add_argument("--times", type=int, default=1)


def _greet(args: argparse.Namespace) -> int:
    CALLS.append(args)
    print(" ".join([f"hello {args.name}"] * args.times))
    return 3 if args.name == "fail" else 0


def _never(parser: argparse.ArgumentParser) -> None:
    raise AssertionError("only the invoked command's options are loaded")


class Greeter:
    @staticmethod
    @rose.hookimpl
    def rose_commands() -> list[CommandSpec]:
        return [CommandSpec(name="greet", summary="say hello", add_arguments=_arguments, run=_greet),
                CommandSpec(name="other", summary="another one", add_arguments=_never, run=_greet)]


class SecondGreeter:
    @staticmethod
    @rose.hookimpl
    def rose_commands() -> list[CommandSpec]:
        return [CommandSpec(name="greet", summary="say hello too", add_arguments=_arguments, run=_greet)]


class Shadow:
    @staticmethod
    @rose.hookimpl
    def rose_commands() -> list[CommandSpec]:
        return [CommandSpec(name="runs", summary="not rose's", add_arguments=_arguments, run=_greet)]


def test_a_plugin_command_is_parsed_run_and_its_status_returned(rose_plugins, capsys) -> None:
    rose_plugins.register(Greeter, name="greeter")
    CALLS.clear()
    assert main(["greet", "world", "--times", "2"]) == 0
    assert capsys.readouterr().out.strip() == "hello world hello world"
    assert CALLS[-1].times == 2
    assert main(["--log-level", "INFO", "greet", "fail"]) == 3
    with pytest.raises(SystemExit) as stop:
        main(["greet", "world", "--tims", "2"])  # argparse owns the options: a typo is an error
    assert stop.value.code == 2
    assert "unrecognized arguments: --tims" in capsys.readouterr().err
    check_command_spec(rose_plugins.registry.commands["greet"])


def test_plugin_commands_are_listed_by_help_and_rose_plugins(rose_plugins, capsys) -> None:
    rose_plugins.register(Greeter, name="greeter")
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "greet" in out and "say hello" in out
    assert main(["plugins", "-v"]) == 0
    out = capsys.readouterr().out
    assert "commands" in out and "greet, other" in out


def test_two_plugins_giving_one_command_is_an_error_naming_both(rose_plugins) -> None:
    rose_plugins.register(Greeter, name="greeter")
    rose_plugins.register(SecondGreeter, name="second")
    with pytest.raises(PluginConflictError, match="command 'greet'.*greeter.*second"):
        main(["greet", "x"])


def test_a_plugin_command_cannot_shadow_a_built_in_one(rose_plugins, monkeypatch, capsys, tmp_path) -> None:
    rose_plugins.register(Shadow, name="shadow")
    monkeypatch.setenv("ROSE_STRICT_PLUGINS", "1")  # as make unit runs: a plugin error raises
    with pytest.raises(PluginLoadError, match="'shadow'.*command 'runs', which is rose's own"):
        main(["runs", "--root", str(tmp_path)])
    monkeypatch.delenv("ROSE_STRICT_PLUGINS", raising=False)
    with pytest.warns(RuntimeWarning, match="command 'runs', which is rose's own"):
        assert main(["runs", "--root", str(tmp_path)]) == 0
    assert "no campaigns under" in capsys.readouterr().out  # rose's own `rose runs` ran


def test_command_names_are_validated() -> None:
    with pytest.raises(ValueError):
        CommandSpec(name="Bad Name", summary="x", add_arguments=_arguments, run=_greet)
    with pytest.raises(TypeError):
        CommandSpec(name="ok", summary="x", add_arguments=_arguments, run="not callable")
