"""The calendar list (window, text, role, order, paging, expand) and series occurrences."""

from __future__ import annotations

import time
from typing import Any

import httpx

from calendo.core.pagination import encode_cursor
from tests.events.conftest import EventFactory, event_payload
from tests.helpers import Actor, assert_problem


async def list_events(client: httpx.AsyncClient, actor: Actor, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/events", params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def titles(client: httpx.AsyncClient, actor: Actor, **params: Any) -> list[str]:
    return [item["title"] for item in (await list_events(client, actor, **params))["items"]]


async def occurrences(
    client: httpx.AsyncClient, actor: Actor, event: dict[str, Any], **params: Any
) -> dict[str, Any]:
    response = await client.get(
        f"/api/events/{event['id']}/occurrences", params=params, headers=actor.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def starts(body: dict[str, Any]) -> list[str]:
    return [item["occurrence_start"] for item in body["items"]]


# --------------------------------------------------------------------------- recurrence


async def test_weekly_berlin_meeting_stays_at_nine_across_dst(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    event = await make_event(
        owner,
        title="Jour fixe",
        start_time="2026-03-16T09:00:00+01:00",
        end_time="2026-03-16T09:30:00+01:00",
        timezone="Europe/Berlin",
        recurrence_pattern="FREQ=WEEKLY;COUNT=4",
    )
    body = await occurrences(client, owner, event)
    assert body["event_id"] == event["id"]
    assert body["truncated"] is False
    expected = [
        "2026-03-16T08:00:00Z",
        "2026-03-23T08:00:00Z",
        "2026-03-30T07:00:00Z",  # CEST from 29 March: still 09:00 local
        "2026-04-06T07:00:00Z",
    ]
    assert starts(body) == expected
    assert [item["occurrence_end"] for item in body["items"]][2] == "2026-03-30T07:30:00Z"

    window = {"start_time": "2026-03-01T00:00:00Z", "end_time": "2026-05-01T00:00:00Z"}
    expanded = await list_events(client, owner, expand="true", **window)
    assert [item["occurrence_start"] for item in expanded["items"]] == expected
    assert all(item["id"] == event["id"] for item in expanded["items"])
    assert all(item["title"] == "Jour fixe" for item in expanded["items"])


async def test_new_york_series_follows_local_time(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    event = await make_event(
        owner,
        start_time="2026-03-02T09:00:00-05:00",
        end_time="2026-03-02T10:00:00-05:00",
        timezone="America/New_York",
        recurrence_pattern="FREQ=WEEKLY;BYDAY=MO",
    )
    body = await occurrences(
        client, owner, event, start_time="2026-03-01T00:00:00Z", end_time="2026-03-17T00:00:00Z"
    )
    assert starts(body) == [
        "2026-03-02T14:00:00Z",
        "2026-03-09T13:00:00Z",  # EDT from 8 March
        "2026-03-16T13:00:00Z",
    ]


async def test_monthly_on_the_31st_skips_short_months(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    event = await make_event(
        owner,
        start_time="2026-01-31T10:00:00Z",
        end_time="2026-01-31T11:00:00Z",
        recurrence_pattern="FREQ=MONTHLY;BYMONTHDAY=31;COUNT=4",
    )
    body = await occurrences(client, owner, event)
    assert starts(body) == [
        "2026-01-31T10:00:00Z",
        "2026-03-31T10:00:00Z",
        "2026-05-31T10:00:00Z",
        "2026-07-31T10:00:00Z",
    ]


async def test_exdate_removes_an_occurrence(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    event = await make_event(
        owner,
        recurrence_pattern="FREQ=DAILY;COUNT=4",
        recurrence_exceptions=["2026-03-21T10:00:00Z"],
    )
    body = await occurrences(client, owner, event)
    assert starts(body) == ["2026-03-20T10:00:00Z", "2026-03-22T10:00:00Z", "2026-03-23T10:00:00Z"]

    window = {"start_time": "2026-03-21T00:00:00Z", "end_time": "2026-03-22T00:00:00Z"}
    assert await titles(client, owner, **window) == []


async def test_open_ended_rule_is_truncated_quickly(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    event = await make_event(owner, recurrence_pattern="FREQ=DAILY")
    began = time.perf_counter()
    body = await occurrences(
        client, owner, event, start_time="1900-01-01T00:00:00Z", end_time="9999-12-31T00:00:00Z"
    )
    assert time.perf_counter() - began < 5
    assert body["truncated"] is True
    assert len(body["items"]) == 1000
    assert body["items"][0]["occurrence_start"] == "2026-03-20T10:00:00Z"

    limited = await occurrences(
        client,
        owner,
        event,
        start_time="2027-01-01T00:00:00Z",
        end_time="2200-01-01T00:00:00Z",
        limit=3,
    )
    assert starts(limited) == [
        "2027-01-01T10:00:00Z",
        "2027-01-02T10:00:00Z",
        "2027-01-03T10:00:00Z",
    ]
    assert limited["truncated"] is True

    default = await occurrences(client, owner, event)
    assert len(default["items"]) == 366
    assert default["truncated"] is False


async def test_occurrences_of_a_single_event_and_bad_windows(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    event = await make_event(owner)
    body = await occurrences(client, owner, event)
    assert body["items"] == [
        {"occurrence_start": "2026-03-20T10:00:00Z", "occurrence_end": "2026-03-20T10:30:00Z"}
    ]
    outside = await occurrences(
        client, owner, event, start_time="2026-03-21T00:00:00Z", end_time="2026-03-22T00:00:00Z"
    )
    assert outside["items"] == []
    path = f"/api/events/{event['id']}/occurrences"
    for params in (
        {"start_time": "2026-03-22T00:00:00Z", "end_time": "2026-03-21T00:00:00Z"},
        {"start_time": "2026-03-22T00:00:00"},
        {"limit": 0},
        {"limit": 5001},
        {"start_time": "0001-01-01T00:00:00+01:00"},
        {"end_time": "9999-12-31T23:59:59-01:00"},
    ):
        response = await client.get(path, params=params, headers=owner.headers)
        assert_problem(response, 422)


# --------------------------------------------------------------------------- window


async def test_window_matches_any_overlapping_occurrence(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    # Mondays 10:00-11:00 from 2 March; the window is a later Monday or a later Tuesday.
    await make_event(
        owner,
        title="Weekly",
        start_time="2026-03-02T10:00:00Z",
        end_time="2026-03-02T11:00:00Z",
        recurrence_pattern="FREQ=WEEKLY;BYDAY=MO",
    )
    monday = {"start_time": "2026-03-16T00:00:00Z", "end_time": "2026-03-17T00:00:00Z"}
    assert await titles(client, owner, **monday) == ["Weekly"]
    tuesday = {"start_time": "2026-03-17T00:00:00Z", "end_time": "2026-03-18T00:00:00Z"}
    assert await titles(client, owner, **tuesday) == []
    before = {"start_time": "2026-02-01T00:00:00Z", "end_time": "2026-03-01T00:00:00Z"}
    assert await titles(client, owner, **before) == []


async def test_touching_windows_do_not_match(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    await make_event(owner)  # 10:00-10:30
    after = {"start_time": "2026-03-20T10:30:00Z", "end_time": "2026-03-20T12:00:00Z"}
    before = {"start_time": "2026-03-20T09:00:00Z", "end_time": "2026-03-20T10:00:00Z"}
    inside = {"start_time": "2026-03-20T10:29:59Z", "end_time": "2026-03-20T12:00:00Z"}
    assert await titles(client, owner, **after) == []
    assert await titles(client, owner, **before) == []
    assert await titles(client, owner, **inside) == ["Standup"]
    assert await titles(client, owner, start_time="2026-03-20T10:30:00Z") == []
    assert await titles(client, owner, end_time="2026-03-20T10:00:01Z") == ["Standup"]


async def test_bad_windows_are_422(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    await make_event(owner, recurrence_pattern="FREQ=DAILY")
    for params in (
        {"start_time": "2026-04-02T00:00:00Z", "end_time": "2026-04-01T00:00:00Z"},
        {"start_time": "2026-04-01T00:00:00Z", "end_time": "2026-04-01T00:00:00Z"},
        {"start_time": "2026-04-01T00:00:00"},
        {"start_time": "0001-01-01T00:00:00+01:00"},
        {"end_time": "9999-12-31T23:59:59-01:00"},
    ):
        for expand in ("false", "true"):
            response = await client.get(
                "/api/events", params={**params, "expand": expand}, headers=owner.headers
            )
            assert_problem(response, 422)


# --------------------------------------------------------------------------- filters and order


async def test_text_search_is_case_insensitive_and_literal(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    await make_event(owner, title="Quarterly REVIEW")
    await make_event(owner, title="Lunch", description="review the menu")
    await make_event(owner, title="Walk", location="Review park")
    await make_event(owner, title="100% done")
    await make_event(owner, title="100 percent")
    await make_event(owner, title="a_b")
    await make_event(owner, title="axb")
    await make_event(owner, title="back\\slash")

    assert sorted(await titles(client, owner, q="review")) == ["Lunch", "Quarterly REVIEW", "Walk"]
    assert await titles(client, owner, q="100%") == ["100% done"]
    assert await titles(client, owner, q="a_b") == ["a_b"]
    assert await titles(client, owner, q="%") == ["100% done"]
    assert await titles(client, owner, q="k\\s") == ["back\\slash"]
    assert await titles(client, owner, q="nothing like it") == []


async def test_role_filter_and_visibility(
    client: httpx.AsyncClient,
    make_event: EventFactory,
    shared_event: dict[str, Any],
    owner: Actor,
    editor: Actor,
    viewer: Actor,
    stranger: Actor,
) -> None:
    own = await make_event(editor, title="Editor's own")
    editor_all = await list_events(client, editor)
    assert {item["id"]: item["my_role"] for item in editor_all["items"]} == {
        shared_event["id"]: "editor",
        own["id"]: "owner",
    }
    assert await titles(client, editor, role="owner") == ["Editor's own"]
    assert await titles(client, editor, role="editor") == ["Standup"]
    assert await titles(client, editor, role="viewer") == []
    assert await titles(client, viewer, role="viewer") == ["Standup"]
    assert await titles(client, owner) == ["Standup"]
    assert await titles(client, stranger) == []
    assert_problem(
        await client.get("/api/events", params={"role": "admin"}, headers=owner.headers), 422
    )


async def test_sorted_by_start_then_id(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    late = await make_event(
        owner, title="late", start_time="2026-03-21T10:00:00Z", end_time="2026-03-21T11:00:00Z"
    )
    first = await make_event(owner, title="tie-1")
    second = await make_event(owner, title="tie-2")
    early = await make_event(
        owner, title="early", start_time="2026-03-19T10:00:00Z", end_time="2026-03-19T11:00:00Z"
    )
    body = await list_events(client, owner)
    assert [item["id"] for item in body["items"]] == [
        early["id"],
        first["id"],
        second["id"],
        late["id"],
    ]
    assert body["next_cursor"] is None


async def test_cursor_paging_walks_every_item_once(client: httpx.AsyncClient, owner: Actor) -> None:
    events = [
        event_payload(
            title=f"e{i}",
            start_time=f"2026-04-{1 + i % 5:02d}T{8 + i % 3:02d}:00:00Z",
            end_time=f"2026-04-{1 + i % 5:02d}T{8 + i % 3:02d}:30:00Z",
        )
        for i in range(30)
    ]
    # Series whose bounds overlap the window but with no occurrence inside it, sorted first:
    # more than one internal fetch chunk (100 rows) must be skipped.
    events += [
        event_payload(
            title=f"miss{i}",
            start_time="2026-03-01T10:00:00Z",
            end_time="2026-03-01T11:00:00Z",
            recurrence_pattern="FREQ=YEARLY",
        )
        for i in range(105)
    ]
    for chunk in (events[:100], events[100:]):
        created = await client.post(
            "/api/events/batch",
            json={"events": chunk},
            params={"conflict_strategy": "allow"},
            headers=owner.headers,
        )
        assert created.status_code == 201, created.text
    window = {"start_time": "2026-04-01T00:00:00Z", "end_time": "2026-05-01T00:00:00Z"}

    seen: list[dict[str, Any]] = []
    cursor = None
    for _ in range(20):
        params: dict[str, Any] = {"limit": 4, **window}
        if cursor:
            params["cursor"] = cursor
        page = await list_events(client, owner, **params)
        assert len(page["items"]) <= 4
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(item["title"] for item in seen) == sorted(f"e{i}" for i in range(30))
    keys = [(item["start_time"], item["id"]) for item in seen]
    assert keys == sorted(keys)
    assert len(set(keys)) == 30

    whole = await list_events(client, owner, limit=200, **window)
    assert len(whole["items"]) == 30
    assert whole["next_cursor"] is None


async def test_skip_is_a_legacy_offset(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    for hour in range(10, 15):
        await make_event(
            owner,
            title=f"h{hour}",
            start_time=f"2026-03-20T{hour}:00:00Z",
            end_time=f"2026-03-20T{hour}:30:00Z",
        )
    assert await titles(client, owner, skip=2) == ["h12", "h13", "h14"]
    page = await list_events(client, owner, skip=1, limit=2)
    assert [item["title"] for item in page["items"]] == ["h11", "h12"]
    assert page["next_cursor"] is not None
    rest = await list_events(client, owner, cursor=page["next_cursor"])
    assert [item["title"] for item in rest["items"]] == ["h13", "h14"]
    assert await titles(client, owner, skip=5) == []
    assert_problem(await client.get("/api/events", params={"skip": -1}, headers=owner.headers), 422)


BAD_PAGING: list[dict[str, Any]] = [
    {"limit": 201},
    {"limit": 0},
    {"limit": "many"},
    {"cursor": "!!not a cursor!!"},
    {"cursor": "bm9wZQ"},
    {"cursor": encode_cursor("yesterday", 3)},
    {"cursor": encode_cursor("2026-03-20T10:00:00Z")},
    {"cursor": encode_cursor("2026-03-20T10:00:00Z", "x")},
    {"cursor": encode_cursor(None, 1)},
    {"cursor": encode_cursor("9999-12-31T23:59:59-01:00", 1)},
    {"cursor": "x" * 600},
]


async def test_bad_paging_parameters_are_422(client: httpx.AsyncClient, owner: Actor) -> None:
    window = {"start_time": "2026-03-01T00:00:00Z", "end_time": "2026-04-01T00:00:00Z"}
    for params in BAD_PAGING:
        response = await client.get("/api/events", params=params, headers=owner.headers)
        assert_problem(response, 422)
        expanded = {**params, "expand": "true", **window}
        assert_problem(await client.get("/api/events", params=expanded, headers=owner.headers), 422)


async def test_expand_gives_one_item_per_occurrence(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    series = await make_event(
        owner,
        title="Daily",
        start_time="2026-03-20T09:00:00Z",
        end_time="2026-03-20T09:15:00Z",
        recurrence_pattern="FREQ=DAILY;COUNT=3",
    )
    single = await make_event(
        owner, title="Single", start_time="2026-03-21T08:00:00Z", end_time="2026-03-21T08:30:00Z"
    )
    window = {"start_time": "2026-03-20T00:00:00Z", "end_time": "2026-03-23T00:00:00Z"}
    body = await list_events(client, owner, expand="true", **window)
    items = body["items"]
    assert [(item["title"], item["occurrence_start"]) for item in items] == [
        ("Daily", "2026-03-20T09:00:00Z"),
        ("Single", "2026-03-21T08:00:00Z"),
        ("Daily", "2026-03-21T09:00:00Z"),
        ("Daily", "2026-03-22T09:00:00Z"),
    ]
    assert items[0]["occurrence_end"] == "2026-03-20T09:15:00Z"
    assert items[0]["id"] == series["id"] and items[1]["id"] == single["id"]
    assert items[0]["my_role"] == "owner" and items[0]["version"] == 1

    walked: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"expand": "true", "limit": 3, **window}
        if cursor:
            params["cursor"] = cursor
        page = await list_events(client, owner, **params)
        walked += [item["occurrence_start"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == [item["occurrence_start"] for item in items]

    for params in ({}, {"start_time": window["start_time"]}, {"end_time": window["end_time"]}):
        response = await client.get(
            "/api/events", params={"expand": "true", **params}, headers=owner.headers
        )
        assert_problem(response, 422)


async def test_expanded_paging_reaches_past_the_expansion_cap(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    await make_event(owner, title="Daily", recurrence_pattern="FREQ=DAILY")
    window = {"start_time": "2026-01-01T00:00:00Z", "end_time": "2030-01-01T00:00:00Z"}
    seen: list[str] = []
    cursor = None
    for _ in range(20):
        params: dict[str, Any] = {"expand": "true", "limit": 200, **window}
        if cursor:
            params["cursor"] = cursor
        page = await list_events(client, owner, **params)
        seen += [item["occurrence_start"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # 20 March 2026 to 31 December 2029, one a day.
    assert len(seen) == 1383
    assert len(set(seen)) == len(seen)
    assert seen[-1] == "2029-12-31T10:00:00Z"


async def test_a_single_event_has_no_exceptions(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    refused = await client.post(
        "/api/events",
        json=event_payload(recurrence_exceptions=["2026-03-20T10:00:00Z"]),
        headers=owner.headers,
    )
    assert_problem(refused, 422, "validation-error")

    event = await make_event(
        owner,
        recurrence_pattern="FREQ=DAILY;COUNT=3",
        recurrence_exceptions=["2026-03-21T10:00:00Z"],
    )
    single = await client.put(
        f"/api/events/{event['id']}", json={"is_recurring": False}, headers=owner.headers
    )
    assert single.status_code == 200, single.text
    assert single.json()["recurrence_exceptions"] == []
    body = await occurrences(client, owner, event)
    assert starts(body) == ["2026-03-20T10:00:00Z"]
    clash = await client.post("/api/events", json=event_payload(), headers=owner.headers)
    assert_problem(clash, 409, "schedule-conflict")


async def test_occurrence_windows_with_one_bound(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    finite = await make_event(owner, recurrence_pattern="FREQ=DAILY;COUNT=3")
    after = await occurrences(client, owner, finite, start_time="2027-01-01T00:00:00Z")
    assert after == {"event_id": finite["id"], "items": [], "truncated": False}
    before = await occurrences(client, owner, finite, end_time="2026-01-01T00:00:00Z")
    assert before["items"] == []
    tail = await occurrences(client, owner, finite, start_time="2026-03-21T12:00:00Z")
    assert starts(tail) == ["2026-03-22T10:00:00Z"]
    head = await occurrences(client, owner, finite, end_time="2026-03-21T10:00:01Z")
    assert starts(head) == ["2026-03-20T10:00:00Z", "2026-03-21T10:00:00Z"]

    endless = await make_event(owner, recurrence_pattern="FREQ=YEARLY")
    late = await occurrences(client, owner, endless, start_time="9999-06-01T00:00:00Z")
    assert late["items"] == []
    year = await occurrences(client, owner, endless, start_time="2030-01-01T00:00:00Z")
    assert starts(year) == ["2030-03-20T10:00:00Z"]


async def test_windows_at_the_ends_of_time(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    event = await make_event(owner, title="Daily", recurrence_pattern="FREQ=DAILY")
    wide = {"start_time": "0001-01-01T00:00:00Z", "end_time": "9999-12-31T23:59:59Z"}
    body = await occurrences(client, owner, event, **wide)
    assert body["truncated"] is True
    assert body["items"][0]["occurrence_start"] == "2026-03-20T10:00:00Z"
    early = await occurrences(
        client, owner, event, start_time="0001-01-01T00:00:00Z", end_time="1970-01-01T00:00:00Z"
    )
    assert early["items"] == []
    expanded = await list_events(client, owner, expand="true", limit=2, **wide)
    assert [item["occurrence_start"] for item in expanded["items"]] == [
        "2026-03-20T10:00:00Z",
        "2026-03-21T10:00:00Z",
    ]
    assert await titles(client, owner, **wide) == ["Daily"]
    assert await titles(client, owner, start_time="0001-01-01T00:00:00Z") == ["Daily"]


def test_calendar_columns_are_the_event_read_fields_in_order() -> None:
    """Calendar pages are built as dict(zip(columns, row)) without the response model: the
    columns and EventRead must name the same fields in the same order."""
    from calendo.events.repository import CALENDAR_COLUMNS
    from calendo.events.schemas import EventRead

    assert [column.key for column in CALENDAR_COLUMNS] == list(EventRead.model_fields)
