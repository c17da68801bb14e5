"""The library's shape: what loads what, and how long its functions are."""

import ast
import subprocess
import sys
from pathlib import Path

import pepita_lib


def test_report_loads_records_without_the_trainer():
    code = (
        "import sys, pepita_lib.report; "
        "print(sorted(m for m in ('pepita_lib.train', 'pepita_lib.runner', 'pepita_lib.rules') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


MAX_LINES = 60
DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _inner_defs(node: ast.AST) -> list[ast.AST]:
    """Functions and classes defined inside ``node``, outermost only."""
    found = []
    for child in ast.iter_child_nodes(node):
        found.extend([child] if isinstance(child, DEFS) else _inner_defs(child))
    return found


def own_lines(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """A function's lines (signature, docstring and body), less those of functions and
    classes defined inside it, which count as their own."""
    inner = sum(d.end_lineno - d.lineno + 1 for d in _inner_defs(fn))
    return fn.end_lineno - fn.lineno + 1 - inner


def long_functions(root: Path, limit: int = MAX_LINES) -> list[str]:
    """``path:line name lines`` of every function under ``root`` over ``limit`` lines."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if own_lines(node) > limit:
                    found.append(f"{path.relative_to(root.parent)}:{node.lineno} {node.name}")
    return found


def test_own_lines_leave_nested_functions_out():
    code = "def f():\n    if x:\n        def g():\n            return 1\n    return 2\n"
    f = ast.parse(code).body[0]
    assert own_lines(f) == 3 and own_lines(f.body[0].body[0]) == 2


def test_no_function_is_over_a_screen():
    assert long_functions(Path(pepita_lib.__file__).parent) == []
