"""The house's walls: the core (`dps/`) never reaches up into the catalogue or a portal, except through the one
composition root, and nothing dodges that rule with an import inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
UPPER_PACKAGES = ("catalogue", "supplier_portal", "buyer_portal", "authority_portal")
COMPOSITION_ROOT = PROJECT / "dps" / "wiring.py"


def _imported_modules(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return [node.module]
    return []


def _core_files() -> list[Path]:
    return sorted(path for path in (PROJECT / "dps").rglob("*.py") if path != COMPOSITION_ROOT)


def test_the_core_imports_no_catalogue_or_portal_outside_the_composition_root() -> None:
    offenders = [
        f"{path.relative_to(PROJECT)}:{node.lineno} imports {module}"
        for path in _core_files()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        for module in _imported_modules(node)
        if module.split(".")[0] in UPPER_PACKAGES
    ]
    assert offenders == []


def test_the_core_has_no_function_local_imports_of_its_own_modules() -> None:
    """A function-local import of a project module hides a cycle; the core imports at module level."""
    offenders = []
    for path in _core_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)):
            for node in ast.walk(function):
                for module in _imported_modules(node):
                    if module.split(".")[0] in ("dps", *UPPER_PACKAGES):
                        offenders.append(f"{path.relative_to(PROJECT)}:{node.lineno} imports {module}")
    assert offenders == []


def test_the_composition_root_is_what_the_app_and_the_cli_call() -> None:
    for entry in ("app.py", "cli.py"):
        source = (PROJECT / "dps" / entry).read_text(encoding="utf-8")
        assert "dps.wiring" in source or "from dps import wiring" in source, entry
