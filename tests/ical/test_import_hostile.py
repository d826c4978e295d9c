"""Hostile and broken iCalendar files: a clear 4xx (problem+json), nothing written, and the
event loop kept free while a large file is read."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import httpx
import ormsgpack
import pytest

from calendo.core.config import Settings
from calendo.core.cooperative import Pacer
from calendo.ical import reading
from tests.conftest import make_settings
from tests.events.conftest import EventFactory
from tests.helpers import Actor, assert_problem
from tests.ical.test_import import ICS, URL, _count, calendar, vevent

HEAD = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
TAIL = "END:VCALENDAR\r\n"
# A VTIMEZONE whose rule would be expanded second by second from 1601 if it were ever used.
BOMB_ZONE = (
    "BEGIN:VTIMEZONE\r\nTZID:Bomb/{n}\r\nBEGIN:STANDARD\r\nDTSTART:16010101T000000\r\n"
    "TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0100\r\nRRULE:FREQ=SECONDLY\r\nEND:STANDARD\r\n"
    "END:VTIMEZONE\r\n"
)


@pytest.fixture
def settings(database_url: str, redis_url: str | None) -> Settings:
    """The caps these files meet, lowered to cheap sizes (the defaults are 10,000 events and
    16 MiB; tests/ical/test_import_parts.py meets the real body limit)."""
    return make_settings(
        database_url, redis_url, import_max_events=1000, import_max_bytes=1_048_576
    )


def _nested(depth: int) -> bytes:
    opening = "".join("BEGIN:VALARM\r\n" for _ in range(depth))
    closing = "".join("END:VALARM\r\n" for _ in range(depth))
    inner = vevent("deep@example.com") + "\r\n" + opening + closing
    return f"{HEAD}BEGIN:VEVENT\r\n{inner}END:VEVENT\r\n{TAIL}".encode()


def _hourly(n: int) -> str:
    """Event ``n`` of a file: an hour of its own, with a long description."""
    start = datetime(2026, 3, 2, tzinfo=UTC) + timedelta(hours=n)
    return "\r\n".join(
        [
            f"UID:{n}@example.com",
            f"DTSTART:{start:%Y%m%dT%H%M%SZ}",
            "DURATION:PT30M",
            f"SUMMARY:Event {n}",
            "DESCRIPTION:" + "word " * 60,
        ]
    )


def _events(count: int) -> bytes:
    return calendar(*(vevent(f"{n}@example.com", f"E{n}", 2) for n in range(count)))


CASES = {
    "not a calendar": (b"hello, world", 422, "VCALENDAR"),
    "unterminated": (f"{HEAD}BEGIN:VEVENT\r\nUID:x\r\n".encode(), 422, "ends inside VEVENT"),
    "crossed": (f"{HEAD}BEGIN:VEVENT\r\nEND:VTODO\r\n{TAIL}".encode(), 422, "closes VEVENT"),
    "two calendars": (calendar(vevent("a@x")) * 2, 422, "one VCALENDAR"),
    "not utf-8": (calendar(vevent("a@x", "caf\xe9")).decode().encode("latin-1"), 422, "UTF-8"),
    "nul": (calendar(vevent("a@x", "a\x00b")), 422, "NUL"),
    "deep nesting": (_nested(50), 422, "nested deeper than 3"),
    "huge line": (calendar(vevent("a@x", "x" * 70_000)), 422, "longer than 65536"),
    # Folded into 12,000 pieces: refused once the pieces pass the cap, never joined whole.
    "huge folded line": (
        calendar(vevent("a@x", "\r\n ".join(["x" * 74] * 12_000))),
        422,
        "line 9 is longer than 65536",
    ),
    "timezone bomb": (
        (HEAD + "".join(BOMB_ZONE.format(n=n) for n in range(101)) + TAIL).encode(),
        422,
        "more than 100 VTIMEZONE",
    ),
    "thousands of events": (_events(1001), 422, "more than 1000 events"),
    "thousands of overrides": (
        calendar(
            vevent("s@x", "Daily", 2, "RRULE:FREQ=DAILY"),
            *(f"UID:s@x\r\nRECURRENCE-ID:202603{d % 28 + 1:02d}T080000Z" for d in range(2000)),
        ),
        422,
        "more than 2000 components",
    ),
    "over the body limit": (b"X" * 1_100_000, 413, "limited to"),
}


@pytest.mark.parametrize("case", CASES)
async def test_hostile_files_are_a_clear_4xx_and_write_nothing(
    client: httpx.AsyncClient, owner: Actor, case: str
) -> None:
    data, status, words = CASES[case]
    response = await client.post(URL, content=data, headers={**owner.headers, **ICS})
    problem = assert_problem(response, status)
    assert words in problem["detail"] or words in str(problem.get("errors")), problem
    assert await _count(client, owner) == 0


async def test_a_zone_the_file_defines_itself_is_refused_not_expanded(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    uses = "UID:b@x\r\nDTSTART;TZID=Bomb/0:20260302T090000\r\nSUMMARY:x"
    data = HEAD + BOMB_ZONE.format(n=0) + f"BEGIN:VEVENT\r\n{uses}\r\nEND:VEVENT\r\n" + TAIL
    started = time.perf_counter()
    response = await client.post(URL, content=data.encode(), headers={**owner.headers, **ICS})
    assert time.perf_counter() - started < 5
    [refusal] = assert_problem(response, 422, "import-refused")["refused"]
    assert "Bomb/0" in refusal["reason"] and "not a time zone Calendo knows" in refusal["reason"]


async def test_other_media_types_are_415(client: httpx.AsyncClient, owner: Actor) -> None:
    response = await client.post(
        URL, content=calendar(vevent("a@x")), headers={**owner.headers, "Content-Type": "text/xml"}
    )
    assert_problem(response, 415)


async def test_reading_a_large_file_leaves_the_loop_free(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    """A file of 1,000 events (~400 KB) is read off the loop: a ticker beside the import is
    never held up for long (the writes hand the loop back too)."""
    data = calendar(*(_hourly(n) for n in range(1000)))
    assert len(data) > 300_000
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    response = await client.post(
        URL,
        content=data,
        headers={**owner.headers, **ICS},
        params={"dry_run": "true"},
    )
    done.set()
    await task
    assert response.status_code == 200, response.text
    assert len(response.json()["created"]) == 1000
    assert max(gaps) < 0.5, max(gaps)


async def test_an_export_is_answered_while_an_import_runs(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    """The import hands the loop back between steps (reading, then writing): a one-event
    export asked for while a 1,000-event file is imported is answered before the import."""
    event = await make_event(
        owner,
        title="Rendered meanwhile",
        start_time="2030-01-01T10:00:00Z",
        end_time="2030-01-01T11:00:00Z",
    )
    data = calendar(*(_hourly(n) for n in range(1000)))
    exported, response = await _exported_during_import(client, owner, event["id"], data)
    assert exported.status_code == 200 and b"SUMMARY:Rendered meanwhile" in exported.content
    assert response.status_code == 200 and len(response.json()["created"]) == 1000


async def test_an_export_is_answered_while_a_file_is_read(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    """The reading alone hands the loop back: a file of 1,000 events in a zone Calendo does not
    know is all reading (every one is refused while read, nothing is written), and an export
    asked for meanwhile is answered before the import."""
    event = await make_event(owner, title="Rendered meanwhile")
    unknown = [
        f"UID:f{n}@x\r\nDTSTART;TZID=Mars/Olympus:20260302T0900{n % 60:02d}\r\nSUMMARY:F"
        for n in range(1000)
    ]
    data = calendar(*unknown)
    exported, response = await _exported_during_import(client, owner, event["id"], data)
    assert exported.status_code == 200 and b"SUMMARY:Rendered meanwhile" in exported.content
    refused = response.json()["refused"]
    assert response.status_code == 200 and len(refused) == 1000
    assert all("not a time zone Calendo knows" in r["reason"] for r in refused)


async def _exported_during_import(
    client: httpx.AsyncClient, owner: Actor, event_id: int, data: bytes
) -> tuple[httpx.Response, httpx.Response]:
    """A one-event export asked for while a dry-run import of ``data`` runs (the import has
    its body and is working on it): the export's answer and the import's, after checking the
    export was answered first."""
    order: list[str] = []

    async def import_file() -> httpx.Response:
        response = await client.post(
            URL, content=data, headers={**owner.headers, **ICS}, params={"dry_run": "true"}
        )
        order.append("import")
        return response

    importing = asyncio.create_task(import_file())
    await asyncio.sleep(0.05)
    exported = await client.get(
        f"/api/events/{event_id}", headers={**owner.headers, "Accept": "text/calendar"}
    )
    order.append("export")
    response = await importing
    assert order == ["export", "import"]
    return exported, response


def test_reading_is_a_generator_of_small_steps() -> None:
    """Every component is a step of its own (and every 256 lines of the first pass)."""
    data = calendar(*(_hourly(n) for n in range(300)))
    pacer = Pacer(budget=0)  # hands the loop back after every step
    items = asyncio.run(pacer.drive(reading.steps(data, max_events=1000, default_zone="UTC")))
    assert [item.uid for item in items] == [f"{n}@example.com" for n in range(300)]
    lines = data.count(b"\r\n")
    assert pacer.yields >= 2 * 300 + lines // 256


@pytest.mark.parametrize("media", ["application/json", "application/msgpack"])
async def test_json_and_msgpack_bodies_are_415_not_read_as_a_file(
    client: httpx.AsyncClient, owner: Actor, media: str
) -> None:
    """Both pass the format layer on every path, and the import used to read such a body as
    the file itself (a JSON-typed calendar: 200, its event created) though only text/calendar
    and a form upload are taken."""
    text = calendar(vevent("a@x"))
    body = ormsgpack.packb(text.decode()) if media.endswith("msgpack") else text
    response = await client.post(
        URL, content=body, headers={**owner.headers, "Content-Type": media}
    )
    problem = assert_problem(response, 415, "unsupported-media-type")
    assert "text/calendar" in problem["detail"]
    assert await _count(client, owner) == 0


PAST_YEAR_9999 = [
    "UID:long@x\r\nDTSTART:20260303T090000Z\r\nDURATION:P99999999D\r\nSUMMARY:Forever",
    "UID:late@x\r\nDTSTART;VALUE=DATE:99991231\r\nSUMMARY:Last day",
]


@pytest.mark.parametrize("bad", PAST_YEAR_9999, ids=["duration", "date"])
async def test_an_end_past_year_9999_refuses_that_component_only(
    client: httpx.AsyncClient, owner: Actor, bad: str
) -> None:
    """Its end overflowed Python's dates while the file was read, and the whole request
    became a generic 422 value-out-of-range, even with on_refusal=skip."""
    data = calendar(vevent("good@x"), bad)
    skipped = await client.post(
        URL, params={"on_refusal": "skip"}, content=data, headers={**owner.headers, **ICS}
    )
    assert skipped.status_code == 200, skipped.text
    report = skipped.json()
    assert [entry["uid"] for entry in report["created"]] == ["good@x"]
    [refusal] = report["refused"]
    assert refusal["index"] == 1 and refusal["uid"] in bad
    assert "between the years 1900 and 2200" in refusal["reason"]
    assert await _count(client, owner) == 1

    aborted = await client.post(URL, content=data, headers={**owner.headers, **ICS})
    assert [r["index"] for r in assert_problem(aborted, 422, "import-refused")["refused"]] == [1]
    assert await _count(client, owner) == 1  # the earlier import's event, nothing new


async def test_a_tzid_too_long_for_a_file_name_is_refused_by_name_not_a_500(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    # The parser looks a TZID up in the tz database's files: a name past the file system's
    # limit (ENAMETOOLONG) is an OSError, not a ValueError.
    uses = f"UID:t@x\r\nDTSTART;TZID={'Z' * 300}:20260302T090000\r\nSUMMARY:x"
    response = await client.post(URL, content=calendar(uses), headers={**owner.headers, **ICS})
    [refusal] = assert_problem(response, 422, "import-refused")["refused"]
    assert refusal["index"] == 0 and "TZID" in refusal["reason"]
    assert "site-packages" not in refusal["reason"]  # no server path in the answer
