"""Every event and collaboration route × {no token, stranger, viewer, editor, owner}.

Each cell is the status the contract gives: 401 without a token, 404 when the caller cannot
see the event, 403 when they can but their role is too low, 2xx otherwise. Every attempt runs
on a fresh event (shared with `editor` and `viewer`), so one success cannot change the next.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from tests.events.conftest import EventFactory, event_payload
from tests.helpers import Actor

ACTORS = ("anonymous", "stranger", "viewer", "editor", "owner")
# Covered by the history tests.
EXCLUDED = ("/history", "/rollback", "/changelog", "/diff")

Body = Callable[[dict[str, Actor]], Any]


def _free_time(actors: dict[str, Actor]) -> dict[str, Any]:
    return event_payload(start_time="2026-05-01T10:00:00Z", end_time="2026-05-01T11:00:00Z")


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    statuses: tuple[int, int, int, int, int]
    body: Body | None = None
    params: dict[str, str] = field(default_factory=dict)
    deleted: bool = False
    note: str = ""

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}{' ' + self.note if self.note else ''}"


ROUTES = "/api/events"
EVENT = "/api/events/{event_id}"
PERMISSION = "/api/events/{event_id}/permissions/{user_id}"

CASES = [
    Case("GET", ROUTES, (401, 200, 200, 200, 200)),
    Case("POST", ROUTES, (401, 201, 201, 201, 201), body=_free_time),
    Case(
        "POST",
        ROUTES + "/batch",
        (401, 201, 201, 201, 201),
        body=lambda a: {"events": [_free_time(a)]},
    ),
    Case(
        "POST",
        ROUTES + "/conflicts",
        (401, 200, 200, 200, 200),
        body=lambda a: {"start_time": "2026-03-20T10:00:00Z", "end_time": "2026-03-20T11:00:00Z"},
    ),
    Case("GET", EVENT, (401, 404, 200, 200, 200)),
    Case("PUT", EVENT, (401, 404, 403, 200, 200), body=lambda a: {"title": "Changed"}),
    Case("PATCH", EVENT, (401, 404, 403, 200, 200), body=lambda a: {"title": "Changed"}),
    Case("DELETE", EVENT, (401, 404, 403, 403, 204)),
    Case("POST", EVENT + "/restore", (401, 404, 403, 403, 200), deleted=True),
    Case("POST", EVENT + "/restore", (401, 404, 403, 403, 409), note="(not deleted)"),
    Case("GET", EVENT + "/occurrences", (401, 404, 200, 200, 200)),
    Case(
        "POST",
        EVENT + "/share",
        (401, 404, 403, 403, 200),
        body=lambda a: {"users": [{"user_id": a["stranger"].id, "role": "viewer"}]},
    ),
    Case("GET", EVENT + "/permissions", (401, 404, 200, 200, 200)),
    Case(
        "PUT",
        PERMISSION,
        (401, 404, 403, 403, 200),
        body=lambda a: {"role": "editor"},
        params={"user_id": "viewer"},
    ),
    # Removing a permission: the owner, or the user themself (leaving the event).
    Case("DELETE", PERMISSION, (401, 404, 204, 403, 204), params={"user_id": "viewer"}),
    Case(
        "DELETE",
        PERMISSION,
        (401, 404, 403, 204, 204),
        params={"user_id": "editor"},
        note="(editor)",
    ),
]


async def _prepare(
    client: httpx.AsyncClient, make_event: EventFactory, actors: dict[str, Actor], deleted: bool
) -> dict[str, Any]:
    owner = actors["owner"]
    event = await make_event(owner)
    shared = await client.post(
        f"/api/events/{event['id']}/share",
        json={
            "users": [
                {"user_id": actors["editor"].id, "role": "editor"},
                {"user_id": actors["viewer"].id, "role": "viewer"},
            ]
        },
        headers=owner.headers,
    )
    assert shared.status_code == 200, shared.text
    if deleted:
        gone = await client.delete(f"/api/events/{event['id']}", headers=owner.headers)
        assert gone.status_code == 204
    return event


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_role_matrix(
    client: httpx.AsyncClient,
    make_event: EventFactory,
    owner: Actor,
    editor: Actor,
    viewer: Actor,
    stranger: Actor,
    case: Case,
) -> None:
    actors = {"owner": owner, "editor": editor, "viewer": viewer, "stranger": stranger}
    observed = []
    for name in ACTORS:
        event = await _prepare(client, make_event, actors, case.deleted)
        values = {"event_id": str(event["id"])}
        values.update({k: str(actors[v].id) for k, v in case.params.items()})
        path = case.path.format(**values)
        headers = actors[name].headers if name in actors else {}
        body = case.body(actors) if case.body else None
        response = await client.request(case.method, path, json=body, headers=headers)
        observed.append(response.status_code)
        if response.status_code >= 400:
            assert response.headers["content-type"].startswith("application/problem+json")
        if response.status_code == 401:
            assert response.headers["www-authenticate"] == "Bearer"
    assert tuple(observed) == case.statuses, dict(zip(ACTORS, observed, strict=True))


def test_every_event_route_is_in_the_matrix(app: FastAPI) -> None:
    covered = {(case.method, case.path) for case in CASES}
    missing = []
    for route in app.routes:
        if not isinstance(route, APIRoute) or not route.path.startswith(ROUTES):
            continue
        if any(part in route.path for part in EXCLUDED):
            continue
        for method in route.methods - {"HEAD", "OPTIONS"}:
            if (method, route.path) not in covered:
                missing.append(f"{method} {route.path}")
    assert missing == [], f"routes without a role-matrix entry: {missing}"
    assert len(covered) >= 14
