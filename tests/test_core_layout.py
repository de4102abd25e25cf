"""The core's layout keeps its architecture visible: no import circles, one module knows asyncflow."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "rose_core" / "src" / "rose"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(CORE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _core_modules() -> dict[str, Path]:
    return {_module_name(path): path for path in CORE.rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path, modules: set[str]) -> set[str]:
    """Every core module ``path`` imports, at module level or inside functions (not for type checking)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {name for name in found if name in modules}


def test_the_core_has_no_import_circles() -> None:
    modules = _core_modules()
    graph = {name: _imports(path, set(modules)) - {name, "rose"} for name, path in modules.items()}
    # the deprecated alias modules only point at their new home
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append([*stack[stack.index(target):], target])
            elif target not in state:
                walk(target)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            walk(name)
    assert not cycles, "import circles in rose-core:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_only_the_engine_module_knows_asyncflow_internals() -> None:
    # the test kits build engines too
    allowed_importers = {"rose.engine", "rose.testing", "rose.testing.backend", "rose.testing.thread_backend"}
    offenders = []
    for name, path in _core_modules().items():
        text = path.read_text()
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("radical.asyncflow"):
                if name not in allowed_importers or node.module != "radical.asyncflow":
                    if name != "rose.engine":
                        offenders.append(f"{name} imports {node.module}")
            if isinstance(node, ast.Attribute) and node.attr in ("components", "_backends", "task_callbacks"):
                if name != "rose.engine":
                    offenders.append(f"{name} uses engine.{node.attr}")
    assert not offenders, offenders


def test_the_command_line_and_the_test_kits_are_subpackages() -> None:
    assert (CORE / "cli" / "__init__.py").is_file() and (CORE / "testing" / "__init__.py").is_file()
    assert (CORE / "builtin" / "progress.py").is_file()
    assert not (CORE / "cli.py").exists() and not (CORE / "testing.py").exists()


#: modules of the run side that name ``Learner`` in type hints only (``if TYPE_CHECKING:``): the
#: learner drives them, they never import it at run time
TYPE_ONLY_LEARNER_REFERENCES = {
    "rose.steps", "rose.campaign", "rose.loop", "rose.taskrun", "rose.criterion", "rose.manifest", "rose.launch", "rose.direct",
}


def _type_checking_imports(path: Path, modules: set[str]) -> set[str]:
    """The core modules ``path`` imports under ``if TYPE_CHECKING:`` only."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.body:
                for item in ast.walk(child):
                    if isinstance(item, ast.ImportFrom) and item.module:
                        found.add(item.module)
                    elif isinstance(item, ast.Import):
                        found.update(alias.name for alias in item.names)
    return {name for name in found if name in modules}


def test_type_hints_point_back_only_from_the_run_side_to_the_learner() -> None:
    """With type-only imports counted too, the one allowed back-reference is run side -> rose.learner."""
    modules = _core_modules()
    graph = {name: _imports(path, set(modules)) - {name, "rose"} for name, path in modules.items()}
    extra = []
    for name, path in modules.items():
        for target in _type_checking_imports(path, set(modules)) - {name, "rose"}:
            if target == "rose.learner" and name in TYPE_ONLY_LEARNER_REFERENCES:
                continue
            graph[name].add(target)
            extra.append(f"{name} -> {target}")
    state: dict[str, int] = {}
    cycles: list[str] = []

    def walk(node: str, stack: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*stack[stack.index(target):], target]))
            elif target not in state:
                walk(target, [*stack, target])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            walk(name, [name])
    assert not cycles, "type-only import circles in rose-core:\n" + "\n".join(cycles)
    learner_imports = graph["rose.learner"]
    assert {"rose.campaign", "rose.loop", "rose.launch", "rose.taskrun"} <= learner_imports | {
        t for m in learner_imports for t in graph.get(m, ())}


def test_modules_stay_small() -> None:
    """No core module is over 500 lines; the learner API is at most 350."""
    sizes = {name: len(path.read_text().splitlines()) for name, path in _core_modules().items()}
    assert sizes["rose.learner"] <= 350, sizes["rose.learner"]
    assert {name: n for name, n in sizes.items() if n > 500} == {}


def test_the_core_names_no_plugin_outside_the_deprecation_table() -> None:
    offenders = [
        str(path.relative_to(ROOT)) for path in CORE.rglob("*.py")
        if path.name != "deprecations.py" and ("rose_plugin_" in path.read_text() or "rose-plugin-" in path.read_text())
    ]
    assert offenders == []


#: (module, literal) pairs that equal a plugin task kind without naming it: a metric called like the
#: uncertainty task, and ``apt-get update`` in the Slurm test kit
KIND_LIKE_LITERALS = {("rose.metrics", "uncertainty"), ("rose.testing.slurm", "update")}


def _plugin_task_kinds() -> set[str]:
    """Every task kind the installed plugins declare (the AL and RL plugins here), and the ones the
    deprecation table says moved to a plugin."""
    from rose.config import kind_classes, task_kinds
    from rose.deprecations import PLUGIN_TASK_KINDS

    return {kind for cls in kind_classes().values() for kind in task_kinds(cls)} | set(PLUGIN_TASK_KINDS)


def test_the_core_names_no_task_kind_of_a_plugin_outside_the_deprecation_table() -> None:
    """No ``<kind>_task`` decorator, ``LearnerConfig`` field, ``kind=`` keyword or ``"kind"`` string
    of a plugin's task kind in the core (code, docstrings and comments): plugins declare them."""
    import re

    kinds = _plugin_task_kinds()
    assert {"active_learn", "prediction", "utility", "uncertainty", "environment", "update"} <= kinds
    words = "|".join(sorted(kinds))
    in_text = re.compile(rf"\b({words})_task\b|\b({words})\s*[=:]\s*(TaskConfig|task_field|TaskKind)|``({words})``"
                         rf"|\b({'|'.join(k for k in kinds if '_' in k)})\b")
    offenders = []
    for name, path in _core_modules().items():
        if name == "rose.deprecations":
            continue
        text = path.read_text()
        offenders += [f"{name}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}" for m in in_text.finditer(text)]
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Constant) and node.value in kinds and (name, node.value) not in KIND_LIKE_LITERALS:
                offenders.append(f"{name}:{node.lineno}: {node.value!r}")
            elif isinstance(node, ast.keyword) and node.arg in kinds:
                offenders.append(f"{name}:{node.lineno}: {node.arg}=")
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id in kinds:
                offenders.append(f"{name}:{node.lineno}: field {node.target.id}")
    assert offenders == [], "the core names task kinds that plugins declare:\n" + "\n".join(offenders)
