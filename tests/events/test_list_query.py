"""``GET /api/events`` parses its query string as one model (``core.querymodel``); the public
contract is that of ten separately declared query parameters."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from fastapi import FastAPI, Query

from calendo.api.events import ListAsOf, WindowEnd, WindowStart
from calendo.core.pagination import CursorParam, Limit
from calendo.events.presenters import RenderZone
from calendo.events.schemas import Role
from tests.events.conftest import EventFactory
from tests.helpers import Actor, assert_problem


def _declared_one_by_one() -> list[dict[str, Any]]:
    """The parameters of the route as it was declared before the model: the contract."""
    reference = FastAPI()

    @reference.get("/api/events")
    async def list_events(
        start_time: WindowStart = None,
        end_time: WindowEnd = None,
        q: Annotated[
            str | None, Query(max_length=200, description="Text in title, description, location")
        ] = None,
        role: Annotated[Role | None, Query()] = None,
        expand: Annotated[bool, Query(description="One item per occurrence in the window")] = False,
        limit: Limit = 50,
        cursor: CursorParam = None,
        skip: Annotated[int | None, Query(ge=0, le=100_000, description="Legacy offset")] = None,
        as_of: ListAsOf = None,
        tz: RenderZone = None,
    ) -> None:
        """Reference only."""

    parameters: list[dict[str, Any]] = reference.openapi()["paths"]["/api/events"]["get"][
        "parameters"
    ]
    return parameters


async def test_openapi_documents_each_parameter_as_before(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    parameters = spec["paths"]["/api/events"]["get"]["parameters"]
    assert [p["name"] for p in parameters] == [
        "start_time",
        "end_time",
        "q",
        "role",
        "expand",
        "limit",
        "cursor",
        "skip",
        "as_of",
        "tz",
    ]
    assert parameters == _declared_one_by_one()
    limit = next(p for p in parameters if p["name"] == "limit")
    assert limit["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 200,
        "default": 50,
        "title": "Limit",
        "description": "Page size (at most 200).",
    }


async def test_invalid_parameters_are_422_problems_naming_each(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    params = {"limit": "0", "skip": "-1", "role": "admin", "start_time": "2026-03-01T00:00:00"}
    response = await client.get("/api/events", params=params, headers=owner.headers)
    body = assert_problem(response, 422, "validation-error")
    assert body["errors"] == [
        {
            "loc": ["query", "start_time"],
            "msg": "start_time must include a UTC offset, such as 2026-03-20T10:00:00Z or "
            "2026-03-20T12:00:00+02:00",
        },
        {"loc": ["query", "role"], "msg": "role must be one of 'owner', 'editor' or 'viewer'"},
        {"loc": ["query", "limit"], "msg": "limit must be at least 1"},
        {"loc": ["query", "skip"], "msg": "skip must be at least 0"},
    ]
    assert body["detail"].startswith("start_time must include a UTC offset, ")
    assert body["detail"].endswith("; limit must be at least 1; skip must be at least 0")
    too_long = await client.get("/api/events", params={"q": "x" * 201}, headers=owner.headers)
    assert assert_problem(too_long, 422)["errors"] == [
        {"loc": ["query", "q"], "msg": "q may have at most 200 characters"}
    ]


async def test_unknown_parameters_are_refused_and_the_last_repeat_wins(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    for day in (1, 2, 3):
        await make_event(
            owner, start_time=f"2026-03-0{day}T10:00:00Z", end_time=f"2026-03-0{day}T11:00:00Z"
        )
    # A typo (start for start_time) once silently returned the unfiltered calendar.
    typo = await client.get("/api/events?start=2026-03-02T00:00:00Z", headers=owner.headers)
    problem = assert_problem(typo, 422, "validation-error")
    assert problem["errors"][0]["loc"] == ["query", "start"]
    assert "start_time" in problem["detail"]
    unknown = await client.get("/api/events?limit=2&colour=blue", headers=owner.headers)
    assert assert_problem(unknown, 422)["errors"][0]["loc"] == ["query", "colour"]
    response = await client.get("/api/events?limit=1&limit=2&expand=false", headers=owner.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [item["start_time"] for item in body["items"]] == [
        "2026-03-01T10:00:00Z",
        "2026-03-02T10:00:00Z",
    ]
    assert body["next_cursor"] is not None
    # A calendar item is the event as ``GET /api/events/{id}`` shows it, without the
    # permission list.
    one = await client.get(f"/api/events/{body['items'][0]['id']}", headers=owner.headers)
    assert {**body["items"][0], "permissions": one.json()["permissions"]} == one.json()
