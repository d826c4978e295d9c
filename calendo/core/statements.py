"""The hottest Core statements, compiled once per connection and sent straight to the driver.

``Connection.execute`` costs about 50 µs per statement on top of the driver's own work: it
builds an execution context, runs the parameter processing through several layers, fires
the engine's events and sets up a ``CursorResult``, for an indexed lookup or a row insert
that SQLite itself does in under 10 µs. For the statements every write and every
authenticated request runs, ``rows`` and ``write`` do what ``execute`` does for a plain
statement, from a compiled form they keep per DBAPI connection:

- the SQL string and the order of its parameters (the compiler's, so the placeholders and
  casts are those of the dialect: ``?`` for SQLite, ``$1::INTEGER`` for asyncpg);
- each parameter's bind processor and each result column's result processor, which are the
  column types' own (UTC datetimes, orjson JSON), so values are converted exactly as
  SQLAlchemy converts them;
- a ``Row`` factory with the statement's column keys, so callers get ordinary rows.

What they leave to ``Connection.execute``, which they then call instead: statements whose
compiled form needs more than that (expanding ``IN`` parameters, Python-side column
defaults to compute, a schema translate map), and every statement while something listens
to the engine's cursor events (instrumentation, the tests that count statements), so that
those listeners see every statement. Driver errors are wrapped as SQLAlchemy's (an
``IntegrityError`` stays one), and a connection the driver reports lost is invalidated.

Both functions take the synchronous ``Connection`` (inside ``AsyncSession.run_sync`` or
``AsyncConnection.run_sync``, or a sync engine's): on asyncpg the driver calls then run in
SQLAlchemy's greenlet like any other.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Executable, Row
from sqlalchemy.engine import Connection
from sqlalchemy.engine.result import SimpleResultMetaData
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import TypeEngine

Params = Mapping[str, Any]
_CACHE_KEY = "calendo_prepared"
# Compiled forms kept per connection. The statements meant for this module are built once, at
# import; one built per call would only fill the cache, so past this size new ones go through
# ``Connection.execute``.
_CACHE_SIZE = 256


@dataclass(frozen=True, slots=True)
class _Param:
    """One parameter of a compiled statement: where its value comes from, how it is sent."""

    key: str  # the caller's name for it (a column key in DML)
    name: str  # the compiled statement's name for it
    default: Any  # the value bound in the statement itself
    required: bool
    processor: Callable[[Any], Any] | None  # the type's bind processor for this dialect


@dataclass(slots=True)
class _Prepared:
    sql: str
    params: tuple[_Param, ...]  # in the driver's order
    positional: bool
    columns: tuple[tuple[str, TypeEngine[Any]], ...]  # result columns: key and type
    make_row: Callable[[Sequence[Any]], Row[Any]] | None = None  # built at the first result


def _prepare(connection: Connection, statement: Executable, keys: tuple[str, ...]) -> Any:
    """The compiled form of ``statement`` for this connection's dialect, or None when only
    ``Connection.execute`` can run it."""
    dialect = connection.dialect
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))  # type: ignore[attr-defined]
    if (
        not isinstance(compiled, SQLCompiler)
        or compiled.post_compile_params
        or compiled.literal_execute_params
        or compiled.insert_prefetch
        or compiled.update_prefetch
        or compiled.schema_translate_map
        or any(bind.callable is not None for bind in compiled.binds.values())
    ):
        return None
    by_name = {
        name: _Param(
            key=bind.key,
            name=name,
            default=bind.value,
            required=bind.required,
            processor=bind.type._cached_bind_processor(dialect),
        )
        for bind, name in compiled.bind_names.items()
    }
    order = compiled.positiontup if compiled.positional else list(by_name)
    return _Prepared(
        sql=compiled.string,
        params=tuple(by_name[name] for name in order or ()),
        positional=compiled.positional,
        columns=tuple((column.keyname, column.type) for column in compiled._result_columns),
    )


def _prepared(connection: Connection, statement: Executable, params: Params) -> Any:
    if connection.dispatch.before_cursor_execute or connection.dispatch.after_cursor_execute:
        return None
    keys = tuple(sorted(params))
    cache: dict[Any, Any] = connection.info.setdefault(_CACHE_KEY, {})
    try:
        return cache[statement, keys]
    except KeyError:
        if len(cache) >= _CACHE_SIZE:
            return None
        prepared = cache[statement, keys] = _prepare(connection, statement, keys)
        return prepared


def _driver_params(prepared: _Prepared, params: Params) -> Any:
    """The values in the driver's form (``SQLCompiler.construct_params`` and the bind
    processors, for a statement with no cache-extracted or expanding parameters)."""
    values = []
    for param in prepared.params:
        if param.key in params:
            value = params[param.key]
        elif param.name in params:
            value = params[param.name]
        elif param.required:
            raise ArgumentError(f"A value is required for bind parameter {param.key!r}")
        else:
            value = param.default
        values.append(value if param.processor is None else param.processor(value))
    if prepared.positional:
        return values
    return {param.name: value for param, value in zip(prepared.params, values, strict=True)}


def _run(
    connection: Connection,
    prepared: _Prepared,
    params: Params | list[Params],
    fetch: bool,
) -> tuple[int, list[Any]]:
    """Execute on a fresh driver cursor: (rowcount, raw result tuples when ``fetch``)."""
    many = isinstance(params, list)
    driver_params = (
        [_driver_params(prepared, p) for p in params]
        if isinstance(params, list)
        else _driver_params(prepared, params)
    )
    dbapi_connection = connection.connection.dbapi_connection
    assert dbapi_connection is not None
    cursor = dbapi_connection.cursor()
    try:
        if many:
            cursor.executemany(prepared.sql, driver_params)
        else:
            cursor.execute(prepared.sql, driver_params)
        raw: list[Any] = list(cursor.fetchall()) if fetch else []
        if fetch and prepared.make_row is None:
            prepared.make_row = _row_factory(connection, prepared, cursor.description)
        return cursor.rowcount, raw
    except connection.dialect.loaded_dbapi.Error as exc:
        dialect = connection.dialect
        lost = dialect.is_disconnect(exc, dbapi_connection, cursor)
        if lost:
            connection.invalidate(exc)
        raise DBAPIError.instance(
            prepared.sql,
            driver_params,
            exc,
            dialect.loaded_dbapi.Error,
            connection_invalidated=lost,
            dialect=dialect,
        ) from exc
    finally:
        cursor.close()


def _row_factory(
    connection: Connection, prepared: _Prepared, description: Any
) -> Callable[[Sequence[Any]], Row[Any]]:
    """Rows keyed like SQLAlchemy's, with the result columns' processors (applied by the
    compiled ``Row`` constructor)."""
    dialect = connection.dialect
    processors = [
        type_._cached_result_processor(dialect, described[1])
        for (_key, type_), described in zip(prepared.columns, description, strict=True)
    ]
    parent = SimpleResultMetaData([key for key, _type in prepared.columns], _processors=processors)
    return functools.partial(Row, parent, parent._effective_processors, parent._key_to_index)


def rows(
    connection: Connection, statement: Executable, params: Params | None = None
) -> list[Row[Any]]:
    """Every row of a Core statement (a SELECT, or DML with RETURNING)."""
    params = params or {}
    prepared = _prepared(connection, statement, params)
    if prepared is None:
        return list(connection.execute(statement, params).all())
    _count, raw = _run(connection, prepared, params, fetch=True)
    make_row = prepared.make_row
    return [make_row(values) for values in raw]


def write(connection: Connection, statement: Executable, params: Params | Sequence[Params]) -> int:
    """Run a Core INSERT / UPDATE / DELETE without RETURNING, once or (a list of parameter
    sets) as an executemany; the number of rows it matched (the driver's ``rowcount``: for an
    executemany, -1 on drivers that do not count, as asyncpg)."""
    sent: Params | list[Params] = params if isinstance(params, Mapping) else list(params)
    if isinstance(sent, list):
        if not sent:
            return 0
        if len(sent) == 1:  # as Connection.execute does: one set is one execute
            sent = sent[0]  # (asyncpg's executemany costs several times as much)
    prepared = _prepared(connection, statement, sent[0] if isinstance(sent, list) else sent)
    if prepared is None:
        result: Any = connection.execute(statement, sent)
        return int(result.rowcount)
    count, _raw = _run(connection, prepared, sent, fetch=False)
    return count
