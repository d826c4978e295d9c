"""Diffs are computed off the loop on one CPU lane: never two at once, never on the loop."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from calendo.core import cooperative
from calendo.events import versions as service
from calendo.history import diff
from tests.events.conftest import EventFactory
from tests.helpers import Actor


@pytest.fixture
def lane(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Record where and how many at once ``diff_snapshots`` runs (it dwells a little, so
    concurrent requests really overlap)."""
    seen: dict[str, Any] = {"threads": set(), "running": 0, "most": 0}
    guard = threading.Lock()
    real = diff.diff_snapshots

    def recording(*args: Any) -> Any:
        with guard:
            seen["threads"].add(threading.current_thread().name)
            seen["running"] += 1
            seen["most"] = max(seen["most"], seen["running"])
        try:
            time.sleep(0.02)
            return real(*args)
        finally:
            with guard:
                seen["running"] -= 1

    monkeypatch.setattr(service, "diff_snapshots", recording)
    return seen


async def test_concurrent_diffs_take_turns_on_the_cpu_lane(
    app: FastAPI,
    client: httpx.AsyncClient,
    owner: Actor,
    make_event: EventFactory,
    lane: dict[str, Any],
) -> None:
    event = await make_event(owner, title="Before", description="one two three")
    changed = await client.put(
        f"/api/events/{event['id']}", json={"title": "After"}, headers=owner.headers
    )
    assert changed.status_code == 200
    url = f"/api/events/{event['id']}/diff/1/2"
    responses = await asyncio.gather(
        *(client.get(url, headers=owner.headers) for _ in range(4)),
        client.get(url, params={"format": "html"}, headers=owner.headers),
    )
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert responses[0].json()["changes"][0]["field"] == "title"
    assert lane["most"] == 1  # one at a time
    assert {name.startswith("calendo-cpu") for name in lane["threads"]} == {True}


async def test_the_app_lets_the_loop_take_the_gil_back_quickly(app: FastAPI) -> None:
    assert sys.getswitchinterval() == pytest.approx(cooperative.SWITCH_INTERVAL)
