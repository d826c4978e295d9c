"""The subscription feed tokens: a secret URL per feed, stored only as its SHA-256."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from calendo.core.db import Base
from calendo.core.types import UTCDateTime, utcnow


class FeedToken(Base):
    """One feed of a user's calendar (migration 0008).

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
