"""Docs that run (issue 17, item 3): every Python block in README.md and docs/ runs or compiles.

A ```python block runs as a script (in a fresh interpreter, in a scratch directory holding
the little task scripts the pages call: ``sim.py``, ``check_mse.py``, ``environment.py``...,
with ``python`` on PATH, the local backend and ``max_iter`` as the page has it; the stub
criteria stop every campaign at its first iteration). A block preceded by the line
``<!-- fragment -->`` is a piece of a larger program: it is compiled only (top-level
``await`` allowed). CONTRIBUTING.md documents the marker.

The pages also must not name repository files that do not exist.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FRAGMENT = "<!-- fragment -->"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

# Pages another engineer is rewriting on their branch; their fragments get the marker there.
# Remove an entry once that branch is merged (the test then holds the page to the rule).
PENDING: dict[str, str] = {}

FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
                   re.MULTILINE | re.DOTALL)


def python_blocks() -> list[tuple[str, int, str, bool]]:
    """``(page, line, code, is_fragment)`` for every ```python block."""
    blocks = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            if match.group("lang") not in ("python", "py", "python3"):
                continue
            before = [line.strip() for line in text[: match.start()].splitlines() if line.strip()]
            fragment = bool(before) and before[-1] == FRAGMENT
            line = text.count("\n", 0, match.start()) + 1
            code = textwrap.dedent(match.group("body"))
            blocks.append((str(page.relative_to(ROOT)), line, code, fragment))
    return blocks


BLOCKS = python_blocks()


def block_id(block: tuple[str, int, str, bool]) -> str:
    return f"{block[0]}:{block[1]}"


# -- the scratch project the runnable blocks call -----------------------------------------

STUBS = {
    "sim.py": "import sys\nprint('simulated', ' '.join(sys.argv[1:]))\n",
    "train.py": "import sys\nprint('trained', ' '.join(sys.argv[1:]))\n",
    "active.py": "print('selected')\n",
    "select_batch.py": "print('selected')\n",
    "check_mse.py": "print('mse on the hold-out set:')\nprint(0.001)\n",  # below every page's threshold
    "environment.py": textwrap.dedent(
        """
        import sys
        from rose.rl.experience import ExperienceBank, create_experience

        parameter = float(sys.argv[1].split("=")[1]) if len(sys.argv) > 1 else 0.0
        bank = ExperienceBank()
        for step in range(4):
            bank.add(create_experience([step, parameter], step % 2, 1.0, [step + 1, parameter], step == 3))
        bank.save()
        """
    ),
    "update.py": "print('updated')\n",
    "check_reward.py": "print(250.0)\n",  # above the tutorial's 200
}


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("docs-project")
    for name, text in STUBS.items():
        (folder / name).write_text(text)
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)  # the pages say `python sim.py`
    return folder


@pytest.mark.parametrize("block", BLOCKS, ids=block_id)
def test_every_python_block_runs_or_is_a_marked_fragment(block, scratch, tmp_path):
    page, line, code, fragment = block
    if page in PENDING and not fragment:
        pytest.xfail(f"{page}: {PENDING[page]}")
    where = f"{page}:{line}"
    if fragment:
        compile(code, where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        return
    script = tmp_path / "block.py"
    script.write_text(code)
    env = {
        **os.environ,
        "PATH": f"{scratch / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "ROSE_RUNS_DIR": str(tmp_path / "runs"),
        "PYTHONPATH": str(scratch),
    }
    for name in ("ROSE_BACKEND", "ROSE_DRY_RUN", "ROSE_TRACKERS", "ROSE_MAX_ITER", "ROSE_RESUME"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, str(script)], cwd=scratch, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, (
        f"the Python block at {where} failed when run as a script; fix it, or mark it `{FRAGMENT}` "
        f"if it is only a piece of a program:\n{done.stderr[-3000:]}"
    )
    if "rose.engine(" in code and "asyncio.run(" in code:  # it ran a campaign: one finished, with a journal that says so
        from rose.runs import list_runs

        runs = list_runs(tmp_path / "runs")
        assert runs and all(run.status in ("criterion_met", "max_iter_reached") for run in runs), where


# -- files the pages name -----------------------------------------------------------------

TOP = ("rose_core/", "plugins/", "docs/", "examples/", "tests/", "benchmarks/", "rose/", ".ci/")
ROOT_FILES = ("README.md", "CONTRIBUTING.md", "CHANGELOG.md", "Makefile", "pyproject.toml", "mkdocs.yml",
              "DESIGN.md", "LICENSE")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def named_paths(page: Path) -> list[tuple[str, Path]]:
    """``(as written, resolved path)`` for every repository file or folder the page names."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))  # code blocks are checked by running them
    found: list[tuple[str, Path]] = []
    for written in CODE_SPAN.findall(text):
        candidate = written.strip().split()[0] if written.strip() else ""
        candidate = candidate.rstrip(".,:;")
        if any(ch in candidate for ch in "<>*{}$") or "://" in candidate:
            continue
        if candidate.startswith(TOP) or candidate in ROOT_FILES:
            resolved = ROOT / "rose_core" / "src" / candidate if candidate.startswith("rose/") else ROOT / candidate
            found.append((written, resolved))
    for target in LINK.findall(text):
        target = target.split("#")[0]
        if not target or "://" in target or target.startswith(("mailto:", "#")):
            continue
        found.append((f"({target})", (page.parent / target).resolve()))
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_page_names_a_file_that_does_not_exist(page):
    missing = [written for written, path in named_paths(page) if not path.exists()]
    assert missing == [], f"{page.relative_to(ROOT)} names files that are not in the repository: {missing}"


def test_no_page_cites_the_internal_design_notes():
    """DESIGN.md is the team's working document, not part of the repository users get."""
    citing = [str(page.relative_to(ROOT)) for page in PAGES if "DESIGN.md" in page.read_text(encoding="utf-8")]
    assert citing == []


def test_runnable_blocks_run_their_main():
    """A block that defines ``async def main`` and is not a fragment must also run it."""
    idle = [block_id(b) for b in BLOCKS if not b[3] and "async def main" in b[2] and "asyncio.run(" not in b[2]]
    assert idle == []


def test_the_checks_see_what_they_check():
    assert len(BLOCKS) >= 20 and any(not b[3] for b in BLOCKS) and any(b[3] for b in BLOCKS)
    assert any(w == "rose_core/" for w, _ in named_paths(ROOT / "README.md"))
    assert any(w.startswith("(docs/") for w, _ in named_paths(ROOT / "README.md"))


def test_readme_task_script_does_not_shadow_the_standard_library():
    import sys as _sys

    names = set(re.findall(r"\b(\w+)\.py\b", (ROOT / "README.md").read_text()))
    shadowing = sorted(n for n in names if n in _sys.stdlib_module_names)
    assert shadowing == [], f"README task scripts named like standard modules: {shadowing}"
