"""Install each distribution from its wheel into a fresh environment and run its tests there.

This is what `pip install rose-plugin-x` means for users: no workspace, only declared
dependencies. An undeclared dependency cannot hide behind the shared development
environment. Also checks, with plain pip, that an installed plugin shows in `rose plugins`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]
TEST_TOOLS = ["pytest>=8", "pytest-asyncio>=0.24", "pytest-timeout>=2.3"]


def uv() -> str:
    found = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    if not Path(found).exists():
        sys.exit("uv not found: run `make setup` first")
    return found


def run(cmd: list[str], **kwargs: object) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kwargs)  # type: ignore[call-overload]


def members() -> list[Path]:
    found = [ROOT / "rose_core", *sorted((ROOT / "examples").glob("rose-plugin-*"))]
    found += sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))
    return found


def project(member: Path) -> dict[str, object]:
    with open(member / "pyproject.toml", "rb") as handle:
        return tomllib.load(handle)["project"]  # type: ignore[no-any-return]


def main() -> int:
    # `make test` starts this in the background of a shell without job control, which ignores
    # SIGINT for it; a handler here gives the tests' own processes Ctrl-C back (the local plugin's
    # tests send it to campaigns, which would otherwise inherit "ignored")
    signal.signal(signal.SIGINT, signal.default_int_handler)
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    env.pop("VIRTUAL_ENV", None)
    with tempfile.TemporaryDirectory(prefix="rose-isolation-") as tmp:
        wheels = Path(tmp) / "wheels"
        for member in members():
            run([uv(), "build", "--quiet", "--wheel", "--out-dir", str(wheels), str(member)], env=env)
        failures = []
        for member in members():
            tests = member / "tests"
            if not tests.is_dir() or member.name == "rose_core":
                continue
            meta = project(member)
            name = str(meta["name"])
            extras = meta.get("optional-dependencies") or {}
            requirement = f"{name}[test]" if isinstance(extras, dict) and "test" in extras else name
            venv = Path(tmp) / f"venv-{name}"
            started = time.monotonic()
            run([uv(), "venv", "--quiet", "--python", sys.executable, str(venv)], env=env)
            python = str(venv / "bin" / "python")
            install = [uv(), "pip", "install", "--quiet", "--python", python, "--find-links", str(wheels)]
            run([*install, requirement, *TEST_TOOLS], env=env)
            result = subprocess.run(
                [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--import-mode=importlib", "-o", "asyncio_mode=auto",
                 "-o", "asyncio_default_fixture_loop_scope=function", "--rootdir", str(member), "-c", os.devnull,
                 "-m", "not slurm",  # the Slurm tests run once, in `make unit`: they need no isolation
                 str(tests)],
                env={**env, "PATH": f"{venv / 'bin'}{os.pathsep}{env['PATH']}"}, cwd=tmp,
            )
            print(f"isolated {name}: exit {result.returncode} in {time.monotonic() - started:.0f} s", flush=True)
            if result.returncode != 0:
                failures.append(name)
        # plain pip, the way users install a plugin
        venv = Path(tmp) / "venv-pip"
        run([sys.executable, "-m", "venv", str(venv)])
        pip = str(venv / "bin" / "pip")
        run([pip, "install", "--quiet", "--disable-pip-version-check", "--find-links", str(wheels), "rose-plugin-hello"])
        listing = subprocess.run([str(venv / "bin" / "rose"), "plugins"], capture_output=True, text=True, check=True).stdout
        print(listing)
        listed = [line for line in listing.splitlines() if line.startswith("hello") and "rose-plugin-hello" in line]
        if not any("active" in line for line in listed):
            failures.append("pip install rose-plugin-hello: not listed by `rose plugins`")
    if failures:
        print("isolation failures:", ", ".join(failures))
        return 1
    print("isolation: every distribution passes its tests on its own")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
