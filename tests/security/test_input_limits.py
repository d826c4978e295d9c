"""Hostile input: oversized and deeply nested bodies, huge batches, exploding RRULEs, bad
zones, out-of-range dates, unicode edge cases, SQL and HTML injection.

Every answer is a 4xx problem or a bounded success, never a 500 and never a hang: each
request runs under ``guarded`` (``asyncio.wait_for`` plus a SIGALRM backstop for CPU-bound
work). Defences: ``core/formats.py`` (body size, MessagePack/JSON decoding),
``events/schemas.py`` (field lengths, year range 1900–2200, zones), ``calendar/recurrence.py``
(rule limits, empty-rule detection, ``CALENDO_MAX_OCCURRENCES``), parameterised SQL and
escaped LIKE patterns in the repositories, ``history/html.py`` (escaping + CSP).
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import ormsgpack
import pytest

from tests.helpers import Actor, assert_problem
from tests.security.support import guarded

MB = 1024 * 1024
JSON = {"Content-Type": "application/json"}
MSGPACK = {"Content-Type": "application/msgpack", "Accept": "application/msgpack"}


def event(**overrides: Any) -> dict[str, Any]:
    """A valid event body."""
    body: dict[str, Any] = {
        "title": "Limits",
        "start_time": "2026-01-05T09:00:00Z",
        "end_time": "2026-01-05T09:30:00Z",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def assert_client_error(response: httpx.Response) -> dict[str, Any]:
    """A 4xx problem document (any 4xx)."""
    assert 400 <= response.status_code < 500, response.text[:500]
    return assert_problem(response, response.status_code)


async def post_raw(
    client: httpx.AsyncClient, actor: Actor, path: str, content: Any, headers: dict[str, str]
) -> httpx.Response:
    """POST bytes (or a byte stream) under the hang guard."""
    return await guarded(
        client.post(path, content=content, headers={**actor.headers, **headers}), seconds=15
    )


# --- size --------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [MB + 1, 10 * MB], ids=["1MB+1", "10MB"])
async def test_oversized_description_is_413(
    client: httpx.AsyncClient, owner: Actor, size: int
) -> None:
    body = orjson.dumps(event(description="d" * size))
    response = await post_raw(client, owner, "/api/events", body, JSON)
    assert_problem(response, 413, "payload-too-large")


async def test_oversized_streamed_body_without_length_is_413(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"title": "'
        for _ in range(30):
            yield b"x" * 100_000
        yield b'"}'

    response = await post_raw(client, owner, "/api/events", chunks(), JSON)
    assert_problem(response, 413, "payload-too-large")


async def test_oversized_msgpack_body_is_413(client: httpx.AsyncClient, owner: Actor) -> None:
    body = ormsgpack.packb(event(description="d" * (2 * MB)))
    response = await post_raw(client, owner, "/api/events", body, MSGPACK)
    assert_problem(response, 413, "payload-too-large")


# --- nesting -----------------------------------------------------------------------------


def _nested_json(depth: int, *, in_field: bool) -> bytes:
    nested = b"[" * depth + b"]" * depth
    return b'{"title": ' + nested + b"}" if in_field else nested


@pytest.mark.parametrize("depth", [1_000, 10_000, 100_000])
@pytest.mark.parametrize("in_field", [False, True], ids=["top", "in-field"])
async def test_deeply_nested_json_is_4xx(
    client: httpx.AsyncClient, owner: Actor, depth: int, in_field: bool
) -> None:
    body = _nested_json(depth, in_field=in_field)
    for path in ("/api/events", "/api/transactions", "/api/auth/login"):
        assert_client_error(await post_raw(client, owner, path, body, JSON))


async def test_json_python_cannot_read_is_a_400_that_says_why(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    """Well-formed JSON the parser refuses (a 5,000-digit number; nesting past its recursion
    limit) is a 400 naming the reason in the house's words, and nothing is written."""
    huge = b'{"title": "x", "start_time": "2026-01-01T00:00:00Z", "version": ' + b"9" * 5000
    cases = {
        huge + b"}": "a number has more digits than this server reads",
        _nested_json(100_000, in_field=True): "nested too deeply",
    }
    for body, words in cases.items():
        response = await post_raw(client, owner, "/api/events", body, JSON)
        problem = assert_problem(response, 400, "bad-request")
        assert words in problem["detail"], problem
    listed = await client.get("/api/events", headers=owner.headers)
    assert listed.json()["items"] == []


