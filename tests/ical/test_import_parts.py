"""An import larger than one part (``CALENDO_IMPORT_PART_EVENTS``, 3 here): each part its own
transaction, an ``abort`` that stops at the part it refuses, a dry run that sees across parts,
and files over the ``/api`` body limit accepted up to the import's own."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from calendo.core.config import Settings
from tests.conftest import make_settings
from tests.helpers import Actor, HandBacks, assert_problem, each_statement
from tests.ical.test_import import ICS, URL, _count, _import, _ok, calendar, vevent

PART = 3


@pytest.fixture
def settings(database_url: str, redis_url: str | None) -> Settings:
    return make_settings(database_url, redis_url, import_part_events=PART)


def _days(*days: int) -> list[str]:
    """One event a day (09:00–10:00 Berlin), UID ``d<day>@example.com``."""
    return [vevent(f"d{day}@example.com", f"Day {day}", day) for day in days]


async def _titles(client: httpx.AsyncClient, actor: Actor) -> list[str]:
    listed = await client.get("/api/events", params={"limit": 200}, headers=actor.headers)
    return sorted(item["title"] for item in listed.json()["items"])


async def test_a_file_of_several_parts_is_written_whole(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    done = await _ok(client, owner, calendar(*_days(*range(1, 9))))
    assert [c["index"] for c in done["created"]] == list(range(8))
    assert await _count(client, owner) == 8
    again = await _ok(client, owner, calendar(*_days(*range(1, 9))))
    assert again["created"] == again["updated"] == [] and len(again["unchanged"]) == 8


async def test_abort_stops_at_the_refused_part_and_a_resend_finishes(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    # Day 5 is taken already, so the file's fifth event (index 4, part 2) clashes.
    await _ok(client, owner, calendar(vevent("taken@example.com", "Taken", 5)))
    data = calendar(*_days(1, 2, 3, 4, 5, 6, 7))
    problem = assert_problem(await _import(client, owner, data), 422, "import-refused")
    assert problem["parts_written"] == 1
    assert [r["index"] for r in problem["refused"]] == [4]
    assert problem["refused"][0]["reason"].startswith("409")
    assert [c["uid"] for c in problem["written"]["created"]] == [
        "d1@example.com",
        "d2@example.com",
        "d3@example.com",
    ]
    assert "part 2" in problem["detail"]
    # The first part is committed, the second (day 4 with it) rolled back, the third not run.
    assert await _titles(client, owner) == ["Day 1", "Day 2", "Day 3", "Taken"]
    fixed = calendar(*_days(1, 2, 3, 4, 6, 7))
    done = await _ok(client, owner, fixed)
    assert [u["uid"] for u in done["unchanged"]] == [
        "d1@example.com",
        "d2@example.com",
        "d3@example.com",
    ]
    assert [c["uid"] for c in done["created"]] == [
        "d4@example.com",
        "d6@example.com",
        "d7@example.com",
    ]
    assert await _count(client, owner) == 7


async def test_a_component_reading_refuses_refuses_the_whole_file_first(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    unknown = "UID:bad@example.com\r\nDTSTART;TZID=Mars/Olympus_Mons:20260320T090000\r\nSUMMARY:x"
    data = calendar(*_days(1, 2, 3, 4, 5, 6, 7), unknown)
    problem = assert_problem(await _import(client, owner, data), 422, "import-refused")
    assert [r["index"] for r in problem["refused"]] == [7]
    assert "nothing was written" in problem["detail"] and "written" not in problem
    assert await _count(client, owner) == 0
    skipped = await _ok(client, owner, data, on_refusal="skip")
    assert len(skipped["created"]) == 7 and [r["index"] for r in skipped["refused"]] == [7]
    assert await _count(client, owner) == 7


async def test_a_dry_run_sees_what_earlier_parts_would_create(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    # Index 1 and index 5 (parts 1 and 2) are both on day 2; index 2 clashes within part 1.
    data = calendar(
        *_days(1, 2),
        vevent("same-part@example.com", "Same part", 2),
        *_days(3, 4),
        vevent("next-part@example.com", "Next part", 2),
        *_days(6),
    )
    dry = await _ok(client, owner, data, dry_run="true")
    refused = {r["index"]: r for r in dry["refused"]}
    assert sorted(refused) == [2, 5]
    for index in (2, 5):
        [conflict] = refused[index]["conflicts"]
        assert (conflict["event_id"], conflict["index"], conflict["title"]) == (None, 1, "Day 2")
    assert [c["index"] for c in dry["created"]] == [0, 1, 3, 4, 6]
    assert all(c["event_id"] is None for c in dry["created"])
    assert await _count(client, owner) == 0
    # The real run (skip) refuses the same two; a conflict with a written event names its id.
    done = await _ok(client, owner, data, on_refusal="skip")
    assert sorted(r["index"] for r in done["refused"]) == [2, 5]
    day_two = next(c["event_id"] for c in done["created"] if c["index"] == 1)
    [conflict] = next(r for r in done["refused"] if r["index"] == 5)["conflicts"]
    assert conflict["event_id"] == day_two
    [conflict] = next(r for r in done["refused"] if r["index"] == 2)["conflicts"]
    assert (conflict["event_id"], conflict["index"]) == (None, 1)
    assert await _count(client, owner) == 5


async def test_a_dry_run_with_allow_lists_clashes_across_parts_by_component(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    data = calendar(*_days(1, 2, 3), vevent("late@example.com", "Late", 1))
    dry = await _ok(client, owner, data, dry_run="true", conflict_strategy="allow")
    late = next(c for c in dry["created"] if c["index"] == 3)
    assert [(c["event_id"], c["index"]) for c in late["conflicts"]] == [(None, 0)]


def _large_file(count: int) -> bytes:
    """``count`` half-hour events with 5,000-character descriptions (about 5 kB each)."""
    start = datetime(2026, 3, 2, tzinfo=UTC)
    events = [
        "\r\n".join(
            [
                f"UID:big{n}@example.com",
                f"DTSTART:{start + timedelta(hours=n):%Y%m%dT%H%M%SZ}",
                "DURATION:PT30M",
                f"SUMMARY:Event {n}",
                "DESCRIPTION:" + "wordy " * 833,
            ]
        )
        for n in range(count)
    ]
    return calendar(*events)


async def test_a_file_over_the_api_body_limit_is_imported(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    data = _large_file(260)
    assert len(data) > 1_300_000  # over CALENDO_MAX_BODY_BYTES (1 MiB)
    done = await _ok(client, owner, data, conflict_strategy="allow")
    assert len(done["created"]) == 260
    last = done["created"][-1]["event_id"]
    stored = await client.get(f"/api/events/{last}", headers=owner.headers)
    assert stored.status_code == 200
    assert stored.json()["title"] == "Event 259"
    assert stored.json()["description"] == ("wordy " * 833).strip()
    # A form upload of it too (the part has no file name: Starlette's own 1 MiB field cap is
    # lifted to the import's).
    form = await client.post(
        URL,
        files={"file": (None, data, "text/calendar")},
        headers=owner.headers,
        params={"dry_run": 1},
    )
    assert form.status_code == 200, form.text[:500]
    assert len(form.json()["unchanged"]) == 260


async def test_the_import_limit_is_its_own_and_other_routes_keep_theirs(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    over = b"X" * (16 * 1_048_576 + 1)
    problem = assert_problem(
        await client.post(URL, content=over, headers={**owner.headers, **ICS}), 413
    )
    assert "16777216" in problem["detail"]
    big_json = b'{"title": "' + b"x" * 1_100_000 + b'"}'
    other = await client.post(
        "/api/events",
        content=big_json,
        headers={**owner.headers, "Content-Type": "application/json"},
    )
    assert "1048576" in assert_problem(other, 413)["detail"]
    assert await _count(client, owner) == 0


async def test_the_same_file_imported_twice_at_once_makes_each_event_once(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    """Both imports match UIDs under the caller's calendar lock: the second sees the first's
    events (PostgreSQL: it waits for the lock, then reads what the first committed)."""
    data = calendar(*_days(*range(1, 8)))
    first, second = await asyncio.gather(_import(client, owner, data), _import(client, owner, data))
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    created = first.json()["created"] + second.json()["created"]
    assert sorted(c["uid"] for c in created) == sorted(f"d{d}@example.com" for d in range(1, 8))
    assert await _count(client, owner) == 7


async def test_a_parts_bookkeeping_statements_hand_the_loop_back_between_them(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The UID map and the kept lines of a part are four statements on the loop (SQLite's
    inline driver): each starts a step of its own, so a part does not end in one long step."""
    ticks = HandBacks.install(monkeypatch)
    kept = "X-MOVED-BY:Ann"
    data = calendar(*[vevent(f"k{day}@example.com", f"Day {day}", day, kept) for day in (1, 2, 3)])
    seen: list[tuple[str, int]] = []  # each statement, and the hand-backs made before it
    with each_statement(app, lambda sql, _direct: seen.append((sql, ticks.count))):
        await _ok(client, owner, data)
    tables = ("imported_uid", "event_ical_extra")
    bookkeeping = [
        index
        for index, (sql, _count) in enumerate(seen)
        if sql.lstrip().upper().startswith(("DELETE", "INSERT")) and any(t in sql for t in tables)
    ]
    assert len(bookkeeping) == 4, [seen[i][0] for i in bookkeeping]
    for index in bookkeeping:
        assert seen[index][1] > seen[index - 1][1], seen[index][0]
