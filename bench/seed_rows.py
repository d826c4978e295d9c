"""Table rows that mimic what the application writes for a create, an update and a share.

``events.creation.create_event`` writes the event, the owner's permission, version 1 (content
snapshot, changed fields, summary), an ``event_created`` audit row and the owner's sync row;
``update_event`` a version, an audit row and a sync row per audience member;
``events.sharing.share`` the permission, the collaborator's sync row, an
``event_shared`` notification and a ``shared`` audit row. ``RowBuilder`` does the same with
plain dicts, to be inserted in bulk.

A permission row's copies of its event's bounds (``event_start_time``, ``event_series_end``,
``event_deleted_at``) are not built here: the database's triggers (migration 0002) copy them
from the event when the row is inserted, as they do for the application's own writes. Events
are inserted before the permissions that name them (``TABLE_ORDER``), so the copies are
complete.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from calendo.events.snapshots import content_snapshot
from calendo.history.diff import changed_fields
from calendo.history.summary import summarize

TableRows = dict[str, list[dict[str, Any]]]
# Parents before children (the seeding connection does not check foreign keys, but the
# order keeps the file valid if it did).
TABLE_ORDER = (
    "user_account",
    "auth_session",
    "event",
    "permission",
    "event_version",
    "audit_entry",
    "sync_change",
    "notification",
)
IP = "127.0.0.1"


class RowBuilder:
    """Accumulates rows per table; ``drain`` hands them over and starts afresh."""

    def __init__(self) -> None:
        self._rows: TableRows = defaultdict(list)

    def drain(self) -> TableRows:
        """The rows built since the last drain."""
        rows, self._rows = self._rows, defaultdict(list)
        return rows

    def add_user(self, user_id: int, username: str, password_hash: str, at: datetime) -> None:
        """An account (every account shares one precomputed Argon2 hash)."""
        self._rows["user_account"].append(
            {
                "id": user_id,
                "username": username,
                "email": f"{username}@example.com",
                "password_hash": password_hash,
                "created_at": at,
            }
        )

    def add_session(self, user_id: int, at: datetime) -> int:
        """A live login session whose id equals the user id (tokens are minted for it)."""
        jti = secrets.token_urlsafe(16)
        self._rows["auth_session"].append(
            {"id": user_id, "user_id": user_id, "refresh_jti": jti, "created_at": at}
        )
        return user_id

    def add_event(
        self, event_id: int, owner_id: int, revisions: list[dict[str, Any]], at: datetime
    ) -> None:
        """An event created at ``at`` and then revised hourly: one version per revision."""
        last = revisions[-1]
        updated_at = at + timedelta(hours=len(revisions) - 1)
        self._rows["event"].append(
            {
                "id": event_id,
                "owner_id": owner_id,
                **last,
                "version": len(revisions),
                "created_at": at,
                "updated_at": updated_at,
            }
        )
        self._grant(event_id, owner_id, "owner", owner_id, at)
        previous: dict[str, Any] | None = None
        for number, content in enumerate(revisions, start=1):
            previous = self._version(event_id, owner_id, number, previous, content, at)

    def share(
        self, event_id: int, owner_id: int, user_id: int, role: str, at: datetime, *, title: str
    ) -> None:
        """Share with a collaborator, as ``events.sharing.share`` records it (``title``: the
        event's current title, which the notification carries)."""
        self._grant(event_id, user_id, role, owner_id, at)
        self._sync(user_id, event_id, at)
        self._rows["notification"].append(
            {
                "user_id": user_id,
                "type": "event_shared",
                "event_id": event_id,
                "event_title": title,
                "actor_id": owner_id,
                "changed_fields": [],
                "version": 1,
                "created_at": at,
                "read_at": None,
            }
        )
        details = {"user_id": user_id, "role": role, "previous_role": None}
        self._audit("shared", owner_id, event_id, details, at)

    def _version(
        self,
        event_id: int,
        owner_id: int,
        number: int,
        previous: dict[str, Any] | None,
        content: dict[str, Any],
        created: datetime,
    ) -> dict[str, Any]:
        snapshot = content_snapshot(SimpleNamespace(**content))  # type: ignore[arg-type]
        action = "created" if previous is None else "updated"
        fields = changed_fields(previous, snapshot)
        at = created + timedelta(hours=number - 1)
        self._rows["event_version"].append(
            {
                "event_id": event_id,
                "version": number,
                "action": action,
                "snapshot": snapshot,
                "changed_fields": fields,
                "tags": [],
                "summary": summarize(previous, snapshot, action=action),
                "note": None,
                "author_id": owner_id,
                "target_version": None,
                "created_at": at,
            }
        )
        details: dict[str, Any] = {"version": number}
        if previous is not None:
            details["changed_fields"] = fields
        self._audit(f"event_{action}", owner_id, event_id, details, at)
        self._sync(owner_id, event_id, at)
        return snapshot

    def _grant(self, event_id: int, user_id: int, role: str, by: int, at: datetime) -> None:
        self._rows["permission"].append(
            {
                "event_id": event_id,
                "user_id": user_id,
                "role": role,
                "granted_by": by,
                "granted_at": at,
            }
        )

    def _sync(self, user_id: int, event_id: int, at: datetime) -> None:
        self._rows["sync_change"].append(
            {"user_id": user_id, "event_id": event_id, "change": "upsert", "created_at": at}
        )

    def _audit(
        self, action: str, actor_id: int, event_id: int, details: dict[str, Any], at: datetime
    ) -> None:
        self._rows["audit_entry"].append(
            {
                "action": action,
                "actor_id": actor_id,
                "subject_user_id": actor_id,
                "event_id": event_id,
                "ip": IP,
                "details": details,
                "created_at": at,
            }
        )
