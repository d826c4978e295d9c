"""Sync and ``as_of`` benchmark on a throw-away SQLite database.

Run it from the repository root::

    .venv/bin/python bench/sync_bench.py [--changes 10000] [--versions 1000] [--calls 200]

What it does:

1. migrates a temporary SQLite file and starts the app in-process (httpx + ASGITransport,
   lifespan included, rate limits off);
2. registers one user through the API, then seeds realistic rows directly (what the service
   layer would have written, minus the per-request overhead): events the user owns with their
   permission rows, ``--changes`` feed rows spread over those events (updates plus a few
   deletes), and one event with ``--versions`` versions a minute apart;
3. times, through HTTP:
   * the first sync (no cursor): the whole calendar, paged by ``CALENDO_SYNC_PAGE_SIZE``;
   * an incremental replay of every feed row from the start (cursor at seq 0), paged;
   * ``GET /api/events/{id}?as_of=`` on the many-version event at random instants
     (p50 / p99 over ``--calls`` calls), which must stay flat however long the history is.

It finishes in well under a minute and leaves nothing behind.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.config import in_process_settings, throwaway_sqlite
from calendo.app import create_app
from calendo.core.db import Database
from calendo.core.pagination import encode_cursor
from calendo.core.uow import UnitOfWork
from calendo.events.models import Event
from calendo.events.snapshots import content_snapshot
from calendo.history.models import EventVersion
from calendo.sharing.models import Permission
from calendo.sync.models import SyncChange

CHANGES_PER_EVENT = 5
EPOCH = datetime(2026, 1, 5, 9, tzinfo=UTC)


def _event(owner_id: int, index: int, now: datetime) -> Event:
    start = EPOCH + timedelta(hours=index)
    return Event(
        owner_id=owner_id,
        title=f"Meeting {index}",
        description="Weekly planning with the whole team, agenda in the shared doc.",
        start_time=start,
        end_time=start + timedelta(minutes=45),
        timezone="Europe/Berlin",
        location=f"Room {index % 12}",
        is_recurring=False,
        recurrence_pattern=None,
        recurrence_exceptions=[],
        series_end=start + timedelta(minutes=45),
        version=CHANGES_PER_EVENT,
        created_at=now,
        updated_at=now,
    )


async def seed_feed(db: Database, user_id: int, changes: int) -> int:
    """Events owned by the user and ``changes`` feed rows over them; returns the event count."""
    count = max(1, changes // CHANGES_PER_EVENT)
    now = datetime.now(UTC)
    async with UnitOfWork.independent(db) as session:
        events = [_event(user_id, i, now) for i in range(count)]
        session.add_all(events)
        await session.flush()
        session.add_all(
            Permission(event_id=e.id, user_id=user_id, role="owner", granted_by=user_id)
            for e in events
        )
        rows = []
        for seq in range(changes):
            event = events[seq % count]
            last = seq >= changes - count and event.id % 50 == 0  # a few end deleted
            rows.append(
                {"user_id": user_id, "event_id": event.id, "change": "delete" if last else "upsert"}
            )
            if last:
                event.deleted_at = now
        await session.execute(insert(SyncChange), rows)
    return count


async def seed_history(db: Database, user_id: int, versions: int) -> tuple[int, datetime]:
    """One event with ``versions`` versions a minute apart; returns its id and first time."""
    first = datetime.now(UTC) - timedelta(minutes=versions + 1)
    async with UnitOfWork.independent(db) as session:
        event = _event(user_id, 0, first)
        event.version = versions
        session.add(event)
        await session.flush()
        session.add(
            Permission(event_id=event.id, user_id=user_id, role="owner", granted_by=user_id)
        )
        rows = []
        for number in range(1, versions + 1):
            event.title = f"Roadmap v{number}"
            rows.append(
                {
                    "event_id": event.id,
                    "version": number,
                    "action": "created" if number == 1 else "updated",
                    "snapshot": content_snapshot(event),
                    "changed_fields": [] if number == 1 else ["title"],
                    "tags": [],
                    "summary": "changed title",
                    "author_id": user_id,
                    "created_at": first + timedelta(minutes=number - 1),
                }
            )
        await session.execute(insert(EventVersion), rows)
    return event.id, first


async def drain(
    client: httpx.AsyncClient, headers: dict[str, str], cursor: str | None
) -> tuple[int, int]:
    """Follow ``has_more`` to the end; returns the numbers of pages and of entries."""
    pages = entries = 0
    while True:
        params = {"cursor": cursor} if cursor else {}
        response = await client.get("/api/sync", params=params, headers=headers)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        pages += 1
        entries += len(body["changes"])
        cursor = body["next_cursor"]
        if not body["has_more"]:
            return pages, entries


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


async def _register(client: httpx.AsyncClient) -> tuple[int, dict[str, str]]:
    response = await client.post(
        "/api/auth/register",
        json={"username": "bench", "email": "bench@example.com", "password": "pw-12345678"},
    )
    response.raise_for_status()
    body = response.json()
    return body["user"]["id"], {"Authorization": f"Bearer {body['access_token']}"}


async def _time_sync(
    client: httpx.AsyncClient, headers: dict[str, str], label: str, cursor: str | None
) -> None:
    started = time.perf_counter()
    pages, entries = await drain(client, headers, cursor)
    took = time.perf_counter() - started
    print(
        f"{label}: {entries} entries in {pages} pages, {_ms(took)} ({_ms(took / pages)} per page)"
    )


async def _time_as_of(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    event_id: int,
    first: datetime,
    versions: int,
    calls: int,
) -> None:
    rng = random.Random(7)
    timings = []
    for _ in range(calls):
        at = first + timedelta(seconds=rng.uniform(0, versions * 60))
        started = time.perf_counter()
        response = await client.get(
            f"/api/events/{event_id}", params={"as_of": at.isoformat()}, headers=headers
        )
        timings.append(time.perf_counter() - started)
        response.raise_for_status()
    timings.sort()
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    print(
        f"as_of on a {versions}-version event ({calls} calls): "
        f"p50 {_ms(statistics.median(timings))}, p99 {_ms(p99)}"
    )


async def run(url: str, changes: int, versions: int, calls: int) -> None:
    """Seed, then time the first sync, a full incremental replay and as_of reads."""
    settings = in_process_settings(url)
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            user_id, headers = await _register(client)
            db: Database = app.state.services.db
            started = time.perf_counter()
            events = await seed_feed(db, user_id, changes)
            history_id, first = await seed_history(db, user_id, versions)
            print(
                f"seeded {changes} feed rows over {events} events and {versions} versions "
                f"in {time.perf_counter() - started:.1f} s; page size {settings.sync_page_size}"
            )
            await _time_sync(client, headers, "first sync (snapshot)", None)
            replay_from_start = encode_cursor(user_id, 0, None)
            await _time_sync(
                client, headers, f"incremental replay of {changes} changes", replay_from_start
            )
            await _time_as_of(client, headers, history_id, first, versions, calls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=1_000)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    with throwaway_sqlite("calendo-bench-") as url:
        asyncio.run(run(url, args.changes, args.versions, args.calls))


if __name__ == "__main__":
    main()
