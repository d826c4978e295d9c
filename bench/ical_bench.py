"""iCalendar benchmark on a throw-away SQLite database: a 1,000-event feed, and its import.

Run it from the repository root::

    .venv/bin/python bench/ical_bench.py [--events 1000] [--samples 5]

What it does:

1. migrates a temporary SQLite file and starts the app in-process (httpx + ASGITransport,
   lifespan included, rate limits off), so the times are the server's own work plus a thin
   in-process transport (no network, no HTTP parsing);
2. creates ``--events`` events through the batch API, in the feed's window: 10 % recurring
   (weekly, 26 occurrences, in Europe/Berlin), a third of those with two overrides (a moved
   and a retitled occurrence), the rest single events in four zones;
3. times, each over ``--samples`` runs (median, and the slowest):
   * the feed uncached, rendered from scratch: each sample a new feed of the same calendar
     (a new tag, so no rendering in the cache), with the process's memory of rendered
     events emptied first (``convert.forget_renderings``), read in full;
   * the feed after one event changed: each sample edits one event's title, then reads the
     feed (a new tag: rendered again, every other event from the memory of renderings);
   * the JSON listing of the same events (``GET /api/events`` over the feed's window, paged
     by the largest page, summed);
   * the feed unchanged: ``If-None-Match`` with its tag (304), and without a tag (the cached
     rendering);
   * the import of that feed into an empty account (a dry run, then the real one).

It finishes in about a minute and leaves nothing behind.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.config import in_process_settings, throwaway_sqlite
from calendo.app import create_app
from calendo.ical import convert

ZONES = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC"]
BATCH = 100


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


async def _register(client: httpx.AsyncClient, name: str) -> dict[str, str]:
    response = await client.post(
        "/api/auth/register",
        json={"username": name, "email": f"{name}@example.com", "password": "pw-12345678"},
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _payload(index: int, base: datetime) -> dict[str, Any]:
    start = base + timedelta(hours=3 * index)
    event: dict[str, Any] = {
        "title": f"Meeting {index}",
        "description": "Planning with the whole team; agenda in the shared document.",
        "location": f"Room {index % 12}",
        "start_time": start.isoformat(),
        "end_time": (start + timedelta(minutes=45)).isoformat(),
        "timezone": ZONES[index % len(ZONES)],
    }
    if index % 10 == 0:
        event |= {"timezone": "Europe/Berlin", "recurrence_pattern": "FREQ=WEEKLY;COUNT=26"}
    return event


async def seed(client: httpx.AsyncClient, headers: dict[str, str], count: int) -> int:
    """``count`` events, 10 % recurring, a third of those with two overrides; returns how
    many overrides were written."""
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    created: list[dict[str, Any]] = []
    for first in range(0, count, BATCH):
        items = [_payload(i, base) for i in range(first, min(count, first + BATCH))]
        response = await client.post(
            "/api/events/batch",
            json={"events": items},
            params={"conflict_strategy": "allow"},
            headers=headers,
        )
        response.raise_for_status()
        created += response.json()["items"]
    overrides = 0
    for event in [e for e in created if e["is_recurring"]][::3]:
        listed = await client.get(
            f"/api/events/{event['id']}/occurrences", params={"limit": 3}, headers=headers
        )
        listed.raise_for_status()
        starts = [item["occurrence_start"] for item in listed.json()["items"]]
        moved = datetime.fromisoformat(starts[1].replace("Z", "+00:00")) + timedelta(hours=1)
        for rid, body in (
            (starts[1], {"start_time": moved.isoformat()}),
            (starts[2], {"title": "Retitled"}),
        ):
            response = await client.patch(
                f"/api/events/{event['id']}/occurrences/{rid}",
                json=body,
                params={"conflict_strategy": "allow"},
                headers=headers,
            )
            response.raise_for_status()
            overrides += 1
    return overrides


async def _timed(samples: int, call: Callable[[], Awaitable[Any]]) -> list[float]:
    took = []
    for _ in range(samples):
        started = time.perf_counter()
        await call()
        took.append(time.perf_counter() - started)
    return took


def _report(label: str, took: list[float]) -> None:
    print(f"{label}: median {_ms(statistics.median(took))}, slowest {_ms(max(took))}")


async def run(url: str, count: int, samples: int) -> None:
    settings = in_process_settings(url, max_body_bytes=4 * 1_048_576)
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            headers = await _register(client, "bench")
            started = time.perf_counter()
            overrides = await seed(client, headers, count)
            print(
                f"seeded {count} events ({count // 10} recurring, {overrides} overrides) "
                f"in {time.perf_counter() - started:.1f} s"
            )
            feeds: list[dict[str, Any]] = []

            async def uncached() -> None:
                made = await client.post("/api/feeds", json={"name": "Bench"}, headers=headers)
                made.raise_for_status()
                feeds.append(made.json())
                convert.forget_renderings()
                started = time.perf_counter()
                response = await client.get(f"/api/feeds/{feeds[-1]['token']}.ics")
                response.raise_for_status()
                uncached_times.append(time.perf_counter() - started)
                bodies.append(response)

            uncached_times: list[float] = []
            bodies: list[httpx.Response] = []
            await _timed(samples, uncached)
            feed = bodies[-1]
            vevents = feed.content.count(b"BEGIN:VEVENT")
            print(f"feed: {len(feed.content) / 1024:.0f} KiB, {vevents} VEVENTs")
            _report("feed, uncached (rendered from scratch)", uncached_times)
            path = f"/api/feeds/{feeds[-1]['token']}.ics"
            listed = await client.get("/api/events", params={"limit": 1}, headers=headers)
            edited = f"/api/events/{listed.json()['items'][0]['id']}"
            changed_times: list[float] = []

            async def after_change() -> None:
                title = f"Edited {len(changed_times)}"
                put = await client.put(edited, json={"title": title}, headers=headers)
                put.raise_for_status()
                started = time.perf_counter()
                response = await client.get(path)
                response.raise_for_status()
                changed_times.append(time.perf_counter() - started)
                assert title.encode() in response.content

            await _timed(samples, after_change)
            _report("feed, one event changed (the others remembered)", changed_times)
            await _time_listing(client, headers, samples)
            feed = await client.get(path)
            tag = feed.headers["etag"]

            async def not_modified() -> None:
                response = await client.get(path, headers={"If-None-Match": tag})
                assert response.status_code == 304, response.status_code

            _report("feed, unchanged, If-None-Match (304)", await _timed(samples * 4, not_modified))

            async def cached() -> None:
                response = await client.get(path)
                response.raise_for_status()

            _report("feed, unchanged, no tag (cached rendering)", await _timed(samples * 4, cached))
            await _time_import(client, feed.content)


async def _time_listing(client: httpx.AsyncClient, headers: dict[str, str], samples: int) -> None:
    now = datetime.now(UTC)
    window = {
        "start_time": (now - timedelta(days=365)).isoformat(),
        "end_time": (now + timedelta(days=730)).isoformat(),
        "limit": 200,
    }

    async def listing() -> None:
        params: dict[str, Any] = dict(window)
        items = 0
        while True:
            response = await client.get("/api/events", params=params, headers=headers)
            response.raise_for_status()
            page = response.json()
            items += len(page["items"])
            if not page.get("next_cursor"):
                break
            params = {**window, "cursor": page["next_cursor"]}
        listed.append(items)

    listed: list[int] = []
    _report("JSON listing of the same events (pages of 200)", await _timed(samples, listing))
    print(f"  ({listed[-1]} events listed)")


async def _time_import(client: httpx.AsyncClient, data: bytes) -> None:
    headers = {**(await _register(client, "importer")), "Content-Type": "text/calendar"}
    for dry in (True, False):
        started = time.perf_counter()
        response = await client.post(
            "/api/events/import",
            content=data,
            params={"dry_run": str(dry).lower(), "conflict_strategy": "allow"},
            headers=headers,
        )
        took = time.perf_counter() - started
        response.raise_for_status()
        body = response.json()
        label = "import into an empty account" + (", dry run" if dry else "")
        print(
            f"{label}: {_ms(took)} ({len(body['created'])} created, {len(body['refused'])} refused)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    with throwaway_sqlite("calendo-ical-bench-") as url:
        asyncio.run(run(url, args.events, args.samples))


if __name__ == "__main__":
    main()
