"""MessagePack bodies are exactly one object (issue 14, finding 7)."""

from __future__ import annotations

import httpx
import orjson
import ormsgpack
import pytest
from fastapi import FastAPI

from calendo.core.formats import _single_object
from tests.events.conftest import event_payload
from tests.events.support import Event, count_rows
from tests.helpers import Actor, assert_problem

MSGPACK, JSON = "application/msgpack", "application/json"
TRAILING = "a MessagePack body must be exactly one object; bytes follow the first one"


def _str16(text: str) -> bytes:
    data = text.encode()
    return b"\xda" + len(data).to_bytes(2, "big") + data


def _wide(body: dict[str, str]) -> bytes:
    """``body`` as a map16 of str16 keys and values: legal, longer than ormsgpack's encoding."""
    items = b"".join(_str16(k) + _str16(v) for k, v in body.items())
    return b"\xde" + len(body).to_bytes(2, "big") + items


ONE = ormsgpack.packb(event_payload())


SINGLE = {
    "one": (ONE, True),
    "one-wide": (_wide(event_payload()), True),
    "nil": (b"\xc0", True),
    "then-c1": (ONE + b"\xc1", False),
    "two-objects": (ONE + ONE, False),
    "then-truncated": (ONE + b"\x92", False),  # still bytes after the first object
    "wide-then-zero": (_wide(event_payload()) + b"\x00", False),
    "two-empty-arrays": (b"\x90\x90", False),
}


@pytest.mark.parametrize("case", SINGLE)
def test_single_object(case: str) -> None:
    body, single = SINGLE[case]
    ormsgpack.unpackb(body)  # the first object always decodes
    assert _single_object(body) is single


async def _post(client: httpx.AsyncClient, actor: Actor, body: bytes, media: str) -> httpx.Response:
    headers = {**actor.headers, "Content-Type": media}
    return await client.post("/api/events", content=body, headers=headers)


@pytest.mark.parametrize(
    "body",
    [ONE + b"\xc1", ONE + ormsgpack.packb(event_payload(title="second"))],
    ids=["then-c1", "two-objects"],
)
async def test_trailing_bytes_are_the_json_malformed_body_problem(
    client: httpx.AsyncClient, app: FastAPI, owner: Actor, body: bytes
) -> None:
    problem = assert_problem(await _post(client, owner, body, MSGPACK), 422, "validation-error")
    assert problem["detail"] == f"body: {TRAILING}"
    assert problem["errors"] == [{"loc": ["body"], "msg": TRAILING}]
    # The JSON equivalent: a value followed by more data.
    as_json = orjson.dumps(event_payload()) + b' {"title": "second"}'
    json_problem = assert_problem(await _post(client, owner, as_json, JSON), 422)
    assert {k: json_problem[k] for k in ("type", "title", "status")} == {
        k: problem[k] for k in ("type", "title", "status")
    }
    assert await count_rows(app, Event) == 0


async def test_one_object_in_any_encoding_is_accepted(
    client: httpx.AsyncClient, app: FastAPI, owner: Actor
) -> None:
    for body in (
        ONE,
        _wide(event_payload(start_time="2026-03-21T10:00:00Z", end_time="2026-03-21T10:30:00Z")),
    ):
        response = await _post(client, owner, body, MSGPACK)
        assert response.status_code == 201, response.text
    assert await count_rows(app, Event) == 2


async def test_invalid_messagepack_is_still_400(client: httpx.AsyncClient, owner: Actor) -> None:
    for body in (b"\xc1", b"\xc1" + ONE, ONE[:-1]):
        assert_problem(await _post(client, owner, body, MSGPACK), 400, "bad-request")
