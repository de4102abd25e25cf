"""Plugins use only the core's public API: no underscore attribute of the learner machinery."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "rose_core" / "src" / "rose"
#: the core's learner and campaign classes, whose underscore attributes plugins must not touch
MACHINERY = {
    "learner.py": ("Learner",),
    "tasks.py": ("TaskKind",),
    "kinds.py": ("TaskKinds",),
    "state.py": ("IterationBook",),
    "legacy.py": ("OldRunNames",),
    "campaign.py": ("Campaign", "CampaignStream"),
    "steps.py": ("Step", "Plan", "Outcome"),
    "fanout.py": ("ParallelCopies",),
    "streaming.py": ("LearnerRun",),
    "journal.py": ("Journal",),
    "resume.py": ("ResumePoint",),
}


def _underscored(node: ast.AST) -> set[str]:
    names: set[str] = set()
    for item in ast.walk(node):
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name.startswith("_"):
            names.add(item.name)
        if isinstance(item, ast.Attribute) and isinstance(item.ctx, ast.Store) and item.attr.startswith("_"):
            names.add(item.attr)
    return {name for name in names if not name.startswith("__")}


def _private_names() -> set[str]:
    names: set[str] = set()
    for module, classes in MACHINERY.items():
        for node in ast.walk(ast.parse((CORE / module).read_text())):
            if isinstance(node, ast.ClassDef) and node.name in classes:
                names |= _underscored(node)
    return names


def _is_policy_class(node: ast.ClassDef) -> bool:
    """A class built on the core's learners (its attributes live in the core's namespace)."""
    bases = [ast.unparse(base) for base in node.bases]
    return any(base.endswith(("Learner", "Experience", "Selector")) for base in bases)


def _own_names(package: Path) -> set[str]:
    """Underscore names a plugin's other classes and functions define (their own, not the core's)."""
    own: set[str] = set()
    for path in package.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and not _is_policy_class(node):
                own |= _underscored(node)
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("_"):
                own.add(node.name)
    return own


def test_plugins_touch_no_private_attribute_of_the_core() -> None:
    private = _private_names()
    assert {"_stop_requested", "_run_dir", "_translate", "_iteration_state"} <= private  # the scan sees the machinery
    offenders = []
    for path in sorted(p for root in [*ROOT.glob("plugins/*/src"), *ROOT.glob("examples/rose-plugin-*/src")]
                       for p in root.rglob("*.py")):
        own = _own_names(next(p for p in path.parents if p.parent.name == "src"))
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in private and node.attr not in own:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} .{node.attr}")
    assert offenders == [], "plugins reach into the core's private attributes:\n" + "\n".join(offenders)
