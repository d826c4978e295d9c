"""The event-change pipeline: ``events.change.build_change`` (pure) and
``events.repository.apply_changes`` (one pass, several events atomically)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from calendo.audit.models import AuditEntry
from calendo.core.db import Database
from calendo.core.uow import UnitOfWork
from calendo.events import access, repository
from calendo.events.change import Actor, EventChange, build_change
from calendo.events.preconditions import VersionConflict
from calendo.events.snapshots import content_snapshot
from calendo.events.state import EventState
from calendo.history.models import EventVersion
from calendo.notifications.models import Notification
from calendo.sync.models import SyncChange
from tests.events.conftest import EventFactory
from tests.helpers import Actor as Account

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _state(**overrides: object) -> EventState:
    values: dict[str, object] = {
        "id": 7,
        "owner_id": 1,
        "title": "Standup",
        "description": None,
        "start_time": datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        "end_time": datetime(2026, 3, 2, 9, 15, tzinfo=UTC),
        "timezone": "UTC",
        "location": None,
        "is_recurring": False,
        "recurrence_pattern": None,
        "recurrence_exceptions": [],
        "series_end": datetime(2026, 3, 2, 9, 15, tzinfo=UTC),
        "version": 3,
        "created_at": NOW,
        "updated_at": NOW,
        "deleted_at": None,
    }
    values.update(overrides)
    return EventState(**values)  # type: ignore[arg-type]


def _rename(
    before: EventState, title: str, *, actor: Actor, audience: dict[int, str]
) -> EventChange:
    return build_change(
        before,
        {"title": title, "updated_at": NOW},
        actor=actor,
        audience=audience,
        action="updated",
        previous=content_snapshot(before),
        note=None,
        tags=(),
        notify_type="event_updated",
    )


def test_a_change_is_the_next_state_and_every_row_it_appends() -> None:
    before = _state()
    change = _rename(
        before, "Retro", actor=Actor(2, "grace", ip="10.0.0.2"), audience={1: "owner", 2: "editor"}
    )
    assert change.before is before and before.title == "Standup"  # the state read is untouched
    assert (change.after.title, change.after.version) == ("Retro", 4)
    assert change.columns == {"title": "Retro", "updated_at": NOW}
    row = change.version_row
    assert (row["event_id"], row["version"], row["action"], row["author_id"]) == (
        7,
        4,
        "updated",
        2,
    )
    assert row["changed_fields"] == ["title"] and row["snapshot"]["title"] == "Retro"
    assert row["tags"] == [] and row["created_at"] == NOW
    assert change.audit_row["action"] == "event_updated"
    assert change.audit_row["ip"] == "10.0.0.2"
    assert change.audit_row["details"] == {"version": 4, "changed_fields": ["title"]}
    assert change.feed_users == (1, 2) and change.feed_change == "upsert"
    assert change.notice is not None and change.notice.recipient_ids == (1,)  # not the actor
    assert (change.notice.type, change.notice.event_title, change.notice.version) == (
        "event_updated",
        "Retro",
        4,
    )


def test_a_change_the_actor_alone_can_see_notifies_nobody() -> None:
    change = _rename(_state(), "Alone", actor=Actor(1, "ada"), audience={1: "owner"})
    assert change.notice is None
    assert change.feed_users == (1,)  # the actor's own clients still sync it


def test_a_change_from_another_source_names_it_in_its_tags_and_audit_entry() -> None:
    change = _rename(
        _state(), "Imported", actor=Actor(1, "ada", source="import"), audience={1: "owner"}
    )
    assert change.version_row["tags"] == ["import"]
    assert change.audit_row["details"]["source"] == "import"
    with pytest.raises(ValueError, match="unknown change source"):
        _rename(_state(), "X", actor=Actor(1, "ada", source="fax"), audience={1: "owner"})


async def _count(db: Database, model: type, **where: object) -> int:
    async with UnitOfWork.read(db) as session:
        query = select(func.count()).select_from(model).filter_by(**where)
        return int((await session.execute(query)).scalar_one())


async def test_changes_of_several_events_apply_together_or_not_at_all(
    app: FastAPI, owner: Account, editor: Account, make_event: EventFactory
) -> None:
    db: Database = app.state.services.db
    broker = app.state.services.broker
    first, second = await make_event(owner, title="One"), await make_event(owner, title="Two")
    me = Actor(owner.id, owner.username)
    async with UnitOfWork.write(db) as session:
        changes = []
        for event in (first, second):
            found = await access.lock_event(
                session, user_id=owner.id, event_id=event["id"], minimum="owner"
            )
            changes.append(_rename(found.event, "Renamed", actor=me, audience=found.audience))
        await repository.apply_changes(session, broker, changes)
    for event in (first, second):
        assert await _count(db, EventVersion, event_id=event["id"], version=2) == 1
        assert await _count(db, AuditEntry, event_id=event["id"], action="event_updated") == 1
        assert await _count(db, SyncChange, event_id=event["id"], user_id=owner.id) == 2

    # A stale second change (another writer got there first) rolls the first back too.
    with pytest.raises(VersionConflict):
        async with UnitOfWork.write(db) as session:
            found = await access.lock_event(
                session, user_id=owner.id, event_id=first["id"], minimum="owner"
            )
            fresh = _rename(found.event, "Three", actor=me, audience=found.audience)
            stale = _rename(
                _state(id=second["id"], owner_id=owner.id, version=1),
                "Lost",
                actor=me,
                audience={owner.id: "owner"},
            )
            await repository.apply_changes(session, broker, [fresh, stale])
    for event in (first, second):
        assert await _count(db, EventVersion, event_id=event["id"]) == 2
    assert await _count(db, Notification) == 0  # the owner alone: nobody else to tell


def test_the_state_has_exactly_the_columns_of_the_event_table() -> None:
    from calendo.events.models import EVENT_TABLE
    from calendo.events.state import COLUMNS

    assert list(COLUMNS) == [column.key for column in EVENT_TABLE.columns]
