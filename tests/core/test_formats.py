"""MessagePack bodies are exactly one object (issue 14, finding 7)."""

from __future__ import annotations

from datetime import UTC, datetime

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


# --- MessagePack timestamps (the spec's extension type -1) -----------------------------------


def _ext(code: int, data: bytes) -> bytes:
    """A fixext/ext8 object of ``code`` holding ``data``."""
    fixed = {1: 0xD4, 2: 0xD5, 4: 0xD6, 8: 0xD7, 16: 0xD8}
    if len(data) in fixed:
        return bytes([fixed[len(data)], code & 0xFF]) + data
    return bytes([0xC7, len(data), code & 0xFF]) + data


def _map(fields: dict[str, bytes]) -> bytes:
    """A fixmap whose values are already-encoded MessagePack objects."""
    items = b"".join(ormsgpack.packb(k) + v for k, v in fields.items())
    return bytes([0x80 | len(fields)]) + items


def _ts32(seconds: int) -> bytes:
    return _ext(-1, seconds.to_bytes(4, "big"))


def _ts64(seconds: int, nanoseconds: int) -> bytes:
    return _ext(-1, ((nanoseconds << 34) | seconds).to_bytes(8, "big"))


def _ts96(seconds: int, nanoseconds: int) -> bytes:
    return _ext(-1, nanoseconds.to_bytes(4, "big") + seconds.to_bytes(8, "big", signed=True))


START = 1_772_442_000  # 2026-03-02T09:00:00Z


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (_ts32(START), _ts32(START + 3600), "2026-03-02T09:00:00Z"),
        (_ts64(START, 250_000_000), _ts64(START + 3600, 0), "2026-03-02T09:00:00.250000Z"),
        (_ts96(START, 999_999_999), _ts96(START + 3600, 0), "2026-03-02T09:00:00.999999Z"),
        (_ts96(-631_152_000, 0), _ts96(-631_148_400, 0), "1950-01-01T00:00:00Z"),
    ],
    ids=["32-bit", "64-bit", "96-bit", "96-bit-before-1970"],
)
async def test_timestamp_extension_is_a_time(
    client: httpx.AsyncClient, owner: Actor, start: bytes, end: bytes, expected: str
) -> None:
    """Times may come as the MessagePack timestamp type (once a 400 "ext_hook missing")."""
    body = _map({"title": ormsgpack.packb("Packed"), "start_time": start, "end_time": end})
    response = await client.post(
        "/api/events", content=body, headers={**owner.headers, "content-type": MSGPACK}
    )
    assert response.status_code == 201, response.text
    assert response.json()["start_time"] == expected
    got = await client.get(f"/api/events/{response.json()['id']}", headers=owner.headers)
    assert got.json()["start_time"] == expected


async def test_ormsgpack_datetimes_round_trip(client: httpx.AsyncClient, owner: Actor) -> None:
    """What a client library emits for a datetime (ormsgpack's timestamp option) is accepted."""
    payload = {
        "title": "Library",
        "start_time": datetime(2026, 5, 1, 10, tzinfo=UTC),
        "end_time": datetime(2026, 5, 1, 11, tzinfo=UTC),
    }
    body = ormsgpack.packb(payload, option=ormsgpack.OPT_DATETIME_AS_TIMESTAMP_EXT)
    response = await client.post(
        "/api/events", content=body, headers={**owner.headers, "content-type": MSGPACK}
    )
    assert response.status_code == 201, response.text
    assert response.json()["end_time"] == "2026-05-01T11:00:00Z"


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        (_ext(5, b"\x00\x01"), "unsupported extension type 5"),
        (_ext(-1, b"\x00\x00\x01"), "4, 8 or 12 bytes"),
        (_ts96(START, 1_500_000_000), "below one second"),
        (_ts96(2**62, 0), "outside the representable years"),
    ],
    ids=["other-type", "bad-length", "nanoseconds", "out-of-range"],
)
async def test_bad_extensions_are_400(
    client: httpx.AsyncClient, app: FastAPI, owner: Actor, value: bytes, needle: str
) -> None:
    body = _map({"title": ormsgpack.packb("Bad"), "start_time": value, "end_time": value})
    response = await client.post(
        "/api/events", content=body, headers={**owner.headers, "content-type": MSGPACK}
    )
    assert needle in assert_problem(response, 400, "bad-request")["detail"]
    assert await count_rows(app, Event) == 0


def test_trailing_bytes_after_a_timestamp_are_still_refused() -> None:
    assert _single_object(_map({"t": _ts32(START)}))
    assert not _single_object(_map({"t": _ts32(START)}) + b"\xc1")
