"""The hottest Core statements, compiled once per connection and sent straight to the driver.

``Connection.execute`` costs about 50 µs per statement on top of the driver's own work: it
builds an execution context, runs the parameter processing through several layers, fires
the engine's events and sets up a ``CursorResult``, for an indexed lookup or a row insert
that SQLite itself does in under 10 µs. For the statements every write and every
authenticated request runs, ``rows`` and ``write`` do what ``execute`` does for a plain
statement, from a compiled form they keep per DBAPI connection, built with SQLAlchemy's
public API only:

- the SQL string and the order of its parameters (``ClauseElement.compile``: the
  placeholders and casts are the dialect's, ``?`` for SQLite, ``$1::INTEGER`` for asyncpg);
- each parameter's bind processor and each result column's result processor, resolved once
  per prepared statement from the column types' public ``TypeEngine.dialect_impl(dialect)
  .bind_processor(dialect)`` / ``.result_processor(dialect, coltype)`` (what SQLAlchemy's
  own caches hold), so values are converted exactly as SQLAlchemy converts them (UTC
  datetimes, orjson JSON);
- the result columns from the statement's ``exported_columns`` (``selected_columns`` for a
  SELECT, the ``RETURNING`` columns for DML).

Rows are ``Record``s: a named tuple per column list (``record_type``), with attribute and
index access, unpacking, ``_fields`` and ``_asdict``. A field is the column's key in
``selected_columns``; a column without a name of its own (an unlabelled expression) gets a
positional field (``_0``, ``_1``: label it to read it by name). Statements the driver-direct
path leaves to ``Connection.execute`` (expanding ``IN`` parameters, Python-side column
defaults to compute, a schema translate map) give the same ``Record``s, and so does every
statement when the fast path is off: callers cannot tell which path ran.

The fast path is on unless the engine carries the execution option ``FAST_PATH_OPTION =
False`` (``CALENDO_FAST_PATH=off``, set by ``core.db.create_engine``): then every statement
goes through ``Connection.execute``, and fires the engine's events. Driver-direct statements
fire none; ``observing`` sees them (the statement-count tests use it, so they count the
production path). Driver errors are wrapped as SQLAlchemy's (an ``IntegrityError`` stays
one), and a connection the driver reports lost is invalidated.

The per-connection cache holds client-side forms only (SQL text, processors, row classes):
nothing of it lives on the server, so it stays on behind PgBouncer in transaction mode, where
a pooled connection's transactions run on different server connections. What would not
survive that, a statement prepared under a name, is the driver's to make, and
``CALENDO_DATABASE_POOLER=pgbouncer`` turns it off (``core.db.PGBOUNCER_CONNECT_ARGS``).

Both functions take the synchronous ``Connection`` (inside ``AsyncSession.run_sync`` or
``AsyncConnection.run_sync``, or a sync engine's): on asyncpg the driver calls then run in
SQLAlchemy's greenlet like any other.
"""

from __future__ import annotations

import functools
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Executable
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, InvalidRequestError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import TypeEngine

Params = Mapping[str, Any]
# A row of ``rows``: a named tuple of the statement's result columns (see the module doc).
Record = Any
# Called with (connection, SQL, driver parameters, executemany) for each statement sent
# driver-direct, which fires no engine event.
Observer = Callable[[Connection, str, Any, bool], None]

# The engine (or connection) execution option that turns the driver-direct path off.
FAST_PATH_OPTION = "calendo_fast_path"

_CACHE_KEY = "calendo_prepared"
# Compiled forms kept per connection. The statements meant for this module are built once, at
# import; one built per call would only fill the cache, so past this size new ones go through
# ``Connection.execute``.
_CACHE_SIZE = 256
_OBSERVERS: list[Observer] = []


@functools.lru_cache(maxsize=1024)
def record_type(keys: tuple[str, ...]) -> type[tuple[Any, ...]]:
    """The named tuple of rows with these column keys (one class per key list, so both paths
    give rows of the same class). A key that cannot be a field name (no name of its own, a
    keyword, a repeat) becomes a positional one, ``_<index>``."""
    return namedtuple("Record", keys, rename=True)


