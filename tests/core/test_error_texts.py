"""Error texts are plain sentences, and an invalid item reports every error (issue 16)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from calendo.core.error_texts import plain_message, subject, summary
from calendo.events.models import Event
from calendo.history.models import EventVersion
from tests.events.conftest import event_payload
from tests.events.support import count_rows
from tests.helpers import Actor, assert_problem

JSON, MSGPACK = "application/json", "application/msgpack"
TIME = "must be an RFC 3339 date-time with an offset, such as 2026-03-20T10:00:00Z"
# What pydantic, FastAPI and the MessagePack decoder say about themselves.
ARTEFACTS = (
    "Value error",
    "Assertion failed",
    "Input tag",
    "found using",
    "Input should",
    "Field required",
    "Extra inputs are not permitted",
    "JSON decode error",
    "Unable to extract tag",
    "valid dictionary",
    "ext_hook",
    "invalid type",
    "unexpected end of file",
)


def _artefacts(problem: dict[str, Any]) -> list[str]:
    texts = [problem["detail"], *(e["msg"] for e in problem.get("errors", []))]
    return [f"{a!r} in {t!r}" for t in texts for a in ARTEFACTS if a in t]


async def _written(app: FastAPI) -> tuple[int, int]:
    return await count_rows(app, Event), await count_rows(app, EventVersion)


async def test_an_unknown_frequency_says_which_frequencies_exist(
    client: httpx.AsyncClient, app: FastAPI, owner: Actor
) -> None:
    body = event_payload(recurrence_pattern="FREQ=FORTNIGHTLY")
    response = await client.post("/api/events", json=body, headers=owner.headers)
    problem = assert_problem(response, 422, "validation-error")
    msg = "unknown FREQ 'FORTNIGHTLY'; expected one of: YEARLY, MONTHLY, WEEKLY, DAILY, HOURLY, MINUTELY, SECONDLY"
    assert problem["errors"] == [{"loc": ["body", "recurrence_pattern"], "msg": msg}]
    assert problem["detail"] == msg
    assert await _written(app) == (0, 0)


async def test_an_unknown_operation_names_the_operations_there_are(
    client: httpx.AsyncClient, app: FastAPI, owner: Actor
) -> None:
    operations = [{"op": "create", "event": event_payload()}, {"op": "frobnicate", "event_id": 1}]
    response = await client.post(
        "/api/transactions", json={"operations": operations}, headers=owner.headers
    )
    problem = assert_problem(response, 422, "validation-error")
    msg = "Unknown operation 'frobnicate'; expected one of: create, update, delete, share"
    assert problem["index"] == 1
    assert problem["errors"] == [{"loc": ["body", "operations", 1], "msg": msg}]
    assert problem["detail"] == f"operation 1: {msg}"
    assert await _written(app) == (0, 0)


async def test_an_operation_without_op_asks_for_it(client: httpx.AsyncClient, owner: Actor) -> None:
    response = await client.post(
        "/api/transactions", json={"operations": [{"event_id": 1}]}, headers=owner.headers
    )
    problem = assert_problem(response, 422, "validation-error")
    assert problem["errors"] == [
        {"loc": ["body", "operations", 0], "msg": "this operation needs the field 'op'"}
    ]


async def test_a_batch_item_reports_every_bad_field(
    client: httpx.AsyncClient, app: FastAPI, owner: Actor
) -> None:
    items = [event_payload(), event_payload(title="", end_time="soon", colour="red")]
    response = await client.post("/api/events/batch", json={"events": items}, headers=owner.headers)
    problem = assert_problem(response, 422, "validation-error")
    assert problem["index"] == 1
    assert sorted(map(tuple, (e["loc"] for e in problem["errors"]))) == [
        ("body", "events", 1, "colour"),
        ("body", "events", 1, "end_time"),
        ("body", "events", 1, "title"),
    ]
    by_field = {e["loc"][-1]: e["msg"] for e in problem["errors"]}
    assert by_field == {
        "title": "title must not be empty",
        "end_time": f"end_time {TIME}, not 'soon'",
        "colour": "Unknown field 'colour'",
    }
    assert problem["detail"].startswith("item 1: ")
    assert all(msg in problem["detail"] for msg in by_field.values())
    assert await _written(app) == (0, 0)


async def test_only_the_first_invalid_item_is_reported(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    items = [event_payload(), event_payload(title=""), event_payload(end_time="soon")]
    response = await client.post("/api/events/batch", json={"events": items}, headers=owner.headers)
    problem = assert_problem(response, 422, "validation-error")
    assert problem["index"] == 1
    assert problem["errors"] == [
        {"loc": ["body", "events", 1, "title"], "msg": "title must not be empty"}
    ]


async def test_a_transaction_operation_reports_every_bad_field(
    client: httpx.AsyncClient, app: FastAPI, owner: Actor
) -> None:
    operations = [
        {"op": "create", "event": event_payload()},
        {"op": "update", "event_ref": 0, "changes": {"title": "", "end_time": "soon"}},
    ]
    response = await client.post(
        "/api/transactions", json={"operations": operations}, headers=owner.headers
    )
    problem = assert_problem(response, 422, "validation-error")
    assert problem["index"] == 1
    assert problem["errors"] == [
        {"loc": ["body", "operations", 1, "changes", "title"], "msg": "title must not be empty"},
        {
            "loc": ["body", "operations", 1, "changes", "end_time"],
            "msg": f"end_time {TIME}, not 'soon'",
        },
    ]
    assert problem["detail"] == f"operation 1: title must not be empty; end_time {TIME}, not 'soon'"
    assert await _written(app) == (0, 0)


async def test_a_create_operation_reports_every_bad_field(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    event = event_payload(start_time="2026-03-20T10:00:00", timezone="Mars/Olympus")
    response = await client.post(
        "/api/transactions",
        json={"operations": [{"op": "create", "event": event}]},
        headers=owner.headers,
    )
    problem = assert_problem(response, 422, "validation-error")
    assert problem["errors"] == [
        {
            "loc": ["body", "operations", 0, "event", "start_time"],
            "msg": "start_time must include a UTC offset, such as 2026-03-20T10:00:00Z or "
            "2026-03-20T12:00:00+02:00",
        },
        {
            "loc": ["body", "operations", 0, "event", "timezone"],
            "msg": "unknown time zone 'Mars/Olympus'",
        },
    ]


async def test_bad_json_is_a_plain_sentence(
    client: httpx.AsyncClient, app: FastAPI, owner: Actor
) -> None:
    response = await client.post(
        "/api/events", content=b'{"title": }', headers={**owner.headers, "Content-Type": JSON}
    )
    problem = assert_problem(response, 422, "validation-error")
    [error] = problem["errors"]
    assert error["loc"][0] == "body"
    assert error["msg"].startswith("The request body is not valid JSON: expecting value at ")
    assert problem["detail"] == error["msg"]
    assert await _written(app) == (0, 0)


@pytest.mark.parametrize(
    "body", [b"\xc1", b"\x92\x01", b"\x81\x01\x02"], ids=["reserved", "cut", "int-key"]
)
async def test_bad_msgpack_is_a_plain_sentence(
    client: httpx.AsyncClient, app: FastAPI, owner: Actor, body: bytes
) -> None:
    response = await client.post(
        "/api/events", content=body, headers={**owner.headers, "Content-Type": MSGPACK}
    )
    problem = assert_problem(response, 400, "bad-request")
    assert problem["detail"] == (
        "The request body is not valid MessagePack: send one complete MessagePack value "
        "whose map keys are strings"
    )
    assert await _written(app) == (0, 0)


@pytest.mark.parametrize(
    ("url", "loc", "msg"),
    [
        ("/api/events?limit=abc", ["query", "limit"], "limit must be a whole number, not 'abc'"),
        ("/api/events?limit=1000", ["query", "limit"], "limit must be at most 200"),
        ("/api/events?limit=0", ["query", "limit"], "limit must be at least 1"),
        (
            "/api/events?role=boss",
            ["query", "role"],
            "role must be one of 'owner', 'editor' or 'viewer'",
        ),
        (
            "/api/events?start_time=yesterday",
            ["query", "start_time"],
            f"start_time {TIME}, not 'yesterday'",
        ),
        ("/api/events/abc", ["path", "event_id"], "event_id must be a whole number, not 'abc'"),
        ("/api/events/99999999999", ["path", "event_id"], "event_id must be at most 2147483647"),
    ],
    ids=["limit-text", "limit-high", "limit-zero", "role", "start-time", "id-text", "id-huge"],
)
async def test_bad_query_and_path_values_are_plain_sentences(
    client: httpx.AsyncClient, owner: Actor, url: str, loc: list[str], msg: str
) -> None:
    problem = assert_problem(await client.get(url, headers=owner.headers), 422, "validation-error")
    assert problem["errors"] == [{"loc": loc, "msg": msg}]
    assert problem["detail"] == msg


def _post(path: str, body: Any) -> tuple[str, str, dict[str, Any]]:
    return "POST", path, {"json": body}


def _raw(path: str, content: bytes, media: str) -> tuple[str, str, dict[str, Any]]:
    return "POST", path, {"content": content, "headers": {"Content-Type": media}}


# A sample of invalid requests across the API: every one answers in plain words.
INVALID = {
    "wrong types": _post(
        "/api/events",
        event_payload(title=5, is_recurring="maybe", description=[], location=3.5),
    ),
    "missing fields": _post("/api/events", {"title": "Only a title"}),
    "not an object": _post("/api/events", [1, 2]),
    "no body": _raw("/api/events", b"", JSON),
    "too long": _post("/api/events", event_payload(title="x" * 201, description="x" * 10_001)),
    "naive times": _post("/api/events", event_payload(end_time="2026-03-20T11:00:00")),
    "time as number": _post("/api/events", event_payload(start_time=1_700_000_000)),
    "bad rule": _post("/api/events", event_payload(recurrence_pattern="FREQ=DAILY;BYDAY=XX")),
    "rule not a string": _post("/api/events", event_payload(recurrence_pattern=7)),
    "bad zone": _post("/api/events", event_payload(timezone="Nowhere/City")),
    "bad exceptions": _post("/api/events", event_payload(recurrence_exceptions=["x", 3])),
    "null update": ("PUT", "/api/events/1", {"json": {"title": None}}),
    "batch item": _post("/api/events/batch", {"events": [event_payload(title=None)]}),
    "batch not a list": _post("/api/events/batch", {"events": "all of them"}),
    "empty batch": _post("/api/events/batch", {"events": []}),
    "unknown op": _post("/api/transactions", {"operations": [{"op": "frobnicate"}]}),
    "op not an object": _post("/api/transactions", {"operations": ["create"]}),
    "both targets": _post(
        "/api/transactions", {"operations": [{"op": "delete", "event_id": 1, "event_ref": 0}]}
    ),
    "no operations": _post("/api/transactions", {"operations": []}),
    "share role": _post("/api/events/1/share", {"users": [{"user_id": 2, "role": "boss"}]}),
    "bad json": _raw("/api/events", b"{nope", JSON),
    "bad msgpack": _raw("/api/events", b"\x81\xc0\x01", MSGPACK),
    "bad extension": _raw("/api/events", b"\x81\xa1t\xd4\x05\x00", MSGPACK),
    "conflicts preview": _post("/api/events/conflicts", {"start_time": "x", "exclude_event_id": 0}),
    "history version": ("GET", "/api/events/1/history/first", {}),
    "diff format": ("GET", "/api/events/1/diff/1/2?format=pdf", {}),
    "notification id": ("POST", "/api/notifications/x/read", {}),
    "expand window": ("GET", "/api/events?expand=perhaps", {}),
    "audit limit": ("GET", "/api/audit?limit=-1", {}),
}


@pytest.mark.parametrize("case", INVALID)
async def test_no_error_text_shows_its_library(
    client: httpx.AsyncClient, owner: Actor, case: str
) -> None:
    method, path, options = INVALID[case]
    headers = {**owner.headers, **options.pop("headers", {})}
    response = await client.request(method, path, headers=headers, **options)
    assert response.status_code in (400, 422), response.text
    problem = assert_problem(response, response.status_code)
    assert _artefacts(problem) == []
    assert all(e["msg"].strip() for e in problem.get("errors", []))


def test_every_mapped_type_names_its_subject() -> None:
    assert subject(["body"]) == "The request body"
    assert subject(["body", "recurrence_exceptions", 2]) == "recurrence_exceptions[2]"
    assert subject(["body", "events", 3], item=("events", "item")) == "this item"
    missing = {"type": "missing", "loc": ("body",), "msg": "Field required"}
    assert plain_message(missing, loc=["body"]) == "The request body is required"
    too_long = {"type": "too_long", "ctx": {"max_length": 100, "actual_length": 101}}
    assert plain_message(too_long, loc=["body", "users"]) == (
        "users may hold at most 100 items, not 101"
    )
    unknown = {"type": "no_such_type_yet", "msg": "Something plain"}
    assert plain_message(unknown, loc=["body", "x"]) == "Something plain"


def test_a_long_detail_counts_the_rest() -> None:
    assert summary(["a", "b"]) == "a; b"
    assert summary([str(n) for n in range(8)]) == "0; 1; 2; 3; 4 (and 3 more)"
