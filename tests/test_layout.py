"""The layout the README promises: lessons and datamodules never reach into the run machinery."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    """Top-level names of every module that ``path`` imports, at any depth of its code."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(
    "path",
    sorted((REPO / "lessons").glob("*.py")) + sorted((REPO / "datamodules").glob("*.py")),
    ids=lambda path: f"{path.parent.name}/{path.name}",
)
def test_lessons_and_datamodules_do_not_import_the_run_machinery(path):
    forbidden = {"runner", "cli"} | ({"datamodules"} if path.parent.name == "lessons" else set())
    assert not imported_modules(path) & forbidden


def test_the_check_sees_an_import():
    assert "runner" in imported_modules(REPO / "cli.py")
