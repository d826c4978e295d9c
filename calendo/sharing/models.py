"""Who may do what with an event. The owner has a row too, so one lookup answers every role."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from calendo.core.db import Base
from calendo.core.types import UTCDateTime, utcnow


class Permission(Base):
    __tablename__ = "permission"
    __table_args__ = (
        UniqueConstraint("event_id", "user_id"),
        Index("ix_permission_user_event", "user_id", "event_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    granted_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
