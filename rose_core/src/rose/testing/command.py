"""``CommandContract``: what every ``rose`` subcommand a plugin provides must do.

Subclass it in your plugin's tests, name the command and an invocation that ends by itself::

    from rose.testing import CommandContract

    class TestGreetCommand(CommandContract):
        command = "greet"
        run_argv = ("world",)          # rose greet world
        run_output = "hello world"     # printed by that run (optional)

The checks use the installed plugins (the entry points), as ``rose`` itself does: the command
registers with a summary, appears in ``rose --help`` and ``rose plugins -v``, parses ``--help``
and runs with ``run_argv`` to the exit status ``run_status``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from rose.records import CommandSpec

__all__ = ["CommandContract", "check_command_spec"]


def check_command_spec(spec: CommandSpec) -> None:
    """A command record has a summary and callables that declare options and run."""
    assert isinstance(spec, CommandSpec)
    assert spec.summary, f"command {spec.name!r} needs a summary (rose --help shows it)"
    assert callable(spec.add_arguments) and callable(spec.run)


class CommandContract:
    """The contract suite of a ``rose`` subcommand provided by a plugin (see the module docstring)."""

    #: the command's name (``rose <command>``)
    command: str = ""
    #: arguments after the command name for a run that ends by itself
    run_argv: Sequence[str] = ()
    #: the exit status of that run
    run_status: int = 0
    #: text that run prints on standard output or standard error (empty: not checked)
    run_output: str = ""

    @pytest.fixture(autouse=True)
    def _fresh_plugins(self) -> Iterator[None]:
        from rose import plugins

        plugins.reset()
        yield
        plugins.reset()

    def _main(self, argv: Sequence[str]) -> int:
        from rose.cli import main

        try:
            return main(list(argv))
        except SystemExit as stop:
            return int(stop.code or 0)

    def test_command_registers_with_a_summary(self) -> None:
        """An installed plugin provides the command, with a summary."""
        from rose.plugins import provider_of, registry

        assert self.command, "set `command = \"<name>\"` on the CommandContract subclass"
        commands = registry().commands
        assert self.command in commands, f"no plugin provides the command {self.command!r}; installed: {sorted(commands)}"
        check_command_spec(commands[self.command])
        assert provider_of("commands", self.command) is not None

    def test_command_is_listed_by_rose_help_and_rose_plugins(self, capsys: Any) -> None:
        """``rose --help`` and ``rose plugins -v`` name the command."""
        assert self._main(["--help"]) == 0
        assert self.command in capsys.readouterr().out
        assert self._main(["plugins", "-v"]) == 0
        assert self.command in capsys.readouterr().out

    def test_command_parses_help(self, capsys: Any) -> None:
        """``rose <command> --help`` prints its usage and exits 0."""
        assert self._main([self.command, "--help"]) == 0
        out = capsys.readouterr().out
        assert f"rose {self.command}" in out, out

    def test_command_runs(self, capsys: Any) -> None:
        """``rose <command> <run_argv>`` ends with ``run_status`` (printing ``run_output``)."""
        status = self._main([self.command, *self.run_argv])
        captured = capsys.readouterr()
        assert status == self.run_status, (status, captured.out, captured.err)
        if self.run_output:
            assert self.run_output in captured.out + captured.err
