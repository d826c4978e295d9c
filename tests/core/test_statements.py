"""``core.statements``: the driver-direct path gives what ``Connection.execute`` gives."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Table, bindparam, event, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, InvalidRequestError, StatementError

from calendo.audit.models import AuditEntry
from calendo.auth.models import User
from calendo.core import statements
from calendo.core.db import Database, PooledReads, create_engine
from calendo.core.uow import UnitOfWork
from tests.conftest import BACKEND, make_settings
from tests.events.conftest import EventFactory
from tests.helpers import Actor, each_statement

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
    async with UnitOfWork.write(db) as session:
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
    assert [row._fields for row in direct] == [row._fields for row in expected]
    assert [row._asdict() for row in direct] == [row._asdict() for row in expected]
    assert {type(row) for row in direct} == {statements.record_type(tuple(_AUDIT.c.keys()))}
    first = direct[0]
    assert first.created_at == datetime(2026, 3, 29, 1, 30, 1, tzinfo=UTC)
    assert first.created_at.tzinfo is not None
    assert first.details == {"n": 1, "nested": ["x", {"y": None}]}
    # Committed with the unit of work: a fresh read sees both rows.
    assert len(await db.reads.all(_AUDIT_OF, {"action": "probe"})) == 2


_USER_BY_ID = select(User.id, User.username).where(User.id == bindparam("user_id"))


async def test_a_statement_is_prepared_once_per_connection(
    app: FastAPI, owner: Actor, stranger: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Database.reads`` goes through the driver-direct path, which compiles a statement and
    resolves its processors at its first use on a connection, and reuses that form after."""
    if app.state.services.settings.fast_path != "on":
        pytest.skip("the fast path is off: nothing is prepared")
    compiled: list[Any] = []
    factories: list[Any] = []
    prepare, row_factory = statements._prepare, statements._row_factory

    def counting(connection: Connection, statement: Any, keys: tuple[str, ...]) -> Any:
        compiled.append(statement)
        return prepare(connection, statement, keys)

    def counting_rows(connection: Connection, prepared: Any, description: Any) -> Any:
        factories.append(prepared)
        return row_factory(connection, prepared, description)

    monkeypatch.setattr(statements, "_prepare", counting)
    monkeypatch.setattr(statements, "_row_factory", counting_rows)
    reads = app.state.services.db.reads
    for actor in (owner, stranger, owner):
        rows = await reads.all(_USER_BY_ID, {"user_id": actor.id})
        assert [(row.id, row.username) for row in rows] == [(actor.id, actor.username)]
    # Once on SQLite's one read connection; on PostgreSQL once per pooled connection used.
    assert set(compiled) == {_USER_BY_ID}
    assert len(compiled) == 1 if BACKEND == "sqlite" else len(compiled) < 3
    assert len(factories) == len(compiled)


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


async def test_driver_direct_statements_are_observed(app: FastAPI, owner: Actor) -> None:
    """With the fast path on, listeners of the engine's cursor events do not turn it off (the
    statement-count tests run production's path): ``observing`` sees what goes driver-direct.
    With it off, every statement fires the cursor events and none goes driver-direct."""
    db: Database = app.state.services.db
    evented: list[str] = []
    observed: list[str] = []

    def record(statement: str, direct: bool) -> None:
        (observed if direct else evented).append(statement)

    with each_statement(app, record):
        await _in_write(
            db, lambda c: statements.write(c, _RENAME, {"user_id": owner.id, "new": "seen"})
        )
    updates = [s for s in evented + observed if s.startswith("UPDATE user_account")]
    assert len(updates) == 1
    if app.state.services.settings.fast_path == "on":
        assert observed == updates
    else:
        assert observed == []


async def test_the_fast_path_off_runs_everything_through_execute(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``CALENDO_FAST_PATH=off``: nothing is prepared, every statement fires the engine's
    events, SQLite runs on aiosqlite; the rows are the same ``Record``s."""
    prepared: list[Any] = []
    monkeypatch.setattr(statements, "_prepare", lambda *args: prepared.append(args))
    settings = make_settings(database_url, None, fast_path="off")
    db = Database(create_engine(settings))
    evented: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        evented.append(statement)

    for engine in db.sync_engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        if BACKEND == "sqlite":
            assert db.engine.dialect.driver == "aiosqlite"
            assert isinstance(db.reads, PooledReads)
        async with UnitOfWork.write(db) as session:
            await session.run_sync(
                lambda sync: statements.write(
                    sync.connection(), _INSERT_AUDIT, [_entry("off", n) for n in (1, 2)]
                )
            )
        rows = await db.reads.all(_AUDIT_OF, {"action": "off"})
    finally:
        await db.dispose()
    assert prepared == []
    assert [row.details["n"] for row in rows] == [1, 2]
    assert {type(row) for row in rows} == {statements.record_type(tuple(_AUDIT.c.keys()))}
    assert rows[0].created_at.tzinfo is not None
    assert sum(s.startswith("INSERT INTO audit_entry") for s in evented) == 1
    assert sum(s.startswith("SELECT audit_entry") for s in evented) == 1


async def test_both_paths_name_fields_alike(app: FastAPI, owner: Actor) -> None:
    """A field is the column's key in ``selected_columns``; a column with no name of its own
    gets a positional one: the same ``Record`` class whichever path runs the statement."""
    db: Database = app.state.services.db
    query = (
        select(User.id, User.username.label("name"), func.count(), User.id + 1)
        .where(User.id == bindparam("user_id"))
        .group_by(User.id)
    )

    def work(connection: Connection) -> tuple[list[Any], list[Any]]:
        direct = statements.rows(connection, query, {"user_id": owner.id})
        executed = statements._through_execute(connection, query, {"user_id": owner.id})
        return direct, executed

    direct, executed = await _in_write(db, work)
    assert direct == executed == [(owner.id, owner.username, 1, owner.id + 1)]
    assert type(direct[0]) is type(executed[0])
    assert direct[0]._fields == ("id", "name", "count", "_3")
    assert direct[0].name == owner.username


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
    """As ``Connection.execute`` refuses it, on both paths."""
    db: Database = app.state.services.db
    with pytest.raises(
        StatementError, match="A value is required for bind parameter 'user_id'"
    ) as refused:
        await _in_write(db, lambda c: statements.write(c, _RENAME, {"new": "no user id"}))
    assert isinstance(refused.value.orig, InvalidRequestError)
    names = await db.reads.all(select(User.username).where(User.id == owner.id))
    assert [row.username for row in names] == [owner.username]


async def test_a_value_its_type_refuses_is_reported_as_execute_reports_it(
    app: FastAPI, owner: Actor
) -> None:
    """A bind processor's error (a naive datetime) is a ``StatementError`` around it, on the
    driver-direct path as through ``Connection.execute``."""
    db: Database = app.state.services.db
    naive = {**_entry("naive", 0), "created_at": datetime(2026, 3, 29, 1, 30)}
    errors = []
    for run in (statements.write, lambda c, s, p: c.execute(s, p)):
        with pytest.raises(StatementError, match="naive datetime refused") as refused:
            await _in_write(db, lambda c, run=run: run(c, _INSERT_AUDIT, naive))
        errors.append(type(refused.value.orig))
    assert errors == [ValueError, ValueError]
