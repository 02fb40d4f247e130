"""Domains call one way: competitions -> contracts -> payments. Contracts never import competitions or payments,
so a contract can be read and paid without loading the competition machinery (and no import cycle can form)."""

from __future__ import annotations

import ast
from pathlib import Path

import dps.contracts

FORBIDDEN = ("dps.competitions", "dps.payments")


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_contracts_import_neither_competitions_nor_payments():
    package = Path(dps.contracts.__file__).parent
    offending = {f"{path.name}: {name}" for path in package.glob("*.py") for name in _imports(path)
                 if name.startswith(FORBIDDEN)}
    assert not offending
