"""Audit trail rows. ``subject_user_id`` is the account a row concerns besides its actor:
the owner of the event touched, or the account of a login attempt."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from calendo.core.db import Base
from calendo.core.types import JSONType, UTCDateTime, utcnow


class AuditEntry(Base):
    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_actor", "actor_id", "id"),
        Index("ix_audit_entry_subject", "subject_user_id", "id"),
        Index("ix_audit_entry_event", "event_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    action: Mapped[str] = mapped_column(String(32))
    # No foreign keys: the trail outlives what it speaks of.
    actor_id: Mapped[int | None] = mapped_column(Integer, default=None)
    subject_user_id: Mapped[int | None] = mapped_column(Integer, default=None)
    event_id: Mapped[int | None] = mapped_column(Integer, default=None)
    ip: Mapped[str | None] = mapped_column(String(64), default=None)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
