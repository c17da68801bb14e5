"""The experiment registry and the package's import structure."""

import ast
from pathlib import Path

import pytest

from pepita_lib.experiments import EXPERIMENTS, register

PKG = Path(__file__).resolve().parents[1] / "pepita_lib"


def test_a_name_cannot_be_registered_twice():
    name = next(iter(EXPERIMENTS))
    with pytest.raises(ValueError, match="registered already"):
        register(name, "a second grid under the same name")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str) -> set[str]:
    """Modules of pepita_lib imported anywhere in a file (function-local imports included)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[: len(base) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            found.add(target)
            found.update(f"{target}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m.startswith("pepita_lib")}


def import_graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PKG.rglob("*.py")}
    return {m: _imports(p, m) & set(files) - {m} for m, p in files.items()}


def test_the_library_has_no_import_cycle():
    graph, state = import_graph(), {}

    def visit(m: str, path: tuple[str, ...]) -> None:
        if state.get(m) == "done":
            return
        assert state.get(m) != "open", "import cycle: " + " -> ".join(path + (m,))
        state[m] = "open"
        for n in sorted(graph[m]):
            # a package's __init__ importing its own submodules is not a cycle
            if not n.startswith(m + "."):
                visit(n, path + (m,))
        state[m] = "done"

    for m in sorted(graph):
        visit(m, ())