def _keys(statement: Executable, fallback: Sequence[str]) -> tuple[str, ...]:
    """The statement's result column keys (``exported_columns``), else ``fallback`` (a text
    statement's result keys)."""
    columns = getattr(statement, "exported_columns", None)
    if columns is None or not len(columns):
        return tuple(fallback)
    return tuple(columns.keys())


@contextmanager
def observing(observer: Observer) -> Iterator[None]:
    """Call ``observer`` for each driver-direct statement run inside the block."""
    _OBSERVERS.append(observer)
    try:
        yield
    finally:
        _OBSERVERS.remove(observer)


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
    keys: tuple[str, ...]  # result columns
    types: tuple[TypeEngine[Any], ...]
    make_row: Callable[[Sequence[Any]], Record] | None = None  # built at the first result


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
        or compiled.escaped_bind_names
        or any(bind.callable is not None for bind in compiled.binds.values())
    ):
        return None
    by_name = {
        name: _Param(
            key=bind.key,
            name=name,
            default=bind.value,
            required=bind.required,
            processor=bind.type.dialect_impl(dialect).bind_processor(dialect),
        )
        for bind, name in compiled.bind_names.items()
    }
    columns = getattr(statement, "exported_columns", None)
    if columns is None:  # a text() statement: its result columns are unknown until it runs
        return None
    order = compiled.positiontup if compiled.positional else list(by_name)
    return _Prepared(
        sql=compiled.string,
        params=tuple(by_name[name] for name in order or ()),
        positional=compiled.positional,
        keys=_keys(statement, ()),
        types=tuple(column.type for column in columns),
    )


def _prepared(connection: Connection, statement: Executable, params: Params) -> Any:
    if not connection.get_execution_options().get(FAST_PATH_OPTION, True):
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
            raise InvalidRequestError(
                f"A value is required for bind parameter {param.key!r}", code="cd3x"
            )
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
    dialect = connection.dialect
    try:
        driver_params = (
            [_driver_params(prepared, p) for p in params]
            if isinstance(params, list)
            else _driver_params(prepared, params)
        )
    except Exception as exc:
        # As ``Connection.execute`` reports a value it cannot send: a ``StatementError``
        # whose ``orig`` is the processor's (or the missing value's) error.
        raise DBAPIError.instance(
            prepared.sql, params, exc, dialect.loaded_dbapi.Error, dialect=dialect, ismulti=many
        ) from exc
    for observer in _OBSERVERS:
        observer(connection, prepared.sql, driver_params, many)
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
    except dialect.loaded_dbapi.Error as exc:
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
) -> Callable[[Sequence[Any]], Record]:
    """``Record``s of the raw result tuples, through the result columns' processors (resolved
    here once, with the driver's type codes of the first result)."""
    if len(prepared.types) != len(description):
        raise InvalidRequestError(
            f"{len(description)} result columns for {len(prepared.types)} exported columns: "
            f"{prepared.sql}"
        )
    dialect = connection.dialect
    processors = tuple(
        (index, processor)
        for index, (type_, described) in enumerate(zip(prepared.types, description, strict=True))
        if (processor := type_.dialect_impl(dialect).result_processor(dialect, described[1]))
        is not None
    )
    cls = record_type(prepared.keys)
    new = tuple.__new__
    if not processors:
        return functools.partial(new, cls)

    def make_row(raw: Sequence[Any]) -> Record:
        values = list(raw)
        for index, processor in processors:
            values[index] = processor(values[index])
        return new(cls, values)

    return make_row


def _through_execute(connection: Connection, statement: Executable, params: Params) -> list[Record]:
    result = connection.execute(statement, params)
    cls = record_type(_keys(statement, list(result.keys())))
    new = tuple.__new__
    return [new(cls, row) for row in result]


def rows(
    connection: Connection, statement: Executable, params: Params | None = None
) -> list[Record]:
    """Every row of a Core statement (a SELECT, or DML with RETURNING), as ``Record``s."""
    params = params or {}
    prepared = _prepared(connection, statement, params)
    if prepared is None:
        return _through_execute(connection, statement, params)
    _count, raw = _run(connection, prepared, params, fetch=True)
    make_row = prepared.make_row
    assert make_row is not None
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