@pytest.mark.parametrize("depth", [1_000, 10_000, 100_000])
async def test_deeply_nested_msgpack_is_4xx(
    client: httpx.AsyncClient, owner: Actor, depth: int
) -> None:
    body = b"\x91" * depth + b"\x90"  # fixarray(1) of fixarray(1) of ... of []
    assert_client_error(await post_raw(client, owner, "/api/events", body, MSGPACK))


# --- counts ------------------------------------------------------------------------------

COMPACT = {"title": "x", "start_time": "2026-01-01T00:00:00Z", "end_time": "2026-01-01T01:00:00Z"}


async def test_batch_of_ten_thousand_is_refused_fast(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    body = orjson.dumps({"events": [COMPACT] * 10_000})
    assert len(body) < MB  # the batch limit answers, not the body limit
    response = await post_raw(client, owner, "/api/events/batch", body, JSON)
    assert_client_error(response)
    listing = await client.get("/api/events", headers=owner.headers)
    assert listing.json()["items"] == []


async def test_transaction_of_ten_thousand_is_refused_fast(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    operations = [{"op": "delete", "event_id": 1}] * 10_000
    body = orjson.dumps({"operations": operations})
    assert len(body) < MB
    response = await post_raw(client, owner, "/api/transactions", body, JSON)
    assert_client_error(response)
    listing = await client.get("/api/events", headers=owner.headers)
    assert listing.json()["items"] == []


async def test_share_with_ten_thousand_users_is_refused_fast(
    client: httpx.AsyncClient, owner: Actor, make_event: Any
) -> None:
    created = await make_event(owner)
    users = [{"user_id": n, "role": "viewer"} for n in range(10_000)]
    body = orjson.dumps({"users": users})
    response = await post_raw(client, owner, f"/api/events/{created['id']}/share", body, JSON)
    assert_client_error(response)


# --- recurrence --------------------------------------------------------------------------

EXPLOSIVE_RULES: dict[str, Any] = {
    "hourly-huge-count": "FREQ=HOURLY;COUNT=100000000",
    "hourly-until-9999": "FREQ=HOURLY;UNTIL=99991231T235959Z",
    "hourly-forever": "FREQ=HOURLY",
    "minutely": "FREQ=MINUTELY;COUNT=1000000",
    "secondly": "FREQ=SECONDLY",
    "every-minute-by-parts": "FREQ=DAILY;BYHOUR="
    + ",".join(map(str, range(24)))
    + ";BYMINUTE="
    + ",".join(map(str, range(60))),
    "never-feb-30": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
    "bysetpos-beyond-set": "FREQ=DAILY;BYSETPOS=366",
    "bysetpos-rare-leap-monday": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO;BYSETPOS=1",
    "bysetpos-last-of-huge-set": "FREQ=YEARLY;BYDAY=MO,TU,WE,TH,FR,SA,SU;BYSETPOS=-1,1,-2,2",
    "interval-huge": "FREQ=HOURLY;INTERVAL=99999999999999999999",
    "until-before-start": "FREQ=DAILY;UNTIL=19000101T000000Z",
    "count-negative": "FREQ=DAILY;COUNT=-1",
    "structured-huge-count": {"frequency": "hourly", "count": 10**12},
    "very-long-rule": "FREQ=DAILY;" + "BYMONTHDAY=1;" * 5000,
}
WIDE = {"start_time": "1900-01-01T00:00:00Z", "end_time": "2200-12-31T00:00:00Z"}


async def _bounded_reads(client: httpx.AsyncClient, owner: Actor, event_id: int) -> None:
    """Every way of expanding the series answers quickly with a bounded result."""
    occurrences = await guarded(
        client.get(f"/api/events/{event_id}/occurrences", params=WIDE, headers=owner.headers)
    )
    assert occurrences.status_code == 200, occurrences.text[:300]
    assert len(occurrences.json()["items"]) <= 5000
    expanded = await guarded(
        client.get("/api/events", params={**WIDE, "expand": "true"}, headers=owner.headers)
    )
    assert expanded.status_code == 200, expanded.text[:300]
    clash = event(start_time="2027-06-01T00:10:00Z", end_time="2027-06-01T00:20:00Z")
    created = await guarded(client.post("/api/events", json=clash, headers=owner.headers))
    assert created.status_code in (201, 409), created.text[:300]


@pytest.mark.parametrize("rule", EXPLOSIVE_RULES.values(), ids=list(EXPLOSIVE_RULES))
async def test_exploding_rrule_is_refused_or_bounded(
    client: httpx.AsyncClient, owner: Actor, rule: Any
) -> None:
    body = event(
        recurrence_pattern=rule, start_time="2026-01-01T00:00:00Z", end_time="2026-01-01T00:30:00Z"
    )
    response = await guarded(
        client.post(
            "/api/events", json=body, params={"conflict_strategy": "allow"}, headers=owner.headers
        )
    )
    if response.status_code == 422:
        errors = assert_problem(response, 422)["errors"]
        assert any("recurrence_pattern" in map(str, e["loc"]) for e in errors), errors
        return
    assert response.status_code == 201, response.text[:300]
    await _bounded_reads(client, owner, response.json()["id"])
    check = {k: body[k] for k in ("start_time", "end_time", "recurrence_pattern")}
    preview = await guarded(client.post("/api/events/conflicts", json=check, headers=owner.headers))
    assert preview.status_code == 200, preview.text[:300]


# --- zones and dates ---------------------------------------------------------------------

BAD_ZONES = [
    "Mars/Olympus_Mons",
    "../../../../etc/passwd",
    "/etc/passwd",
    "Europe/../../etc/passwd",
    "",
    " ",
    "UTC\u0000",
    "Europe/Berlin ",
    "A" * 1000,
    "+05:00",
]


@pytest.mark.parametrize("zone", BAD_ZONES, ids=range(len(BAD_ZONES)))
async def test_invalid_time_zone_is_422(client: httpx.AsyncClient, owner: Actor, zone: str) -> None:
    response = await guarded(
        client.post("/api/events", json=event(timezone=zone), headers=owner.headers)
    )
    assert_problem(response, 422)
    preview = event(timezone=zone, title=None)
    response = await guarded(
        client.post("/api/events/conflicts", json=preview, headers=owner.headers)
    )
    assert_problem(response, 422)


BAD_TIMES = {
    "year-0": ("0000-01-01T00:00:00Z", "0000-01-01T01:00:00Z"),
    "year-10000": ("10000-01-01T00:00:00Z", "10000-01-01T01:00:00Z"),
    "end-of-9999": ("9999-12-31T23:00:00Z", "9999-12-31T23:59:59Z"),
    "utc-underflow": ("0001-01-01T00:00:00+01:00", "0001-01-01T02:00:00+01:00"),
    "utc-overflow": ("9999-12-31T23:00:00-01:00", "9999-12-31T23:30:00-01:00"),
    "end-far-future": ("2026-01-01T00:00:00Z", "9999-12-31T23:59:59Z"),
    "naive": ("2026-01-01T00:00:00", "2026-01-01T01:00:00"),
    "number": (1e20, 1e20 + 1),
    "garbage": ("yesterday", "tomorrow"),
    "month-13": ("2026-13-01T00:00:00Z", "2026-13-01T01:00:00Z"),
}


@pytest.mark.parametrize("times", BAD_TIMES.values(), ids=list(BAD_TIMES))
async def test_out_of_range_times_are_422(
    client: httpx.AsyncClient, owner: Actor, times: tuple[Any, Any]
) -> None:
    body = event(start_time=times[0], end_time=times[1])
    response = await guarded(client.post("/api/events", json=body, headers=owner.headers))
    assert_problem(response, 422)


async def test_series_running_past_the_supported_range_is_bounded(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    body = event(
        start_time="2200-12-31T22:00:00Z",
        end_time="2200-12-31T23:59:59Z",
        recurrence_pattern="FREQ=HOURLY",
    )
    response = await guarded(
        client.post(
            "/api/events", json=body, params={"conflict_strategy": "allow"}, headers=owner.headers
        )
    )
    if response.status_code == 422:
        assert_problem(response, 422)
        return
    assert response.status_code == 201, response.text[:300]
    await _bounded_reads(client, owner, response.json()["id"])


UNDERFLOW, OVERFLOW = "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"
YEAR_1, YEAR_9999 = "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"
# (path template, query) for an event id; {id} is a daily series.
WINDOW_PROBES = {
    "list-start-underflow": ("/api/events", {"start_time": UNDERFLOW}),
    "list-end-overflow": ("/api/events", {"end_time": OVERFLOW}),
    "list-year-1": ("/api/events", {"start_time": YEAR_1}),
    "list-year-9999": ("/api/events", {"end_time": YEAR_9999}),
    "list-as-of-underflow": ("/api/events", {"as_of": UNDERFLOW}),
    "list-as-of-overflow": ("/api/events", {"as_of": OVERFLOW}),
    "event-as-of-underflow": ("/api/events/{id}", {"as_of": UNDERFLOW}),
    "event-as-of-overflow": ("/api/events/{id}", {"as_of": OVERFLOW}),
    "expand-9999": ("/api/events", {"start_time": YEAR_9999, "expand": "true"}),
    "expand-1970-to-9999": (
        "/api/events",
        {"start_time": "1970-01-01T00:00:00Z", "end_time": YEAR_9999, "expand": "true"},
    ),
    "list-as-of-year-1": ("/api/events", {"as_of": YEAR_1}),
    "list-as-of-9999": ("/api/events", {"as_of": YEAR_9999}),
    "event-as-of-9999": ("/api/events/{id}", {"as_of": YEAR_9999}),
    "occurrences-underflow": ("/api/events/{id}/occurrences", {"start_time": UNDERFLOW}),
    "occurrences-to-9999": ("/api/events/{id}/occurrences", {"end_time": YEAR_9999}),
    "occurrences-from-9999": ("/api/events/{id}/occurrences", {"start_time": YEAR_9999}),
    "occurrences-from-year-1": ("/api/events/{id}/occurrences", {"start_time": YEAR_1}),
    "occurrences-year-1-to-1970": (
        "/api/events/{id}/occurrences",
        {"start_time": YEAR_1, "end_time": "1970-01-01T00:00:00Z"},
    ),
    "expand-year-1-to-9999": (
        "/api/events",
        {"start_time": YEAR_1, "end_time": YEAR_9999, "expand": "true"},
    ),
}
PROBES = [pytest.param(path, query, id=name) for name, (path, query) in WINDOW_PROBES.items()]


@pytest.mark.parametrize(("path", "query"), PROBES)
async def test_extreme_query_instants_are_not_500(
    client: httpx.AsyncClient, owner: Actor, make_event: Any, path: str, query: dict[str, str]
) -> None:
    created = await make_event(owner, recurrence_pattern="FREQ=DAILY")
    url = path.format(id=created["id"])
    response = await guarded(client.get(url, params=query, headers=owner.headers))
    assert response.status_code < 500, f"{url} {query}: {response.text[:300]}"
    if response.status_code >= 400:
        assert_problem(response, response.status_code)


# --- integers ----------------------------------------------------------------------------

BIG = {"int32+1": 2**31, "int64+1": 2**63, "int128": 2**127}


def _cursor(*parts: Any) -> str:
    """A cursor as the server encodes them (json: orjson cannot hold 128-bit integers)."""
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


def _integer_probes(n: int) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, url, request kwargs) that carry ``n`` where an id, version or cursor goes."""
    event = {"start_time": "2026-01-05T09:00:00Z", "end_time": "2026-01-05T09:30:00Z"}
    return [
        ("GET", f"/api/events/{n}", {}),
        ("PUT", f"/api/events/{n}", {"json": {"title": "x"}}),
        ("DELETE", f"/api/events/{n}", {}),
        ("GET", f"/api/events/{n}/history", {}),
        ("GET", "/api/events/1/history/" + str(n), {}),
        ("GET", f"/api/events/1/diff/1/{n}", {}),
        ("POST", f"/api/events/1/rollback/{n}", {}),
        ("PUT", f"/api/events/1/permissions/{n}", {"json": {"role": "editor"}}),
        ("DELETE", f"/api/events/1/permissions/{n}", {}),
        ("POST", f"/api/notifications/{n}/read", {}),
        ("PUT", "/api/events/1", {"json": {"title": "y", "version": n}}),
        ("POST", "/api/events/1/share", {"json": {"users": [{"user_id": n, "role": "viewer"}]}}),
        ("POST", "/api/events/conflicts", {"json": {**event, "exclude_event_id": n}}),
        ("POST", "/api/transactions", {"json": {"operations": [{"op": "delete", "event_id": n}]}}),
        ("GET", "/api/notifications", {"params": {"cursor": _cursor(n)}}),
        ("GET", "/api/audit", {"params": {"cursor": _cursor(n)}}),
        ("GET", "/api/events/1/history", {"params": {"cursor": _cursor(n)}}),
        ("GET", "/api/events/1/changelog", {"params": {"cursor": _cursor(n)}}),
        ("GET", "/api/events", {"params": {"cursor": _cursor("2026-01-01T00:00:00Z", n)}}),
        ("GET", "/api/sync", {"params": {"cursor": _cursor(n)}}),
        ("GET", "/api/events", {"params": {"skip": n}}),
    ]


@pytest.mark.parametrize("n", BIG.values(), ids=list(BIG))
async def test_out_of_range_integers_are_4xx(
    client: httpx.AsyncClient, owner: Actor, make_event: Any, n: int
) -> None:
    await make_event(owner)
    for method, url, kwargs in _integer_probes(n):
        response = await guarded(client.request(method, url, headers=owner.headers, **kwargs))
        assert response.status_code < 500, f"{method} {url} {kwargs}: {response.text[:300]}"
        if response.status_code >= 400:
            assert_problem(response, response.status_code)


# --- unicode -----------------------------------------------------------------------------

UNICODE = {
    "nul": "a\u0000b",
    "rtl-override": "invoice\u202egnp.exe",
    "emoji-zwj": "👩‍👩‍👧‍👦 🏳️‍🌈 👍🏽",
    "combining": "e\u0301\u0301\u0301 Z\u0324\u0354\u0367\u0311\u0313",
    "bom": "\ufeffBOM",
    "noncharacters": "\ufffe\uffff",
    "astral": "𝕳𝖊𝖑𝖑𝖔 \U0010fffd",
    "separators": "a\u2028b\u2029c",
    "controls": "\x01\x1b[31m\x7f",
    "cjk": "日本語のテキスト",
}


@pytest.mark.parametrize("text", UNICODE.values(), ids=list(UNICODE))
@pytest.mark.parametrize("fmt", ["json", "msgpack"])
async def test_unicode_is_kept_exactly_or_refused(
    client: httpx.AsyncClient, owner: Actor, text: str, fmt: str
) -> None:
    body = event(title=f"T{text}", description=text, location=text)
    if fmt == "json":
        response = await guarded(client.post("/api/events", json=body, headers=owner.headers))
        read = response.json() if response.status_code == 201 else None
    else:
        response = await post_raw(client, owner, "/api/events", ormsgpack.packb(body), MSGPACK)
        read = ormsgpack.unpackb(response.content) if response.status_code == 201 else None
    if read is None:
        assert_problem(response, 422)
        return
    assert response.status_code == 201
    assert (read["title"], read["description"], read["location"]) == (f"T{text}", text, text)
    fetched = (await client.get(f"/api/events/{read['id']}", headers=owner.headers)).json()
    assert (fetched["title"], fetched["description"]) == (f"T{text}", text)
    search = await guarded(client.get("/api/events", params={"q": text}, headers=owner.headers))
    assert search.status_code in (200, 422), search.text[:300]


@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "\\ud800\\u0041", "\\udc00\\ud800"])
async def test_lone_surrogates_are_422(
    client: httpx.AsyncClient, owner: Actor, escape: str
) -> None:
    raw = orjson.dumps(event(title="PLACEHOLDER")).replace(b"PLACEHOLDER", escape.encode())
    response = await post_raw(client, owner, "/api/events", raw, JSON)
    assert_problem(response, 422)


@pytest.mark.parametrize("text", UNICODE.values(), ids=list(UNICODE))
async def test_unicode_in_query_strings_is_not_500(
    client: httpx.AsyncClient, owner: Actor, text: str
) -> None:
    for path in ("/api/events", "/api/users"):
        response = await guarded(client.get(path, params={"q": text}, headers=owner.headers))
        assert response.status_code in (200, 422), f"{path}: {response.text[:300]}"


async def test_invalid_utf8_json_is_a_4xx_problem(client: httpx.AsyncClient, owner: Actor) -> None:
    raw = orjson.dumps(event()).replace(b"Limits", b"\xff\xfe\xfd")
    assert_client_error(await post_raw(client, owner, "/api/events", raw, JSON))


# --- injection ---------------------------------------------------------------------------

SQL = [
    "'; DROP TABLE event; --",
    '" OR "1"="1',
    "1' OR '1'='1' --",
    "%' UNION SELECT password_hash FROM user_account --",
    "$$; SELECT pg_sleep(10); $$",
    "\\",
    "%",
    "_",
]


@pytest.mark.parametrize("text", SQL, ids=range(len(SQL)))
async def test_sql_strings_are_stored_verbatim_and_searched_literally(
    client: httpx.AsyncClient, owner: Actor, make_event: Any, text: str
) -> None:
    await make_event(
        owner,
        title="Plain meeting",
        start_time="2026-02-01T09:00:00Z",
        end_time="2026-02-01T10:00:00Z",
    )
    created = await make_event(owner, title=f"S {text}", description=text, location=text)
    fetched = (await client.get(f"/api/events/{created['id']}", headers=owner.headers)).json()
    assert (fetched["title"], fetched["description"], fetched["location"]) == (
        f"S {text}",
        text,
        text,
    )
    found = await guarded(client.get("/api/events", params={"q": text}, headers=owner.headers))
    assert found.status_code == 200, found.text[:300]
    assert [e["id"] for e in found.json()["items"]] == [created["id"]]


@pytest.mark.parametrize("prefix", ["%", "_", "\\", "' OR '1'='1"])
async def test_user_search_treats_wildcards_literally(
    client: httpx.AsyncClient, owner: Actor, stranger: Actor, prefix: str
) -> None:
    response = await client.get("/api/users", params={"q": prefix}, headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []


async def test_sql_in_credentials_is_just_a_bad_login(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    for name in ("' OR '1'='1", "owner' --", "owner\u0000"):
        response = await client.post(
            "/api/auth/login", json={"username": name, "password": "' OR '1'='1"}
        )
        assert response.status_code in (401, 422), response.text
        assert_problem(response, response.status_code)


HTML = {
    "title": "<script>alert('t')</script>",
    "description": "<img src=x onerror=alert('d')>",
    "location": '"><svg onload=alert(1)>',
}


async def test_html_is_stored_verbatim_and_escaped_in_the_html_diff(
    client: httpx.AsyncClient, owner: Actor, make_event: Any
) -> None:
    created = await make_event(owner, **HTML)
    assert {k: created[k] for k in HTML} == HTML
    update = {k: v.replace("alert", "confirm") for k, v in HTML.items()}
    response = await client.put(f"/api/events/{created['id']}", json=update, headers=owner.headers)
    assert response.status_code == 200, response.text
    page = await client.get(
        f"/api/events/{created['id']}/diff/1/2", params={"format": "html"}, headers=owner.headers
    )
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for raw in (*HTML.values(), *update.values()):
        assert raw not in page.text
    assert "&lt;script&gt;" in page.text
    lowered = page.text.lower()
    assert "<script" not in lowered and "<img" not in lowered and "<svg" not in lowered
    as_json = await client.get(f"/api/events/{created['id']}/diff/1/2", headers=owner.headers)
    assert as_json.headers["content-type"].startswith("application/json")


async def test_an_id_past_32_bits_is_a_precise_422(client: httpx.AsyncClient, owner: Actor) -> None:
    """Ids are PostgreSQL INTEGERs: one that cannot exist is named as such, on every backend."""
    for url in ("/api/events/2147483648", "/api/events/1/history/2147483648"):
        response = await client.get(url, headers=owner.headers)
        assert_problem(response, 422, "validation-error")
        assert "must be at most 2147483647" in response.text
    assert (await client.get("/api/events/2147483647", headers=owner.headers)).status_code == 404
    schema = (await client.get("/openapi.json")).json()
    parameters = schema["paths"]["/api/events/{event_id}"]["get"]["parameters"]
    event_id = next(p for p in parameters if p["name"] == "event_id")
    assert event_id["schema"]["maximum"] == 2**31 - 1
