"""Helpers of the iCalendar tests."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers import Actor


async def share_with_viewer(
    client: httpx.AsyncClient, event: dict[str, Any], owner: Actor, viewer: Actor
) -> None:
    """``owner`` shares ``event`` with ``viewer`` as a viewer."""
    shared = await client.post(
        f"/api/events/{event['id']}/share",
        json={"users": [{"user_id": viewer.id, "role": "viewer"}]},
        headers=owner.headers,
    )
    assert shared.status_code == 200, shared.text
