"""Accounts and login sessions (token families)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from calendo.core.db import Base
from calendo.core.types import UTCDateTime, utcnow


class User(Base):
    """An account. A deleted account keeps its row as a tombstone (``deleted_at`` set, the
    email and password hash scrubbed, the username retired): the history, notifications and
    audit entries that name it keep pointing at it, and at no one else (docs/api-notes.md,
    "Deleting an account")."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    # The account's default zone (an IANA name) for rendering times; instants stay UTC.
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class AuthSession(Base):
    """One login: every access and refresh token it issues names it (``sid``).

    Revoking the session revokes all of its tokens at once, in every process, because each
    authenticated request checks it in the same query that loads the user. ``refresh_jti`` is
    the only refresh token of the family still valid; presenting an older one is reuse.
    """

    __tablename__ = "auth_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    refresh_jti: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
