"""Modules talk to each other through public names only (issue 15, item 4).

import-linter (``lint-imports``, configured in pyproject.toml) checks which module may
import which; it cannot see *what* is used. This test reads the package's source and
fails on a ``_private`` name used outside the module that defines it:

* ``from detector.x import _name`` (or a relative import of one);
* ``something._name`` where ``_name`` is neither defined in the same file (a method,
  function, class or attribute assigned there) nor part of a standard protocol such as
  a named tuple's ``_asdict``.

Reading the syntax tree, not grepping, keeps strings, comments and docstrings out.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("detector", "scripts")
STANDARD_PRIVATE = frozenset({"_asdict", "_replace", "_fields", "_make", "_field_defaults"})
"""Underscore names that are public API elsewhere (named tuples)."""


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _defined_here(tree: ast.AST) -> set[str]:
    """Private names a file defines: functions, classes, assignment targets, attributes."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if _is_private(n)}


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = _defined_here(tree)
    rel = path.relative_to(ROOT)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            ours = node.level > 0 or (node.module or "").startswith("detector")
            found += [
                f"{rel}:{node.lineno}: imports {alias.name} from {node.module or '.'}"
                for alias in node.names
                if ours and _is_private(alias.name)
            ]
        elif (
            isinstance(node, ast.Attribute)
            and _is_private(node.attr)
            and node.attr not in here
            and node.attr not in STANDARD_PRIVATE
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
        ):
            found.append(f"{rel}:{node.lineno}: uses {ast.unparse(node)}")
    return found


def test_no_private_names_across_modules() -> None:
    files = [p for top in SOURCES for p in sorted((ROOT / top).rglob("*.py"))]
    assert files, "no sources found"
    found = [v for p in files for v in _violations(p)]
    assert not found, "private names used outside their module:\n" + "\n".join(found)


def test_the_check_sees_a_private_use(tmp_path: Path) -> None:
    """The scanner itself: each kind of violation is caught, local use is not."""
    src = tmp_path / "mod.py"
    src.write_text(
        "from detector.model import _hidden\n"
        "from .agg import _pairs\n"
        "import detector.explain as explain\n"
        "def _local(): ...\n"
        "explain._reason(1)\n"
        "_local()\n"
        "row._asdict()\n",
        encoding="utf-8",
    )
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        got = _violations(src)
    finally:
        ROOT = saved
    assert [g.split(": ", 1)[1] for g in got] == [
        "imports _hidden from detector.model",
        "imports _pairs from agg",
        "uses explain._reason",
    ]
