"""A batch of 100 and a transaction of 100 creates share the loop and read the calendar once.

Both run through ``events.batch.CreateRun``: the calendar is read and expanded once, each new
event is checked against it plus the new events before it, and validation, checks and writes
hand the loop back between items (``core.cooperative.Pacer``). The tests count hand-backs
(with every tick made to hand back) and calendar reads, never durations.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from calendo.calendar import recurrence, stepped
from calendo.core.config import Settings
from calendo.core.cooperative import Pacer
from calendo.core.uow import UnitOfWork
from calendo.events import repository
from calendo.events.scheduling import BusyCache, load_cache
from tests.conftest import make_settings
from tests.helpers import Actor, HandBacks, assert_problem

COUNT = 100
MAX_OCCURRENCES = 5


@pytest.fixture
def settings(database_url: str, redis_url: str | None) -> Settings:
    """A small expansion cap, so one read of a long window is cut short (last test)."""
    return make_settings(database_url, redis_url, max_occurrences=MAX_OCCURRENCES)


def _event(k: int, title: str = "Slot", day: int = 1) -> dict[str, Any]:
    hour, half = divmod(k % 40, 2)
    start = datetime(2026, 6, day + k // 40, 2 + hour, 30 * half, tzinfo=UTC)
    return {
        "title": f"{title} {k}",
        "start_time": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end_time": (start + timedelta(minutes=25)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


class Work:
    """Hand-backs (every tick hands back) and calendar reads made while it is installed."""

    def __init__(self, ticks: HandBacks) -> None:
        self.ticks = ticks
        self.calendar_reads = 0

    @property
    def handbacks(self) -> int:
        return self.ticks.count


@pytest.fixture
def work(monkeypatch: pytest.MonkeyPatch) -> Iterator[Work]:
    counted = Work(HandBacks.install(monkeypatch))
    read = repository.calendar_candidates

    async def calendar_candidates(*args: Any, **kwargs: Any) -> Any:
        counted.calendar_reads += 1
        return await read(*args, **kwargs)

    monkeypatch.setattr(repository, "calendar_candidates", calendar_candidates)
    yield counted


async def test_a_batch_of_100_hands_the_loop_back_per_item(
    client: httpx.AsyncClient, owner: Actor, work: Work
) -> None:
    response = await client.post(
        "/api/events/batch",
        json={"events": [_event(k) for k in range(COUNT)]},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    assert len(response.json()["items"]) == COUNT
    # Once per item validated, once per item checked, twice per write step.
    assert work.handbacks >= 2 * COUNT
    assert work.calendar_reads == 1


async def test_a_transaction_of_100_creates_reads_the_calendar_once(
    client: httpx.AsyncClient, owner: Actor, work: Work
) -> None:
    operations = [{"op": "create", "event": _event(k)} for k in range(COUNT)]
    response = await client.post(
        "/api/transactions", json={"operations": operations}, headers=owner.headers
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["title"] for r in results] == [f"Slot {k}" for k in range(COUNT)]
    assert len({r["id"] for r in results}) == COUNT
    # It was one read, and one hand-back per operation, for all of them; each create now
    # hands back once validated, once checked, and the writes between steps.
    assert work.calendar_reads == 1
    assert work.handbacks >= 2 * COUNT


async def test_runs_of_creates_see_the_operations_between_them(
    client: httpx.AsyncClient, owner: Actor, work: Work
) -> None:
    """An update between two runs of creates is seen by the second run's calendar read."""
    operations: list[dict[str, Any]] = [
        {"op": "create", "event": _event(0, "Moved")},
        {"op": "create", "event": _event(1, "Stays")},
        {"op": "update", "event_ref": 0, "changes": _event(10, "Moved")},
        {"op": "create", "event": _event(0, "Old slot")},
        {"op": "create", "event": _event(10, "New slot")},
    ]
    response = await client.post(
        "/api/transactions",
        json={"operations": operations},
        headers=owner.headers,
        params={"conflict_strategy": "allow"},
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert results[3]["conflicts"] == []
    assert [c["event_id"] for c in results[4]["conflicts"]] == [results[0]["id"]]
    assert work.calendar_reads == 3  # one per run of creates, one for the move


async def test_a_conflict_with_an_earlier_create_names_it_by_id(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    def operations(day: int) -> list[dict[str, Any]]:
        return [
            {"op": "create", "event": _event(0, "First", day)},
            {"op": "create", "event": _event(1, "Second", day)},
            {"op": "create", "event": _event(0, "Clash", day)},
        ]

    allowed = await client.post(
        "/api/transactions",
        json={"operations": operations(1)},
        headers=owner.headers,
        params={"conflict_strategy": "allow"},
    )
    assert allowed.status_code == 200, allowed.text
    first, _, clash = allowed.json()["results"]
    assert [c["event_id"] for c in clash["conflicts"]] == [first["id"]]

    rejected = await client.post(
        "/api/transactions", json={"operations": operations(10)}, headers=owner.headers
    )
    problem = assert_problem(rejected, 409, "schedule-conflict")
    assert problem["index"] == 2
    [conflict] = problem["conflicts"]
    assert conflict["title"] == "First 0"
    assert isinstance(conflict["event_id"], int) and conflict["event_id"] > first["id"]


async def test_a_cut_short_read_does_not_hide_later_conflicts(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    """One read of the run's whole window expands a daily series only MAX_OCCURRENCES days
    far; a create past that is checked by its own read, as it would be on its own."""
    series = await client.post(
        "/api/events",
        json={
            "title": "Daily",
            "start_time": "2026-06-01T02:00:00Z",
            "end_time": "2026-06-01T03:00:00Z",
            "recurrence_pattern": "FREQ=DAILY",
        },
        headers=owner.headers,
    )
    assert series.status_code == 201, series.text
    operations = [
        {"op": "create", "event": _event(0, "Near", day=2)},
        {"op": "create", "event": _event(0, "Far", day=25)},
    ]
    response = await client.post(
        "/api/transactions",
        json={"operations": operations},
        headers=owner.headers,
        params={"conflict_strategy": "allow"},
    )
    assert response.status_code == 200, response.text
    for result in response.json()["results"]:
        assert [c["event_id"] for c in result["conflicts"]] == [series.json()["id"]]


async def test_busy_cache_answers_as_a_query_would() -> None:
    start = datetime(2026, 6, 1, tzinfo=UTC)
    hourly = recurrence.Series(start, start + timedelta(minutes=30), "UTC", "FREQ=HOURLY", ())
    single = recurrence.Series(start, start + timedelta(days=3), "UTC", None, ())
    cache = BusyCache(start, start + timedelta(days=2), limit=3)
    await cache.add(1, "hourly", hourly, Pacer())
    await cache.add(2, "single", single, Pacer())
    assert cache.complete_until == start + timedelta(hours=2)  # the third occurrence
    assert cache.covers(start, start + timedelta(hours=2))
    assert not cache.covers(start, start + timedelta(hours=3))
    window = (start + timedelta(minutes=40), start + timedelta(hours=2))
    expected = recurrence.expand(hourly, *window, limit=3).occurrences
    found = cache.between(*window)
    assert [(b.start, b.end) for b in found if b.event_id == 1] == [
        (o.start, o.end) for o in expected
    ]
    assert [b.event_id for b in found].count(2) == 1


async def test_the_calendar_read_expands_each_series_in_steps(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A series of the calendar is expanded over the read's window in steps of
    ``stepped.STEP`` occurrences, with a hand-back between them: one long series is not one
    long step. The cache holds what the one-shot expansion gives."""
    daily = {**_event(0, "Daily"), "recurrence_pattern": "FREQ=DAILY"}
    created = await client.post("/api/events", json=daily, headers=owner.headers)
    assert created.status_code == 201, created.text
    first = datetime(2026, 6, 1, 23, 0, tzinfo=UTC)
    new = recurrence.Series(first, first + timedelta(minutes=30), "UTC", "FREQ=DAILY;COUNT=20")
    settings = app.state.services.settings

    async def load(step: int) -> tuple[BusyCache, int]:
        monkeypatch.setattr(stepped, "STEP", step)
        pacer = Pacer(budget=0.0)  # every tick hands back
        async with UnitOfWork.write(app.state.services.db) as unit:
            cache = await load_cache(
                unit,
                user_id=owner.id,
                series=[new],
                strategy="reject",
                settings=settings,
                pacer=pacer,
            )
        return cache, pacer.yields

    whole, whole_yields = await load(1000)
    steps, step_yields = await load(1)
    assert len(whole.busy) == MAX_OCCURRENCES  # the cap: the expansion was cut short
    assert steps.busy == whole.busy and steps.complete_until == whole.complete_until
    assert whole_yields == 1  # the tick after the event
    assert step_yields == MAX_OCCURRENCES  # and one between each two of its occurrences
