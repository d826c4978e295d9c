"""The subscription feed tokens: a secret URL per feed, stored only as its SHA-256."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from calendo.core.db import Base
from calendo.core.types import JSONType, UTCDateTime, utcnow


class FeedToken(Base):
    """One feed of a user's calendar (migration 0009).

    ``token_hash`` is the hex SHA-256 of the secret in the feed's URL (256 random bits from
    ``secrets``, so a fast hash is enough: there is nothing to guess from). Revoking a feed
    deletes its row; every request looks the row up, so a revoked feed is refused at once in
    every process.
    """

    __tablename__ = "feed_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    busy_only: Mapped[bool] = mapped_column(Boolean, default=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ImportedUid(Base):
    """Which event a foreign ``UID`` became, per importing owner (migration 0010).

    Re-importing a file updates the events its UIDs name instead of duplicating them; another
    user importing the same UID gets an event of their own (the key is ``(owner_id, uid)``).
    Calendo's own ``<id>@calendo`` UIDs need no row: they name their event.
    """

    __tablename__ = "imported_uid"

    owner_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    uid: Mapped[str] = mapped_column(String(255), primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)


class EventIcalExtra(Base):
    """What an imported VEVENT held that Calendo does not model (``X-`` properties,
    ``CATEGORIES``, ``URL``, ``ATTACH``, ``ATTENDEE``, ``ORGANIZER``, ``VALARM``…), kept as
    its content lines and written again unchanged on export (migration 0010).

    ``lines`` maps ``""`` (the series' VEVENT) and each override's recurrence id (RFC 3339
    UTC) to the unfolded content lines of that component, subcomponents included. Not
    versioned content: a re-import replaces it, a rollback leaves it.
    """

    __tablename__ = "event_ical_extra"

    event_id: Mapped[int] = mapped_column(
        ForeignKey("event.id", ondelete="CASCADE"), primary_key=True
    )
    lines: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # When the import wrote them: a feed's tag names the latest (``export.feed_calendar``).
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
