"""A several-MB iCalendar import beside another writer, on a throw-away SQLite database.

Run it from the repository root::

    .venv/bin/python -m bench.ical_import_bench [--events 5000] [--parts 200]

A file of ``--events`` events (a tenth of them weekly series with two overrides each, the
rest single events with 700-character descriptions and a kept ``X-`` property: about 1 kB
an event) is imported into an empty account twice, each time on a fresh database and app
(in-process, httpx + ASGITransport, rate limits off):

1. with ``CALENDO_IMPORT_PART_EVENTS`` at ``--parts`` (the default, 100): a transaction per
   part;
2. with it at the file's size: the whole file in one transaction, as before parts existed.

Beside each import another user writes one event at a time (``POST /api/events``) in a
loop, and a third reads one event as ``text/calendar`` in a loop (its rendering runs on the
process's CPU lane, ``core.cooperative.off_loop``). The numbers: the import's time, and each
loop's latency while it ran (median, p99, slowest) against the same loop alone first. On
SQLite a transaction holds the process's writer queue, so the slowest write beside the import
is about the longest transaction the import holds; the slowest export says whether the
import's reading held up the CPU lane.
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

import httpx
from asgi_lifespan import LifespanManager

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.config import in_process_settings, throwaway_sqlite
from bench.ical_bench import _ms, _register
from calendo.app import create_app


def calendar_file(count: int) -> bytes:
    """The file (module docstring), CRLF lines, no line over 75 octets but the descriptions
    (folded by nothing: a reader unfolds, and 700 characters is far below the line cap)."""
    base = datetime(2027, 1, 4, 8, tzinfo=UTC)
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Calendo bench//EN"]
    for n in range(count):
        start = base + timedelta(hours=2 * n)
        head = [
            "BEGIN:VEVENT",
            f"UID:bench-{n}@example.com",
            "DTSTAMP:20261201T000000Z",
            f"DTSTART:{start:%Y%m%dT%H%M%SZ}",
            "DURATION:PT45M",
            f"SUMMARY:Imported {n}",
            "DESCRIPTION:" + "agenda " * 100,
            f"X-BENCH-ORIGIN:file line {n}",
        ]
        if n % 10:
            lines += [*head, "END:VEVENT"]
            continue
        lines += [*head, "RRULE:FREQ=WEEKLY;COUNT=20", "END:VEVENT"]
        for week, change in ((1, "SUMMARY:Moved"), (2, "SUMMARY:Retitled")):
            rid = start + timedelta(weeks=week)
            moved = rid + timedelta(minutes=30 if week == 1 else 0)
            lines += [
                "BEGIN:VEVENT",
                f"UID:bench-{n}@example.com",
                "DTSTAMP:20261201T000000Z",
                f"RECURRENCE-ID:{rid:%Y%m%dT%H%M%SZ}",
                f"DTSTART:{moved:%Y%m%dT%H%M%SZ}",
                "DURATION:PT45M",
                change,
                "END:VEVENT",
            ]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


Call = Callable[[httpx.AsyncClient, dict[str, str], int], Awaitable[httpx.Response]]


async def write_one(client: httpx.AsyncClient, headers: dict[str, str], n: int) -> httpx.Response:
    """Event ``n``, far from the file's (overlaps allowed)."""
    start = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(hours=n)
    body = {
        "title": f"Beside {n}",
        "start_time": start.isoformat(),
        "end_time": (start + timedelta(minutes=30)).isoformat(),
    }
    return await client.post(
        "/api/events", json=body, params={"conflict_strategy": "allow"}, headers=headers
    )


async def export_one(client: httpx.AsyncClient, headers: dict[str, str], n: int) -> httpx.Response:
    """The reader's first event, as ``text/calendar``."""
    return await client.get("/api/events/1", headers={**headers, "Accept": "text/calendar"})


async def _loop(
    call: Call,
    client: httpx.AsyncClient,
    headers: dict[str, str],
    stop: asyncio.Event,
    took: list[float],
    first: int = 0,
) -> None:
    """``call`` one request at a time until ``stop``, timing each."""
    n = first
    while not stop.is_set():
        started = time.perf_counter()
        response = await call(client, headers, n)
        took.append(time.perf_counter() - started)
        assert response.status_code < 300, response.text
        n += 1
        # In process a request may never suspend (SQLite runs inline): hand the loop over.
        await asyncio.sleep(0)


def _latencies(label: str, took: list[float]) -> str:
    ordered = sorted(took)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"{label}: {len(took)} requests, median {_ms(statistics.median(took))}, "
        f"p99 {_ms(p99)}, slowest {_ms(max(took))}"
    )


async def scenario(url: str, data: bytes, part_events: int) -> None:
    settings = in_process_settings(url, import_part_events=part_events)
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", timeout=600
        ) as client:
            importer = {**(await _register(client, "importer")), "Content-Type": "text/calendar"}
            other = await _register(client, "other")
            await write_one(client, other, 0)  # event 1, which the export loop reads
            calls = {"other writer": write_one, "one-event export": export_one}
            alone: dict[str, list[float]] = {label: [] for label in calls}
            for label, call in calls.items():
                stop = asyncio.Event()
                solo = asyncio.create_task(_loop(call, client, other, stop, alone[label], 1))
                await asyncio.sleep(2)
                stop.set()
                await solo
            beside: dict[str, list[float]] = {label: [] for label in calls}
            stop = asyncio.Event()
            loops = [
                asyncio.create_task(_loop(call, client, other, stop, beside[label], 10_000))
                for label, call in calls.items()
            ]
            started = time.perf_counter()
            response = await client.post(
                "/api/events/import",
                content=data,
                params={"conflict_strategy": "allow"},
                headers=importer,
            )
            took = time.perf_counter() - started
            stop.set()
            await asyncio.gather(*loops)
            response.raise_for_status()
            body = response.json()
            print(
                f"  import: {_ms(took)} ({len(body['created'])} created, "
                f"{len(body['refused'])} refused)"
            )
            for label in calls:
                print("  " + _latencies(f"{label} alone", alone[label]))
                print("  " + _latencies(f"{label} beside the import", beside[label]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--parts", type=int, default=100)
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    data = calendar_file(args.events)
    components = data.count(b"BEGIN:VEVENT")
    print(f"file: {len(data) / 1_048_576:.1f} MiB, {args.events} events, {components} VEVENTs")
    for label, part_events in (
        (f"parts of {args.parts} events", args.parts),
        ("one transaction (the whole file)", args.events),
    ):
        print(label)
        with throwaway_sqlite("calendo-import-bench-") as url:
            asyncio.run(scenario(url, data, part_events))


if __name__ == "__main__":
    main()
