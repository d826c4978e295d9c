"""The ceiling: a bare FastAPI app serving one page of 20 events, with no database.

It declares a response model shaped like Calendo's ``Page[EventRead]`` so the framework does
the same validation and serialisation work a real list endpoint must do; everything Calendo
spends beyond this is database, authentication and business logic. Run it like the real
server: ``uvicorn bench.bare:app --loop uvloop --http httptools``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

PAGE_SIZE = 20
_BASE = datetime(2027, 1, 4, 9, tzinfo=UTC)


class BareEvent(BaseModel):
    """The fields of Calendo's ``EventRead``."""

    id: int
    title: str
    description: str | None
    start_time: datetime
    end_time: datetime
    timezone: str
    location: str | None
    is_recurring: bool
    recurrence_pattern: str | None
    recurrence_exceptions: list[datetime]
    recurrence_dates: list[datetime]
    transparency: str
    recurrence_overrides: list[dict[str, Any]]
    all_day: bool
    start_date: date | None
    end_date: date | None
    owner_id: int
    my_role: str
    version: int
    created_at: datetime
    updated_at: datetime


class BarePage(BaseModel):
    """``{"items": [...], "next_cursor": ...}`` like every Calendo list."""

    items: list[BareEvent]
    next_cursor: str | None = None


def _event(index: int) -> dict[str, Any]:
    start = _BASE + timedelta(hours=3 * index)
    return {
        "id": 1000 + index,
        "title": f"Weekly planning with the product team #{index}",
        "description": "Agenda: status of each workstream, blockers, decisions to take.",
        "start_time": start,
        "end_time": start + timedelta(minutes=45),
        "timezone": "Europe/Berlin",
        "location": "Room 4.12",
        "is_recurring": index % 10 == 0,
        "recurrence_pattern": "FREQ=WEEKLY;BYDAY=MO;COUNT=20" if index % 10 == 0 else None,
        "recurrence_exceptions": [],
        "recurrence_dates": [],
        "transparency": "opaque",
        "recurrence_overrides": [],
        "all_day": False,
        "start_date": None,
        "end_date": None,
        "owner_id": 1,
        "my_role": "owner",
        "version": 1,
        "created_at": _BASE - timedelta(days=30),
        "updated_at": _BASE - timedelta(days=30),
    }


PAGE: dict[str, Any] = {"items": [_event(i) for i in range(PAGE_SIZE)], "next_cursor": "x" * 40}

app = FastAPI(title="bare ceiling", openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/bare/events", response_model=BarePage)
async def bare_events() -> dict[str, Any]:
    """One page of 20 events, from memory."""
    return PAGE


@app.get("/health")
async def health() -> dict[str, str]:
    """Readiness probe for the harness."""
    return {"status": "ok"}
