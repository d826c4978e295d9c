"""``core.statements``: the driver-direct path gives what ``Connection.execute`` gives."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Table, bindparam, event, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import ArgumentError, IntegrityError

from calendo.audit.models import AuditEntry
from calendo.auth.models import User
from calendo.core import statements
from calendo.core.db import Database
from tests.conftest import BACKEND
from tests.events.conftest import EventFactory
from tests.helpers import Actor

_AUDIT = AuditEntry.__table__
assert isinstance(_AUDIT, Table)
_INSERT_AUDIT = insert(_AUDIT)
_AUDIT_OF = select(_AUDIT).where(_AUDIT.c.action == bindparam("action")).order_by(_AUDIT.c.id)
_RENAME = update(User).where(User.id == bindparam("user_id")).values(username=bindparam("new"))


def _entry(action: str, n: int) -> dict[str, Any]:
    return {
        "action": action,
        "actor_id": None,
        "subject_user_id": None,
        "event_id": None,
        "ip": "192.0.2.1",
        "details": {"n": n, "nested": ["x", {"y": None}]},
        "created_at": datetime(2026, 3, 29, 1, 30, n, tzinfo=UTC),
    }


async def _in_write(db: Database, work: Any) -> Any:
    async with db.write_session() as session:
        return await session.run_sync(lambda sync: work(sync.connection()))


async def test_rows_match_connection_execute(app: FastAPI, owner: Actor) -> None:
    """Same keys, same values, same Python types (aware datetimes, decoded JSON)."""
    db: Database = app.state.services.db

    def work(connection: Connection) -> tuple[list[Any], list[Any]]:
        statements.write(connection, _INSERT_AUDIT, [_entry("probe", n) for n in (1, 2)])
        direct = statements.rows(connection, _AUDIT_OF, {"action": "probe"})
        through_sqlalchemy = connection.execute(_AUDIT_OF, {"action": "probe"}).all()
        return direct, list(through_sqlalchemy)

    direct, expected = await _in_write(db, work)
    assert [tuple(row) for row in direct] == [tuple(row) for row in expected]
    assert [row._mapping.keys() for row in direct] == [row._mapping.keys() for row in expected]
    first = direct[0]
    assert first.created_at == datetime(2026, 3, 29, 1, 30, 1, tzinfo=UTC)
    assert first.created_at.tzinfo is not None
    assert first.details == {"n": 1, "nested": ["x", {"y": None}]}
    # Committed with the unit of work: a fresh read sees both rows.
    assert len(await db.reads.all(_AUDIT_OF, {"action": "probe"})) == 2


_USER_BY_ID = select(User.id, User.username).where(User.id == bindparam("user_id"))


async def test_a_statement_is_compiled_once_per_connection(
    app: FastAPI, owner: Actor, stranger: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Database.reads`` goes through the driver-direct path, which compiles a statement at
    its first use on a connection and reuses that form after."""
    compiled: list[Any] = []
    prepare = statements._prepare

    def counting(connection: Connection, statement: Any, keys: tuple[str, ...]) -> Any:
        compiled.append(statement)
        return prepare(connection, statement, keys)

    monkeypatch.setattr(statements, "_prepare", counting)
    reads = app.state.services.db.reads
    for actor in (owner, stranger, owner):
        rows = await reads.all(_USER_BY_ID, {"user_id": actor.id})
        assert [(row.id, row.username) for row in rows] == [(actor.id, actor.username)]
    # Once on SQLite's one read connection; on PostgreSQL once per pooled connection used.
    assert set(compiled) == {_USER_BY_ID}
    assert len(compiled) == 1 if BACKEND == "sqlite" else len(compiled) < 3


async def test_write_returns_the_matched_count_and_updates_only_the_sent_columns(
    app: FastAPI, owner: Actor, stranger: Actor
) -> None:
    db: Database = app.state.services.db

    def work(connection: Connection) -> tuple[int, int]:
        renamed = statements.write(connection, _RENAME, {"user_id": owner.id, "new": "renamed"})
        missing = statements.write(connection, _RENAME, {"user_id": 999_999, "new": "nobody"})
        return renamed, missing

    assert await _in_write(db, work) == (1, 0)
    names = await db.reads.all(select(User.id, User.username).order_by(User.id))
    assert {row.id: row.username for row in names} == {
        owner.id: "renamed",
        stranger.id: stranger.username,
    }


async def test_driver_errors_are_sqlalchemy_errors_and_roll_back(
    app: FastAPI, owner: Actor, stranger: Actor
) -> None:
    db: Database = app.state.services.db

    def work(connection: Connection) -> None:
        statements.write(connection, _RENAME, {"user_id": owner.id, "new": "first-write"})
        statements.write(connection, _RENAME, {"user_id": stranger.id, "new": "first-write"})

    with pytest.raises(IntegrityError):
        await _in_write(db, work)
    names = await db.reads.all(select(User.username).where(User.id == owner.id))
    assert [row.username for row in names] == [owner.username]


async def test_listeners_see_every_statement(app: FastAPI, owner: Actor) -> None:
    """While something listens to cursor events, statements go through ``execute``."""
    db: Database = app.state.services.db
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engine = db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        await _in_write(
            db, lambda c: statements.write(c, _RENAME, {"user_id": owner.id, "new": "seen"})
        )
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert any(s.startswith("UPDATE user_account") for s in seen)


async def test_statements_it_cannot_prepare_still_run(
    app: FastAPI, owner: Actor, make_event: EventFactory
) -> None:
    """Expanding IN and Python-side defaults are left to ``Connection.execute``."""
    db: Database = app.state.services.db
    await make_event(owner, title="counted")
    in_list = (
        select(func.count()).select_from(User).where(User.id.in_(bindparam("ids", expanding=True)))
    )

    def work(connection: Connection) -> tuple[int, int]:
        (counted,) = statements.rows(connection, in_list, {"ids": [owner.id, 999_999]})
        # AuditEntry.created_at has a Python default: left out here, SQLAlchemy fills it.
        entry = {k: v for k, v in _entry("defaulted", 0).items() if k != "created_at"}
        written = statements.write(connection, _INSERT_AUDIT, entry)
        return counted[0], written

    assert await _in_write(db, work) == (1, 1)
    rows = await db.reads.all(_AUDIT_OF, {"action": "defaulted"})
    assert rows[0].created_at.tzinfo is not None


async def test_a_missing_parameter_is_refused(app: FastAPI, owner: Actor) -> None:
    db: Database = app.state.services.db
    with pytest.raises(ArgumentError):
        await _in_write(db, lambda c: statements.write(c, _RENAME, {"new": "no user id"}))
    names = await db.reads.all(select(User.username).where(User.id == owner.id))
    assert [row.username for row in names] == [owner.username]
