"""An event change, as data: everything one write of one event appends, built by pure code.

``build_change`` takes the state read under the lock and the new column values, and returns a
frozen ``EventChange``: the state it leaves, the conditional UPDATE's values and expected
version, the version row, the audit row, the sync-feed rows and the notification. Nothing
here touches the database; ``events.repository.apply_changes`` writes a sequence of them in
one pass through the driver, so a write that changes several events at once (a transaction,
a series split, an import) is as atomic as one that changes one.

The rows other packages own come from their pure builders over plain values
(``history.recording.version_row``, ``audit.service.entry``); the feed rows and the
notification are built when applied, because the feed's commit-order lock and the
notification's publish belong to the transaction (``sync.feed.steps``,
``notifications.service.notify``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from calendo.audit import service as audit
from calendo.events.snapshots import content_snapshot
from calendo.events.state import EventState
from calendo.history import recording

# Where a change came from. ``api`` is every request of the REST API but the iCalendar import
# (``import``, ``ical.importing``); the others are for the clients to come (the web app,
# CalDAV). A change from anywhere but the API names its source in its version's tags and its
# audit entry.
SOURCES = frozenset({"api", "web", "caldav", "import"})


@dataclass(frozen=True, slots=True)
class Actor:
    """Who changes the event, and from which address and source."""

    id: int
    username: str
    ip: str | None = None
    source: str = "api"


@dataclass(frozen=True, slots=True)
class Notice:
    """The notification of a change to the event's audience, the actor excluded."""

    type: str
    recipient_ids: tuple[int, ...]
    event_id: int
    event_title: str  # as the change leaves it
    actor_id: int
    actor_username: str
    changed_fields: tuple[str, ...]
    version: int


@dataclass(frozen=True, slots=True)
class EventChange:
    """One change of one event, ready to apply. A create has no state before it: its row is
    inserted first (the id comes from the database), and the change adds the owner's
    permission row instead of the conditional UPDATE."""

    before: EventState | None
    after: EventState
    columns: Mapping[str, Any]  # the columns the UPDATE sets (the version aside)
    version_row: Mapping[str, Any]
    audit_row: Mapping[str, Any]
    feed_users: tuple[int, ...]  # who gets a sync-feed row
    feed_change: str  # "upsert" or "delete"
    notice: Notice | None  # a create tells nobody, nor a change the actor alone can see


def _marked(actor: Actor, tags: Sequence[str], details: dict[str, Any]) -> Sequence[str]:
    """A change from anywhere but the API names its source: in the version's tags (returned)
    and in the audit details (added to ``details``)."""
    if actor.source not in SOURCES:
        raise ValueError(f"unknown change source {actor.source!r}")
    if actor.source == "api":
        return tags
    details["source"] = actor.source
    return [*tags, actor.source]


