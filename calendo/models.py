"""Every table, imported in one place for Alembic and the test database."""

from calendo.audit.models import AuditEntry
from calendo.auth.models import AuthSession, User
from calendo.core.db import Base
from calendo.events.models import Event
from calendo.history.models import EventVersion
from calendo.ical.models import EventIcalExtra, FeedToken, ImportedUid
from calendo.notifications.models import Notification
from calendo.sharing.models import Permission
from calendo.sync.models import SyncChange

__all__ = [
    "AuditEntry",
    "AuthSession",
    "Base",
    "Event",
    "EventIcalExtra",
    "EventVersion",
    "FeedToken",
    "ImportedUid",
    "Notification",
    "Permission",
    "SyncChange",
    "User",
]
