"""The house rules of DESIGN.md, read off every import in the packages (lazy ones inside functions too).

Rows of the table, top to bottom: formal, model, search, data, train, eval. A package imports only rows
above it (arrows point one way: no cycles), never the CLI (`proofzero`); `formal/` imports the standard
library only, except its Lean backend (lean_dojo) and its geometry backend (newclid and what it needs);
`search/` never imports Lightning.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

ROWS = ("formal", "model", "search", "data", "train", "eval")
FORMAL_BACKENDS = {"formal/lean": {"lean_dojo"}, "formal/geometry": {"newclid", "py_yuclid", "numpy"}}


def imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
    return out


def modules(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


@pytest.mark.parametrize("package", ROWS)
def test_a_package_imports_only_the_rows_above_it(package):
    above = set(ROWS[: ROWS.index(package)])
    wrong = [f"{p.relative_to(REPO)}:{line} imports {m}" for p in modules(package) for line, m in imports(p)
             if (top := m.split(".")[0]) == "proofzero" or (top in ROWS and top != package and top not in above)]
    assert not wrong, "\n".join(wrong)


def test_formal_imports_the_standard_library_only_outside_its_backends():
    wrong = []
    for p in modules("formal"):
        rel = p.relative_to(REPO).as_posix()
        allowed = set().union(*(mods for prefix, mods in FORMAL_BACKENDS.items() if rel.startswith(prefix + "/")))
        for line, m in imports(p):
            top = m.split(".")[0]
            if top not in sys.stdlib_module_names and top != "formal" and top not in allowed:
                wrong.append(f"{rel}:{line} imports {m}")
    assert not wrong, "\n".join(wrong)


def test_search_never_imports_lightning():
    wrong = [f"{p.relative_to(REPO)}:{line}" for p in modules("search") for line, m in imports(p)
             if m.split(".")[0] in ("lightning", "pytorch_lightning")]
    assert not wrong, "\n".join(wrong)
