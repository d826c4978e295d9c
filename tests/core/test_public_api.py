"""``calendo/`` uses no leading-underscore name of a library outside ``core/sqlite_inline.py``.

A private name can change in any release of the library; the inline SQLite driver is the one
module allowed them, each held by a canary (``test_sqlite_inline_canary.py``). ``Row``'s
documented ``_mapping``, ``_fields`` and ``_asdict`` (also a named tuple's) are public.

The check reads the source: an attribute, an imported name or a keyword argument that
starts with one underscore and is not defined anywhere in ``calendo/`` (so our own private
helpers pass) is a library's. The SQLAlchemy internals the fast path once used are refused
by name even if a module of ours happens to define the same name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import calendo

ROOT = Path(calendo.__file__).parent
ALLOWED_MODULE = Path("core", "sqlite_inline.py")  # relative to the package
DOCUMENTED = frozenset({"_mapping", "_fields", "_asdict", "_make", "_replace"})
KNOWN_INTERNALS = frozenset(
    {
        "_cached_bind_processor",
        "_cached_result_processor",
        "_result_columns",
        "_processors",
        "_effective_processors",
        "_key_to_index",
        "_is_url_file_db",
        "_async_soft_close",
        "_type_memos",
        "_execution_options",
        "_is_server_side",
    }
)


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _defined(tree: ast.AST) -> set[str]:
    """Every name a module binds: functions, classes, arguments, assignments, attributes."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
    return names


def _used(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, name) of each private attribute, imported name and keyword argument."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            found.append((node.lineno, node.attr))
        elif isinstance(node, ast.ImportFrom) and not node.level:
            found.extend((node.lineno, a.name) for a in node.names if _private(a.name))
        elif isinstance(node, ast.keyword) and node.arg and _private(node.arg):
            found.append((node.lineno, node.arg))
    return found


def private_library_names(root: Path = ROOT) -> list[str]:
    """``path:line: name`` of each private library name used outside the allowed module."""
    trees = {path: ast.parse(path.read_text(), str(path)) for path in sorted(root.rglob("*.py"))}
    ours = set().union(*(_defined(tree) for tree in trees.values()))
    return [
        f"{path.relative_to(root.parent)}:{line}: {name}"
        for path, tree in trees.items()
        if path.relative_to(root) != ALLOWED_MODULE
        for line, name in _used(tree)
        if name not in DOCUMENTED and (name in KNOWN_INTERNALS or name not in ours)
    ]


def test_calendo_uses_no_private_library_name_outside_the_inline_driver() -> None:
    assert private_library_names() == []


def test_the_check_sees_a_private_name(tmp_path: Path) -> None:
    package = tmp_path / "calendo"
    package.mkdir()
    (package / "probe.py").write_text(
        "from sqlalchemy.engine.result import _row_factory\n"
        "def _ours(x):\n"
        "    return x._cached_bind_processor(x), x._mapping, x.__dict__, _ours(x._key)\n"
    )
    assert private_library_names(package) == [
        "calendo/probe.py:1: _row_factory",
        "calendo/probe.py:3: _cached_bind_processor",
        "calendo/probe.py:3: _key",
    ]
