"""Who may do what with an event. The owner has a row too, so one lookup answers every role."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from calendo.core.db import Base
from calendo.core.types import UTCDateTime, utcnow


def _event_copy() -> Mapped[datetime | None]:
    """A copy of an event column, written only by the database's triggers (migration 0002).

    Deferred with raise-on-load: application code never reads it from an ORM object (it may
    be stale there); queries use it as a column.
    """
    return mapped_column(UTCDateTime, nullable=True, deferred=True, deferred_raiseload=True)


class Permission(Base):
    """A role on an event, with a copy of the event's series bounds and deletion time.

    The copies let the calendar page walk ``ix_permission_calendar`` in (start, id) order and
    stop after one page, instead of joining and sorting all of the user's events. Triggers
    copy them when the row is inserted and whenever the event's ``start_time``,
    ``series_end`` or ``deleted_at`` changes, in the same statement, so they cannot drift.
    """

    __tablename__ = "permission"
    __table_args__ = (
        UniqueConstraint("event_id", "user_id"),
        Index("ix_permission_user_event", "user_id", "event_id"),
        Index(
            "ix_permission_calendar",
            "user_id",
            "event_start_time",
            "event_id",
            "event_series_end",
            "event_deleted_at",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    granted_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    event_start_time: Mapped[datetime | None] = _event_copy()
    event_series_end: Mapped[datetime | None] = _event_copy()
    event_deleted_at: Mapped[datetime | None] = _event_copy()
