"""What auth lends other domains' statements: the live-session condition and the calendar lock.

The public face of auth's SQL (other domains never import ``auth.repository``): a read that
proves the caller's login in its own statement puts ``LIVE_SESSION`` in its WHERE clause, and a
write that conflict-checks a user's calendar takes ``lock_calendar`` first.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from calendo.auth.models import AuthSession, User
from calendo.core import statements
from calendo.core.uow import UnitOfWork

# Built once: the statement and its cache key are reused by every request.
LIVE_USERNAME = (
    select(User.username, User.timezone)
    .join(AuthSession, AuthSession.user_id == User.id)
    .where(
        User.id == bindparam("user_id"),
        AuthSession.id == bindparam("session_id"),
        AuthSession.revoked_at.is_(None),
    )
)


# The same check as a condition, for a read that proves the caller's session in its own
# statement (bind ``user_id`` and ``session_id``): it finds nothing for a revoked session.
LIVE_SESSION = LIVE_USERNAME.exists()


# A user's calendar lock (PostgreSQL): their account row, ``FOR NO KEY UPDATE``. It serialises
# the writes that conflict-check that user's calendar, and it is the weakest row lock that
# does: the foreign-key checks of the rows other writes append for this user (feed rows,
# notifications, permissions take ``FOR KEY SHARE``) pass beside it, where ``FOR UPDATE``
# would block them and let two writers wait on each other. First in the lock order
# (docs/architecture.md, "Lock order").
_CALENDAR_LOCK = (
    select(User.id).where(User.id == bindparam("user_id")).with_for_update(key_share=True)
)


def lock_calendar(sync_session: Session, user_id: int) -> None:
    """Take ``user_id``'s calendar lock until commit, once per transaction (inside
    ``run_sync``). On SQLite the write transaction is exclusive already: nothing to do."""
    connection = sync_session.connection()
    if connection.dialect.name != "postgresql":
        return
    locked = UnitOfWork.of(sync_session).locked_calendars
    if user_id not in locked:
        statements.rows(connection, _CALENDAR_LOCK, {"user_id": user_id})
        locked.add(user_id)
