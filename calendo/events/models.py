"""The event row: current content, version counter, and the series bounds used by indexes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Table, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from calendo.core.db import Base
from calendo.core.types import JSONType, UTCDateTime, utcnow


class Event(Base):
    """An event or a recurring series.

    ``series_end`` is the end of the last occurrence (NULL when the series is open-ended), so a
    window query can pick candidates by ``start_time < window_end AND (series_end IS NULL OR
    series_end > window_start)`` and expand only those.
    """

    __tablename__ = "event"
    __table_args__ = (Index("ix_event_window", "start_time", "series_end"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    start_time: Mapped[datetime] = mapped_column(UTCDateTime)
    end_time: Mapped[datetime] = mapped_column(UTCDateTime)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    location: Mapped[str | None] = mapped_column(String(500), default=None)
    is_recurring: Mapped[bool] = mapped_column(Boolean, default=False)
    recurrence_pattern: Mapped[str | None] = mapped_column(String(500), default=None)
    recurrence_exceptions: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    series_end: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Added by migration 0006, after the columns above (their order is the table's).
    # RFC 5545 TRANSP: a transparent event never conflicts.
    transparency: Mapped[str] = mapped_column(String(16), default="opaque", server_default="opaque")
    # RFC 5545 RDATE: extra occurrence starts (RFC 3339 UTC strings, sorted); NULL reads as none.
    recurrence_dates: Mapped[list[Any] | None] = mapped_column(JSONType, default=list)
    # Added by migration 0007. Single-occurrence overrides (RECURRENCE-ID), sorted by
    # recurrence id (events.overrides); NULL reads as none.
    recurrence_overrides: Mapped[list[Any] | None] = mapped_column(JSONType, default=list)
    # Added by migration 0007, not content (no version of its own): the series a split links
    # this one to (RFC 5545 RELATED-TO), ``[{"event_id", "relation", "version"}]``
    # (events.splitting); NULL reads as none.
    related_events: Mapped[list[Any] | None] = mapped_column(JSONType, default=list)
    # Added by migration 0008: an all-day event (RFC 5545 VALUE=DATE) has dates, end exclusive;
    # its start_time / end_time / series_end are then index bounds wide enough for any zone's
    # placement of the dates (events.all_day).
    all_day: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    start_date: Mapped[date | None] = mapped_column(Date, default=None)
    end_date: Mapped[date | None] = mapped_column(Date, default=None)

    # Every UPDATE of an event is ``... WHERE id = :id AND version = :seen`` and bumps the
    # version: the check and the write are one statement. Content writes issue it themselves
    # (events.repository.apply_changes, VersionConflict when it lost a race); the mapper keeps the
    # same rule for any flush of a loaded event (StaleDataError).
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


# The event table for Core statements (the writes that bypass the unit of work's flush).
EVENT_TABLE = cast(Table, Event.__table__)
