"""An event as a value: what a write reads under its lock and what it leaves behind.

The lock read (``events.access.lock_event``) returns an ``EventState``, frozen, built from
the row's columns; a change computes the next state from it (``EventState.changed``) and the
repository writes that state's columns with one conditional UPDATE
(``events.repository.apply_changes``). Nothing here is an ORM object, so nothing can reach
the database by being flushed, and no session holds a second copy that could go stale.

``EventFields`` is what the code that only *reads* an event's columns accepts: an
``EventState``, an ORM ``Event`` (the read paths load those) or a row with the same names.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from typing import Any, Protocol


class EventFields(Protocol):
    """The columns of an event, read-only."""

    @property
    def id(self) -> int: ...
    @property
    def owner_id(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def description(self) -> str | None: ...
    @property
    def start_time(self) -> datetime: ...
    @property
    def end_time(self) -> datetime: ...
    @property
    def timezone(self) -> str: ...
    @property
    def location(self) -> str | None: ...
    @property
    def is_recurring(self) -> bool: ...
    @property
    def recurrence_pattern(self) -> str | None: ...
    @property
    def recurrence_exceptions(self) -> list[Any]: ...
    @property
    def series_end(self) -> datetime | None: ...
    @property
    def version(self) -> int: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def deleted_at(self) -> datetime | None: ...
    @property
    def transparency(self) -> str: ...
    @property
    def recurrence_dates(self) -> list[Any] | None: ...
    @property
    def recurrence_overrides(self) -> list[Any] | None: ...
    @property
    def related_events(self) -> list[Any] | None: ...
    @property
    def all_day(self) -> bool: ...
    @property
    def start_date(self) -> date | None: ...
    @property
    def end_date(self) -> date | None: ...


@dataclass(frozen=True, slots=True)
class EventState:
    """The columns of one event row, as read under its lock (or as a change leaves them)."""

    id: int
    owner_id: int
    title: str
    description: str | None
    start_time: datetime
    end_time: datetime
    timezone: str
    location: str | None
    is_recurring: bool
    recurrence_pattern: str | None
    recurrence_exceptions: list[Any]
    series_end: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    # Migration 0006's columns; the defaults are those of an event written before it.
    transparency: str = "opaque"
    recurrence_dates: list[Any] | None = None
    # Migration 0007's columns.
    recurrence_overrides: list[Any] | None = None
    related_events: list[Any] | None = None
    # Migration 0008's columns (an all-day event's dates); an event written before is timed.
    all_day: bool = False
    start_date: date | None = None
    end_date: date | None = None

    @classmethod
    def of_row(cls, row: Any) -> EventState:
        """The state of a row holding the event's columns by name (extra columns ignored)."""
        return cls(**{name: getattr(row, name) for name in COLUMNS})

    def changed(self, values: dict[str, Any]) -> EventState:
        """The state after writing ``values`` (column → value) as the next version."""
        return replace(self, **values, version=self.version + 1)


COLUMNS = tuple(field.name for field in fields(EventState))
