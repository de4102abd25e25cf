"""The naming rule: plugins/<name>/ -> rose-plugin-<name> -> rose_plugin_<name> -> entry point <name>."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda p: p.name)
def test_plugin_follows_the_naming_rule(plugin: Path) -> None:
    name = plugin.name
    meta = tomllib.loads((plugin / "pyproject.toml").read_text())["project"]
    assert meta["name"] == f"rose-plugin-{name}"
    package = plugin / "src" / f"rose_plugin_{name}"
    assert (package / "__init__.py").is_file() and (package / "py.typed").is_file()
    eps = meta["entry-points"]["rose.plugins"]
    assert list(eps) == [name], f"one entry point named {name!r}"
    assert eps[name].split(":")[0].split(".")[0] == f"rose_plugin_{name}"
    assert (plugin / "README.md").is_file() and (plugin / "tests").is_dir()
    assert "rose-core" in " ".join(meta["dependencies"])


def test_every_plugin_directory_is_installed_and_discovered() -> None:
    installed = {ep.name for ep in entry_points(group="rose.plugins")}
    assert {p.name for p in PLUGINS} <= installed


def test_every_distribution_in_this_repository_has_the_cores_version() -> None:
    """rose-core and the plugins it ships are released together: one version, and the CHANGELOG names it."""
    core = tomllib.loads((ROOT / "rose_core" / "pyproject.toml").read_text())["project"]["version"]
    versions = {p.name: tomllib.loads((p / "pyproject.toml").read_text())["project"]["version"] for p in PLUGINS}
    assert {name: v for name, v in versions.items() if v != core} == {}, f"rose-core is {core}"
    release = core.split(".dev")[0]
    assert f"] - {release}" in (ROOT / "CHANGELOG.md").read_text().split("\n## ", 2)[1], (
        f"the CHANGELOG's first section names {release}")