def _recorded(
    after: EventState,
    *,
    actor: Actor,
    action: str,
    previous: dict[str, Any] | None,
    note: str | None,
    tags: Sequence[str],
    target_version: int | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The version row and the audit row recording ``after`` as a version (``action``)."""
    details: dict[str, Any] = {"version": after.version}
    version = recording.version_row(
        content_snapshot(after),
        event_id=after.id,
        version=after.version,
        created_at=after.updated_at,
        action=action,
        author_id=actor.id,
        previous=previous,
        note=note,
        tags=_marked(actor, tags, details),
        target_version=target_version,
    )
    if previous is not None:  # a creation's audit entry names no changed fields
        details["changed_fields"] = version["changed_fields"]
    entry = audit.entry(
        action=f"event_{action}",
        actor_id=actor.id,
        subject_user_id=after.owner_id,
        event_id=after.id,
        ip=actor.ip,
        details=details,
    )
    return version, entry


def build_change(
    before: EventState,
    values: Mapping[str, Any],
    *,
    actor: Actor,
    audience: Mapping[int, str],
    action: str,
    previous: dict[str, Any] | None,
    note: str | None,
    tags: Sequence[str],
    notify_type: str,
    target_version: int | None = None,
    feed_change: str = "upsert",
) -> EventChange:
    """The change writing ``values`` (column → value) as the event's next version."""
    after = before.changed(dict(values))
    version, entry = _recorded(
        after,
        actor=actor,
        action=action,
        previous=previous,
        note=note,
        tags=tags,
        target_version=target_version,
    )
    # Nobody to tell when the actor is the whole audience (their own event, unshared).
    recipients = tuple(user_id for user_id in audience if user_id != actor.id)
    notice = (
        Notice(
            type=notify_type,
            recipient_ids=recipients,
            event_id=after.id,
            event_title=after.title,
            actor_id=actor.id,
            actor_username=actor.username,
            changed_fields=tuple(version["changed_fields"]),
            version=after.version,
        )
        if recipients
        else None
    )
    return EventChange(
        before=before,
        after=after,
        columns=dict(values),
        version_row=version,
        audit_row=entry,
        feed_users=tuple(sorted(audience)),
        feed_change=feed_change,
        notice=notice,
    )


def build_created(
    event: EventState, *, actor: Actor, note: str | None, tags: Sequence[str]
) -> EventChange:
    """The change recording a new event (already inserted as ``event``, version 1): its
    owner's permission, version 1, the audit row and the owner's feed row."""
    version, entry = _recorded(
        event, actor=actor, action="created", previous=None, note=note, tags=tags
    )
    return EventChange(
        before=None,
        after=event,
        columns={},
        version_row=version,
        audit_row=entry,
        feed_users=(actor.id,),
        feed_change="upsert",
        notice=None,
    )


@dataclass(frozen=True, slots=True)
class Grant:
    """One user's role on the event: granted (``previous`` None), changed, or revoked
    (``role`` None)."""

    user_id: int
    role: str | None
    previous: str | None

    @property
    def action(self) -> str:
        """The audit action (and, through ``_NOTICE_OF``, the notification type)."""
        if self.previous is None:
            return "shared"
        return "unshared" if self.role is None else "permission_changed"


_NOTICE_OF = {
    "shared": "event_shared",
    "permission_changed": "permission_changed",
    "unshared": "permission_revoked",
}


@dataclass(frozen=True, slots=True)
class AccessChange:
    """A change of who may see an event, the other kind of event change: per-user state that
    is not a version of the event (its content and version stay). It writes permission rows,
    and appends an audit row, a sync-feed row and a notification per user whose role changed."""

    event: EventState
    actor_id: int
    grants: tuple[Grant, ...]
    audit_rows: tuple[Mapping[str, Any], ...]
    notices: tuple[Notice, ...]

    @property
    def feed(self) -> tuple[tuple[int, str], ...]:
        """(user id, ``upsert`` or ``delete``): the user's synced copy changes, since their
        role (``my_role``) is part of it, or goes."""
        return tuple((g.user_id, "delete" if g.role is None else "upsert") for g in self.grants)


def build_access_change(
    event: EventState,
    audience: Mapping[int, str],
    wanted: Sequence[tuple[int, str | None]],
    *,
    actor: Actor,
) -> AccessChange:
    """The change giving each user of ``wanted`` (user id, role; None revokes) that role, for
    those whose role it changes, in the order given. A user who leaves an event tells its
    owner; otherwise the user whose role changed is told."""
    grants = tuple(
        Grant(user_id, role, audience.get(user_id))
        for user_id, role in wanted
        if audience.get(user_id) != role
    )
    audit_rows = []
    notices = []
    for grant in grants:
        details: dict[str, Any] = {"user_id": grant.user_id}
        if grant.role is not None:
            details["role"] = grant.role
        details["previous_role"] = grant.previous
        audit_rows.append(
            audit.entry(
                action=grant.action,
                actor_id=actor.id,
                subject_user_id=event.owner_id,
                event_id=event.id,
                ip=actor.ip,
                details=details,
            )
        )
        leaving = grant.role is None and grant.user_id == actor.id
        notices.append(
            Notice(
                type=_NOTICE_OF[grant.action],
                recipient_ids=(event.owner_id if leaving else grant.user_id,),
                event_id=event.id,
                event_title=event.title,
                actor_id=actor.id,
                actor_username=actor.username,
                changed_fields=(),
                version=event.version,
            )
        )
    return AccessChange(
        event=event,
        actor_id=actor.id,
        grants=grants,
        audit_rows=tuple(audit_rows),
        notices=tuple(notices),
    )
