"""Calendo's feed read by a second library: ``recurring-ical-events`` (in a venv of its own,
``make ical-interop-venv``: its pins clash with ours) expands every series of the feed, and
each expansion must be the occurrences Calendo's own ``/occurrences`` gives.

The events cover what the format has to carry: zones with DST (the series cross a change),
RRULE with COUNT, UNTIL, BYDAY and BYSETPOS, EXDATE, RDATE, overrides (moved, retitled,
lengthened), and an all-day series with an override of dates (its dates compared as UTC
midnights: the owner's account zone is UTC). The feed file is parsed only by the other library."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.events.conftest import EventFactory
from tests.helpers import Actor

ROOT = Path(__file__).resolve().parents[2]
INTEROP = ROOT / "tests" / "ical" / "interop"
BASE = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)


def _interop_python() -> Path:
    """The interop venv's interpreter, built (or confirmed) by the project's Makefile."""
    venv = Path(os.environ.get("CALENDO_ICAL_INTEROP_VENV", ROOT / ".venv-ical-interop"))
    done = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "ical-interop-venv",
            f"VENV={sys.prefix}",
            f"ICAL_VENV={venv}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"make ical-interop-venv failed:\n{done.stdout}\n{done.stderr}")
    return venv / "bin" / "python"


def _at(days: float, hours: float = 1) -> dict[str, str]:
    start = BASE + timedelta(days=days)
    return {
        "start_time": start.isoformat(),
        "end_time": (start + timedelta(hours=hours)).isoformat(),
    }


def _z(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _expand(python: Path, path: Path, window: list[str]) -> dict[str, list[list[str]]]:
    """The other library's expansion of the file over the window, per UID."""
    ran = subprocess.run(
        [str(python), str(INTEROP / "expand.py"), str(path), *window],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    found: dict[str, list[list[str]]] = json.loads(ran.stdout)
    return found


async def _patch(
    client: httpx.AsyncClient, actor: Actor, event: dict[str, Any], day: int, body: dict[str, Any]
) -> None:
    occurrences = await _occurrences(client, actor, event["id"])
    rid = occurrences[day][0]
    response = await client.patch(
        f"/api/events/{event['id']}/occurrences/{rid}",
        json=body,
        params={"conflict_strategy": "allow"},
        headers=actor.headers,
    )
    assert response.status_code == 200, response.text


async def _occurrences(client: httpx.AsyncClient, actor: Actor, event_id: int) -> list[list[str]]:
    window = {
        "start_time": _z(BASE - timedelta(days=1)),
        "end_time": _z(BASE + timedelta(days=365)),
        "limit": 5000,
    }
    response = await client.get(
        f"/api/events/{event_id}/occurrences", params=window, headers=actor.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body["truncated"]
    return sorted([item["occurrence_start"], item["occurrence_end"]] for item in body["items"])


async def test_a_second_library_expands_the_feed_as_calendo_does(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory, tmp_path: Path
) -> None:
    python = _interop_python()
    events = [
        await make_event(owner, title="Once", timezone="Europe/Berlin", **_at(0)),
        await make_event(
            owner,
            title="Weekly, New York",
            timezone="America/New_York",
            recurrence_pattern="FREQ=WEEKLY;COUNT=40;BYDAY=MO,TH",
            recurrence_exceptions=[_at(7)["start_time"]],
            recurrence_dates=[_at(9.25)["start_time"]],
            **_at(0),
        ),
        await make_event(
            owner,
            title="Daily, Berlin",
            timezone="Europe/Berlin",
            recurrence_pattern="FREQ=DAILY;INTERVAL=3",
            **_at(1, 2),
        ),
        await make_event(
            owner,
            title="Last weekday, Sydney",
            timezone="Australia/Sydney",
            recurrence_pattern="FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
            **_at(2, 0.5),
        ),
        await make_event(
            owner,
            title="Until, UTC",
            recurrence_pattern=f"FREQ=DAILY;UNTIL={(BASE + timedelta(days=20)):%Y%m%dT%H%M%SZ}",
            transparency="transparent",
            **_at(0.5, 0.25),
        ),
        await make_event(
            owner,
            title="All-day, every other week",
            all_day=True,
            start_time=None,
            end_time=None,
            start_date=(BASE + timedelta(days=4)).date().isoformat(),
            end_date=(BASE + timedelta(days=6)).date().isoformat(),
            recurrence_pattern="FREQ=WEEKLY;INTERVAL=2;COUNT=10",
            recurrence_exceptions=[(BASE + timedelta(days=18)).date().isoformat()],
            transparency="transparent",
        ),
    ]
    await _patch(
        client, owner, events[1], 2, {"start_time": _at(5, 0)["start_time"], "title": "Moved"}
    )
    await _patch(client, owner, events[2], 4, {"end_time": _z(BASE + timedelta(days=13, hours=5))})
    await _patch(client, owner, events[3], 1, {"location": "Elsewhere"})
    # An all-day occurrence moved a day later and lengthened to three days.
    first = datetime.fromisoformat((await _occurrences(client, owner, events[5]["id"]))[1][0])
    moved = {"start_time": _z(first + timedelta(days=1)), "end_time": _z(first + timedelta(days=4))}
    await _patch(client, owner, events[5], 1, {**moved, "title": "Moved"})

    feed = await client.post("/api/feeds", json={"name": "Interop"}, headers=owner.headers)
    assert feed.status_code == 201, feed.text
    text = await client.get(f"/api/feeds/{feed.json()['token']}.ics")
    assert text.status_code == 200, text.text
    path = tmp_path / "feed.ics"
    path.write_bytes(text.content)
    window = [_z(BASE - timedelta(days=1)), _z(BASE + timedelta(days=365))]
    theirs = await asyncio.to_thread(_expand, python, path, window)
    for event in events:
        ours = await _occurrences(client, owner, event["id"])
        assert theirs[f"{event['id']}@calendo"] == ours, event["title"]
    assert set(theirs) == {f"{event['id']}@calendo" for event in events}
