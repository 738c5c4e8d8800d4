"""Imports only go down the layers: models below training and pipelines, which never import each other."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "src" / "cinediff"
FORBIDDEN = {"models": ("training", "pipelines", "evaluation", "bench", "cli"),
             "training": ("pipelines", "evaluation", "bench", "cli"),
             "pipelines": ("training", "evaluation", "bench", "cli")}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_imports_only_go_down(layer):
    bad = [f"{path.relative_to(PACKAGE)} imports {name}"
           for path in sorted((PACKAGE / layer).rglob("*.py")) for name in sorted(imported_modules(path))
           if any(name == f"cinediff.{up}" or name.startswith(f"cinediff.{up}.") for up in FORBIDDEN[layer])]
    assert not bad, bad
