"""History reads share the loop: their versions are read in steps, and their summaries (a diff
of two snapshots each, tens of µs) are rendered with a hand-back between them
(``core.cooperative``). The tests count hand-backs with every tick made to hand back, never
durations."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator

import httpx
import pytest

from calendo.core.cooperative import Pacer
from calendo.events import versions
from calendo.history.models import EventVersion
from tests.events.conftest import EventFactory
from tests.helpers import Actor, HandBacks

EDITS = 12


class Ticks:
    """Hand-backs so far, and how many had been made at each summary rendered."""

    def __init__(self, hand_backs: HandBacks) -> None:
        self.hand_backs = hand_backs
        self.at_summary: list[int] = []


@pytest.fixture
def ticks(monkeypatch: pytest.MonkeyPatch) -> Iterator[Ticks]:
    counted = Ticks(HandBacks.install(monkeypatch))
    render = versions.rendered_summary

    def rendered_summary(row: EventVersion, previous: EventVersion | None) -> str:
        counted.at_summary.append(counted.hand_backs.count)
        return render(row, previous)

    monkeypatch.setattr(versions, "rendered_summary", rendered_summary)
    yield counted


@pytest.mark.parametrize("read", ["history", "changelog"])
async def test_each_summary_of_a_page_is_its_own_step(
    read: str, client: httpx.AsyncClient, owner: Actor, make_event: EventFactory, ticks: Ticks
) -> None:
    event = await make_event(owner, title="v0")
    for n in range(1, EDITS + 1):
        response = await client.put(
            f"/api/events/{event['id']}", json={"title": f"v{n}"}, headers=owner.headers
        )
        assert response.status_code == 200
    ticks.at_summary.clear()

    response = await client.get(
        f"/api/events/{event['id']}/{read}", params={"limit": 50}, headers=owner.headers
    )

    assert response.status_code == 200
    items = response.json()["items"]
    assert len(items) == EDITS + 1
    assert all(item["summary"] for item in items)
    assert len(ticks.at_summary) == EDITS + 1
    # A hand-back between every two summaries: none is rendered in the step of the one before.
    assert all(b > a for a, b in itertools.pairwise(ticks.at_summary))


async def test_a_hand_back_lets_a_request_of_several_turns_finish() -> None:
    """A cheap request needs a few loop turns (read, start, answer); one tick of a heavy
    request gives it all of them, so it waits one budget, not one per turn."""
    finished: list[int] = []
    turns = 3  # its bytes read, its task started, its answer written

    async def cheap() -> None:
        for _ in range(turns - 1):
            await asyncio.sleep(0)
        finished.append(1)

    task = asyncio.create_task(cheap())
    pacer = Pacer(budget=0.0)
    await pacer.tick()
    assert finished == [1]
    assert pacer.yields == 1
    await task
