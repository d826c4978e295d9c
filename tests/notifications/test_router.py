"""REST: list (newest first, unread filter, keyset pages), mark read, ownership, auth."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete

from calendo.auth.models import User
from calendo.core.uow import UnitOfWork
from tests.helpers import Actor, assert_problem
from tests.notifications.factories import create_event, produce, services_of

URL = "/api/notifications"


async def _list(client: httpx.AsyncClient, actor: Actor, **params: str | int) -> dict[str, Any]:
    response = await client.get(URL, headers=actor.headers, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _ids(page: dict[str, Any]) -> list[int]:
    return [item["id"] for item in page["items"]]


async def _seed(app: FastAPI, recipient: Actor, actor: Actor, count: int) -> int:
    event_id = await create_event(app, recipient.id)
    for version in range(2, 2 + count):
        await produce(app, recipients=[recipient], actor=actor, event_id=event_id, version=version)
    return event_id


async def test_list_is_empty_for_a_new_user(client: httpx.AsyncClient, owner: Actor) -> None:
    assert await _list(client, owner) == {"items": [], "next_cursor": None}


async def test_list_newest_first_with_actor(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, editor: Actor
) -> None:
    event_id = await _seed(app, owner, editor, 2)
    page = await _list(client, owner)
    items = page["items"]
    assert isinstance(items, list) and len(items) == 2
    assert items[0]["id"] > items[1]["id"]
    assert items[0] == {
        "id": items[0]["id"],
        "type": "event_updated",
        "event_id": event_id,
        "event_title": "Standup",
        "actor": {"id": editor.id, "username": "editor"},
        "changed_fields": ["title"],
        "version": 3,
        "created_at": items[0]["created_at"],
        "read_at": None,
    }
    assert items[0]["created_at"].endswith("Z")
    assert await _list(client, editor) == {"items": [], "next_cursor": None}


async def test_pages_follow_the_cursor(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, editor: Actor
) -> None:
    await _seed(app, owner, editor, 5)
    everything = _ids(await _list(client, owner))
    seen: list[int] = []
    cursor: str | None = None
    for expected_size in (2, 2, 1):
        page = await _list(client, owner, limit=2, **({"cursor": cursor} if cursor else {}))
        assert len(_ids(page)) == expected_size
        seen += _ids(page)
        cursor = page["next_cursor"]
    assert cursor is None
    assert seen == everything == sorted(everything, reverse=True)


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 201}, {"cursor": "%%%"}])
async def test_bad_page_parameters_are_422(
    client: httpx.AsyncClient, owner: Actor, params: dict[str, str | int]
) -> None:
    response = await client.get(URL, headers=owner.headers, params=params)
    assert_problem(response, 422, "validation-error")


async def test_mark_one_read_then_unread_filter(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, editor: Actor
) -> None:
    await _seed(app, owner, editor, 3)
    newest, middle, oldest = _ids(await _list(client, owner))

    response = await client.post(f"{URL}/{middle}/read", headers=owner.headers)
    assert response.status_code == 204 and response.content == b""

    assert _ids(await _list(client, owner, unread="true")) == [newest, oldest]
    [marked] = [i for i in (await _list(client, owner))["items"] if i["id"] == middle]
    assert marked["read_at"].endswith("Z")

    again = await client.post(f"{URL}/{middle}/read", headers=owner.headers)
    assert again.status_code == 204
    [still] = [i for i in (await _list(client, owner))["items"] if i["id"] == middle]
    assert still["read_at"] == marked["read_at"]  # the first read time is kept


async def test_someone_elses_notification_is_404_and_untouched(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, editor: Actor, stranger: Actor
) -> None:
    await _seed(app, owner, editor, 1)
    [theirs] = _ids(await _list(client, owner))

    foreign = assert_problem(
        await client.post(f"{URL}/{theirs}/read", headers=stranger.headers), 404, "not-found"
    )
    unknown = assert_problem(
        await client.post(f"{URL}/999999/read", headers=stranger.headers), 404, "not-found"
    )
    assert foreign["title"] == unknown["title"]  # existence does not leak
    assert _ids(await _list(client, owner, unread="true")) == [theirs]


async def test_mark_all_read_touches_only_the_caller(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, editor: Actor, viewer: Actor
) -> None:
    event_id = await create_event(app, owner.id)
    for _ in range(2):
        await produce(app, recipients=[owner, viewer], actor=editor, event_id=event_id)

    response = await client.post(f"{URL}/read", headers=owner.headers)
    assert response.status_code == 204
    assert (await _list(client, owner, unread="true"))["items"] == []
    assert all(i["read_at"] for i in (await _list(client, owner))["items"])
    assert len(_ids(await _list(client, viewer, unread="true"))) == 2


async def test_actor_is_null_once_the_account_is_gone(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, editor: Actor
) -> None:
    await _seed(app, owner, editor, 1)
    async with UnitOfWork.independent(services_of(app).db) as session:
        await session.execute(delete(User).where(User.id == editor.id))
    [item] = (await _list(client, owner))["items"]
    assert item["actor"] is None


@pytest.mark.parametrize(
    ("method", "path"), [("GET", URL), ("POST", f"{URL}/read"), ("POST", f"{URL}/1/read")]
)
async def test_without_token_is_401(client: httpx.AsyncClient, method: str, path: str) -> None:
    response = await client.request(method, path)
    assert_problem(response, 401, "not-authenticated")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_openapi_documents_the_routes(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    paths = document["paths"]
    listing = paths[URL]["get"]
    assert listing["summary"] == "The caller's notifications, newest first."
    assert "`event_title`" in listing["description"]
    title = document["components"]["schemas"]["NotificationRead"]["properties"]["event_title"]
    assert title["type"] == "string"
    assert "when the notification was written" in title["description"]
    assert "event_title" in document["components"]["schemas"]["NotificationRead"]["required"]
    assert {"200", "401", "422"} <= listing["responses"].keys()
    assert {"204", "401", "404"} <= paths[f"{URL}/{{notification_id}}/read"]["post"][
        "responses"
    ].keys()
    assert {"204", "401"} <= paths[f"{URL}/read"]["post"]["responses"].keys()
