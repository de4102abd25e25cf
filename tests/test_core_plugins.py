"""Plugin discovery as users see it: `rose plugins`, broken, disabled, conflicting plugins."""

from __future__ import annotations

from pathlib import Path

import pytest
from core_support import make_fake_distribution, run_rose

import rose
from rose.errors import PluginConflictError, UnknownNameError
from rose.records import TrackerSpec
from rose.testing import PluginSandbox

GOOD = """
import rose
from rose.records import TrackerSpec

@rose.hookimpl
def rose_trackers():
    return [TrackerSpec(name="fake-tracker", summary="s", factory=rose.TrackerBase)]
"""

BROKEN = """
raise RuntimeError("this plugin is broken on purpose")
"""

CLASHING = """
import rose
from rose.records import TrackerSpec

@rose.hookimpl
def rose_trackers():
    return [TrackerSpec(name="hello", summary="clashes with rose-plugin-hello", factory=rose.TrackerBase)]
"""


def test_rose_plugins_lists_builtins_and_installed_plugins() -> None:
    result = run_rose(["plugins"])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    builtin = next(line for line in lines if line.startswith("builtin"))
    assert "rose-core" in builtin and "metrics: 40" in builtin and "active" in builtin
    hello = next(line for line in lines if line.startswith("hello"))
    assert "rose-plugin-hello" in hello and "trackers: 1" in hello and "active" in hello


def test_python_dash_m_rose_verbose_lists_names() -> None:
    result = run_rose(["plugins", "-v"])
    assert "trackers: hello" in result.stdout
    assert "schedulers: constant, step, exponential, cosine" in result.stdout


def test_disabled_plugin_is_shown_disabled_and_not_loaded(fake_site: Path) -> None:
    result = run_rose(["plugins"], ROSE_DISABLE_PLUGINS="hello")
    hello = next(line for line in result.stdout.splitlines() if line.startswith("hello"))
    assert "disabled" in hello and "ROSE_DISABLE_PLUGINS" in hello
    assert "trackers" not in hello


def test_broken_plugin_is_reported_failed_while_others_work(fake_site: Path) -> None:
    make_fake_distribution(fake_site, "rose-plugin-broken", "broken", "rose_plugin_broken", BROKEN)
    make_fake_distribution(fake_site, "rose-plugin-fine", "fine", "rose_plugin_fine", GOOD)
    result = run_rose(["plugins"], extra_path=fake_site)
    assert result.returncode == 0, result.stderr
    broken = next(line for line in result.stdout.splitlines() if line.startswith("broken"))
    assert "failed" in broken and "this plugin is broken on purpose" in broken and "1.2.3" in broken
    fine = next(line for line in result.stdout.splitlines() if line.startswith("fine"))
    assert "active" in fine and "trackers: 1" in fine
    # the warning names the entry point, distribution, version, cause and the fix
    assert "rose-plugin-broken 1.2.3" in result.stderr
    assert "ROSE_DISABLE_PLUGINS=broken" in result.stderr


def test_strict_mode_raises_for_a_broken_plugin(fake_site: Path) -> None:
    make_fake_distribution(fake_site, "rose-plugin-broken", "broken", "rose_plugin_broken", BROKEN)
    result = run_rose(["plugins"], extra_path=fake_site, ROSE_STRICT_PLUGINS="1")
    assert result.returncode != 0
    assert "PluginLoadError" in result.stderr and "rose-plugin-broken" in result.stderr


def test_two_plugins_providing_one_name_is_an_error_naming_both(fake_site: Path) -> None:
    make_fake_distribution(fake_site, "rose-plugin-clash", "clash", "rose_plugin_clash", CLASHING)
    result = run_rose(["plugins"], extra_path=fake_site)
    assert result.returncode != 0
    assert "rose-plugin-clash" in result.stderr and "rose-plugin-hello" in result.stderr
    assert "PluginConflictError" in result.stderr


def test_conflict_in_process(rose_plugins: PluginSandbox) -> None:
    class One:
        @staticmethod
        @rose.hookimpl
        def rose_trackers() -> list[TrackerSpec]:
            return [TrackerSpec(name="dup", summary="", factory=rose.TrackerBase)]

    class Two(One):
        pass

    rose_plugins.register(One, name="one")
    rose_plugins.register(Two, name="two")
    with pytest.raises(PluginConflictError, match="'dup'.*one.*two"):
        rose_plugins.registry  # noqa: B018 - building the registry raises


def test_unknown_name_lists_what_is_available_and_the_closest(rose_plugins: PluginSandbox) -> None:
    with pytest.raises(UnknownNameError) as info:
        rose.tracker("consle")
    message = str(info.value)
    assert "Did you mean 'console'?" in message and "console, jsonl" in message
    with pytest.raises(UnknownNameError, match="no scheduler named 'cosin'.*Did you mean 'cosine'"):
        rose.scheduler("cosin")


def test_a_misspelled_hook_is_named_and_an_error_in_strict_mode(
    rose_plugins: PluginSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rose
    from rose.errors import PluginLoadError
    from rose.plugins import registry

    class Typo:
        @staticmethod
        @rose.hookimpl
        def rose_tracker() -> list[object]:
            return []

    monkeypatch.setenv("ROSE_STRICT_PLUGINS", "1")
    rose_plugins.register(Typo, name="typo-plugin")
    with pytest.raises(PluginLoadError, match=r"'typo-plugin' marks rose_tracker\(\).*did you mean rose_trackers"):
        registry()
    monkeypatch.delenv("ROSE_STRICT_PLUGINS")
    with pytest.warns(RuntimeWarning, match="rose_tracker"):
        registry()


def test_rebuilding_the_registry_lists_what_each_plugin_provides_once() -> None:
    from rose import plugins

    plugins.registry()
    plugins.invalidate()
    builtin = next(info for info in plugins.plugin_infos() if info.name == "builtin")
    assert builtin.provides["trackers"] == sorted(set(builtin.provides["trackers"]), key=builtin.provides["trackers"].index)
