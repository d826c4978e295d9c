"""Real calendar files from a public source (tests/ical/public/README.md, with their licence):
imported, kept whole, exported again, and re-imported without duplicates."""

from __future__ import annotations

from pathlib import Path

import httpx
import icalendar
import pytest

from tests.helpers import Actor
from tests.ical.test_import import _count, _ok

PUBLIC = Path(__file__).parent / "public"
# Each file: the event's UID, its start in UTC, and the alarms it holds.
FILES = {
    "alarm_google_future.ics": ("79fs7pkqvht9m5igs0vjv1sfra@google.com", "2024-10-04T18:15:00Z", 4),
    "alarm_thunderbird_future.ics": (
        "b9a23b47-f109-4e7a-908c-75e925b27def",
        "2024-10-23T14:00:00Z",
        2,
    ),
}


@pytest.mark.parametrize("name", FILES)
async def test_a_public_file_imports_whole_and_again_without_duplicates(
    client: httpx.AsyncClient, owner: Actor, name: str
) -> None:
    data = (PUBLIC / name).read_bytes()
    uid, start, alarms = FILES[name]
    dry = await _ok(client, owner, data, dry_run="true")
    assert [c["uid"] for c in dry["created"]] == [uid] and dry["refused"] == []
    assert await _count(client, owner) == 0
    done = await _ok(client, owner, data)
    event_id = done["created"][0]["event_id"]
    event = (await client.get(f"/api/events/{event_id}", headers=owner.headers)).json()
    assert (event["title"], event["start_time"]) == ("event with alarms", start)
    exported = await client.get(
        f"/api/events/{event_id}", headers={**owner.headers, "Accept": "text/calendar"}
    )
    [vevent] = icalendar.Calendar.from_ical(exported.content).walk("VEVENT")
    [original] = icalendar.Calendar.from_ical(data).walk("VEVENT")
    assert len(vevent.walk("VALARM")) == alarms
    assert [a.to_ical() for a in vevent.walk("VALARM")] == [
        a.to_ical() for a in original.walk("VALARM")
    ]
    again = await _ok(client, owner, data)
    assert [u["event_id"] for u in again["unchanged"]] == [event_id]
    assert await _count(client, owner) == 1
