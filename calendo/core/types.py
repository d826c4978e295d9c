"""Portable column types: a UTC datetime that refuses naive values, and JSON (JSONB on
PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import JSON, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class JSONDocument(TypeDecorator[Any]):
    """JSON (JSONB on PostgreSQL). On SQLite each value is read by one call instead of the
    dialect's two nested ones, and the empty list that most list columns hold (no exceptions,
    no extra dates, no overrides) without a parse: calendar pages read four per row."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        return dialect.type_descriptor(JSONB() if dialect.name == "postgresql" else JSON())

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        return _sqlite_json


def _sqlite_json(value: str | None) -> Any:
    """A SQLite JSON text as its value (``[]`` without parsing)."""
    if value is None:
        return None
    return [] if value == "[]" else orjson.loads(value)


JSONType = JSONDocument()
# The largest id a client may name: ids are PostgreSQL INTEGER (32-bit signed) columns, so a
# larger one is refused as input rather than sent to a database that cannot compare it.
MAX_ID = 2**31 - 1


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and always returns aware UTC values.

    SQLite keeps no offset, so values are normalised to UTC before they are written and
    tagged as UTC when read; a naive value is a programming error and is refused.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store aware UTC values only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def result_processor(
        self, dialect: Dialect, coltype: object
    ) -> Callable[[Any], datetime | None] | None:
        """On SQLite, one C-level parse per value (``fromisoformat``) instead of the regular
        two-step processing: calendar pages read six datetimes per row."""
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        return _sqlite_utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


def _sqlite_utc(value: str | None) -> datetime | None:
    """A SQLite DATETIME text (``YYYY-MM-DD HH:MM:SS.ffffff``, stored in UTC) as aware UTC."""
    # Parsing the offset is cheaper than ``.replace(tzinfo=UTC)`` afterwards.
    return None if value is None else datetime.fromisoformat(value + "+00:00")


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)
