"""The database at head has exactly the triggers ``calendo.sharing.triggers`` declares.

They keep the permission rows' copies of their event's bounds (migration 0002) and are
invisible from Python: a migration that rebuilds ``permission`` or ``event`` on SQLite
(``batch_alter_table``) drops them silently, and this test is what notices.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy import text

from calendo.core.db import Database
from calendo.sharing.triggers import PERMISSION_BOUNDS, permission_bounds

_SQLITE_TRIGGERS = text("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")
_POSTGRES_TRIGGERS = text(
    "SELECT t.tgname, c.relname, pg_get_triggerdef(t.oid) FROM pg_trigger t"
    " JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE NOT t.tgisinternal AND n.nspname = current_schema()"
)
_POSTGRES_FUNCTIONS = text(
    "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
    " WHERE n.nspname = current_schema() AND p.prorettype = 'trigger'::regtype"
)


def _words(sql: str) -> list[str]:
    return sql.split()


async def _triggers_at_head(db: Database) -> tuple[str, list[Any], list[str]]:
    async with db.engine.connect() as conn:
        dialect = conn.dialect.name
        if dialect == "sqlite":
            return dialect, list((await conn.execute(_SQLITE_TRIGGERS)).all()), []
        found = list((await conn.execute(_POSTGRES_TRIGGERS)).all())
        functions = list((await conn.execute(_POSTGRES_FUNCTIONS)).scalars())
        return dialect, found, functions


async def test_the_declared_triggers_exist_at_head(app: FastAPI) -> None:
    dialect, found, functions = await _triggers_at_head(app.state.services.db)
    declared = permission_bounds(dialect)
    assert {name: table for name, table, _sql in found} == dict(declared.tables)
    if dialect == "sqlite":
        # SQLite keeps each trigger's CREATE statement as it was run: the declared one.
        assert sorted(_words(sql) for _name, _table, sql in found) == sorted(
            _words(sql) for sql in declared.create
        )
    else:
        assert sorted(functions) == ["event_copy_to_permission", "permission_copy_event"]
        definitions = {name: definition for name, _table, definition in found}
        assert "BEFORE INSERT OR UPDATE OF event_id" in definitions["trg_permission_copy_event"]
        assert (
            "EXECUTE FUNCTION permission_copy_event()" in (definitions["trg_permission_copy_event"])
        )
        assert (
            "AFTER UPDATE OF start_time, series_end, deleted_at"
            in (definitions["trg_event_copy_to_permission"])
        )


def test_each_dialect_drops_what_it_creates() -> None:
    for dialect, triggers in PERMISSION_BOUNDS.items():
        created = " ".join(triggers.create)
        for name in triggers.tables:
            assert f"CREATE TRIGGER {name}" in created, dialect
            assert any(f"DROP TRIGGER IF EXISTS {name}" in drop for drop in triggers.drop)
