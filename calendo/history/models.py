"""Append-only event versions: a full content snapshot per change, with attribution."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from calendo.core.db import Base
from calendo.core.types import JSONType, UTCDateTime, utcnow


class EventVersion(Base):
    __tablename__ = "event_version"
    __table_args__ = (
        UniqueConstraint("event_id", "version"),
        Index("ix_event_version_as_of", "event_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONType)
    changed_fields: Mapped[list[str]] = mapped_column(JSONType, default=list)
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    summary: Mapped[str] = mapped_column(String(2000), default="")
    note: Mapped[str | None] = mapped_column(String(500), default=None)
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    # For a rollback: the version whose content it restored.
    target_version: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
