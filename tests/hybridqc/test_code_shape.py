"""The house's size limits, checked on every module outside tests and migrations: a file of at
most 400 lines, a function of at most 40 (decorators excluded, docstring included)."""

from __future__ import annotations

import ast
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 40
SKIPPED = {".venv", "tests", "var", "node_modules", "migrations", "static", "static_root"}
# Offenders still to split: none. Add nothing here.
ALLOWED_LONG_FUNCTIONS: set[str] = set()


def modules(root: Path = ROOT) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if not SKIPPED & set(p.relative_to(root).parts))


def long_files(root: Path = ROOT) -> dict[str, int]:
    out = {}
    for path in modules(root):
        lines = len(path.read_text().splitlines())
        if lines > MAX_FILE_LINES:
            out[str(path.relative_to(root))] = lines
    return out


def long_functions(root: Path = ROOT) -> dict[str, int]:
    out = {}
    for path in modules(root):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    out[f"{path.relative_to(root)}:{node.name}"] = length
    return out


def test_code_shape_no_file_over_400_lines():
    assert long_files() == {}


def test_code_shape_no_function_over_40_lines_beyond_the_allowlist():
    assert set(long_functions()) == ALLOWED_LONG_FUNCTIONS


def test_code_shape_finds_a_long_function_and_a_long_file(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    (tmp_path / "long.py").write_text(f"def f():\n{body}\n" + "\n" * MAX_FILE_LINES)
    (tmp_path / "short.py").write_text("def g():\n    return 1\n")
    assert long_functions(tmp_path) == {"long.py:f": MAX_FUNCTION_LINES + 1}
    assert long_files(tmp_path) == {"long.py": MAX_FUNCTION_LINES + 1 + MAX_FILE_LINES}
