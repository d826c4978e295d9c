"""The write paths of a series never answer 5xx under concurrent load (PostgreSQL).

``test_lock_order.py`` races creates, edits, shares, deletes, restores and transactions. These
race the writes of a recurring series on one shared series (``owner`` and ``editor``): edits
and cancellations of one occurrence, splits ("this and following"), whole-series edits,
iCalendar re-imports of the series, rollbacks, batch creates, deletes and the undo of a split.
Each test asserts no 5xx, that each answer is one the API documents for its race (a target a
split moved or a delete removed is 404, a split point no longer in the series 422, an undo
after an edit 409), that every acknowledged write is a version (contiguous, one per write),
and that the series' occurrences are neither lost nor doubled. On PostgreSQL they also assert
that the replay (``core/replay.py``) ran nothing again: a deadlock between these writes is a
lock taken out of order (``docs/architecture.md``, "Lock order"), which the replay would hide.
On SQLite, whose writers are serialised, they pin the same answers.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from calendo.core import replay
from calendo.core.config import Settings
from calendo.events import access
from tests.conftest import make_settings
from tests.events.conftest import EventFactory
from tests.helpers import Actor, assert_problem, register
from tests.reliability.test_concurrency import assert_contiguous, gather, history

ROUNDS = 24
FIRST = datetime(2027, 1, 4, 10, tzinfo=UTC)  # the series: daily at 10:00 UTC from 4 Jan 2027
ALLOW = {"conflict_strategy": "allow"}
ICS = {"Content-Type": "text/calendar"}


def _at(day: int, first: datetime = FIRST) -> str:
    """The start of occurrence ``day`` (0 is the first) of a series starting at ``first``."""
    return (first + timedelta(days=day)).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Retries:
    """What the replay ran again (``core.replay``'s ``transaction_retried`` warnings)."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def warning(self, event: str, **fields: Any) -> None:
        self.seen.append({"event": event, **fields})

    def info(self, event: str, **fields: Any) -> None:  # pragma: no cover - not logged
        pass


@pytest.fixture(autouse=True)
def retries(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Retries]:
    """Every replayed request of the test; none may have been replayed."""
    recorder = _Retries()
    monkeypatch.setattr(replay, "log", recorder)
    yield recorder
    assert recorder.seen == [], [f"{r['path']}: {r['error']}" for r in recorder.seen]


@pytest.fixture
def settings(database_url: str, redis_url: str | None) -> Settings:
    """A pool as large as the parallel requests, so they meet at the locks, not the pool."""
    return make_settings(database_url, redis_url, db_pool_size=30)


async def _series(
    client: httpx.AsyncClient,
    make_event: EventFactory,
    owner: Actor,
    editor: Actor,
    *,
    count: int,
    first: datetime = FIRST,
) -> int:
    """A daily series of ``count`` half-hour occurrences of ``owner``, shared with
    ``editor`` as editor."""
    event = await make_event(
        owner,
        title="Series",
        start_time=_at(0, first),
        end_time=(first + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        recurrence_pattern=f"FREQ=DAILY;COUNT={count}",
    )
    shared = await client.post(
        f"/api/events/{event['id']}/share",
        json={"users": [{"user_id": editor.id, "role": "editor"}]},
        headers=owner.headers,
    )
    assert shared.status_code == 200, shared.text
    event_id: int = event["id"]
    return event_id


async def _occurrences(
    client: httpx.AsyncClient, actor: Actor, event_id: int
) -> list[dict[str, Any]]:
    response = await client.get(f"/api/events/{event_id}/occurrences", headers=actor.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["truncated"] is False
    items: list[dict[str, Any]] = body["items"]
    return items


def _starts(items: list[dict[str, Any]]) -> list[str]:
    return [_utc(item["occurrence_start"]) for item in items]


def _utc(value: str) -> str:
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _checked(responses: list[httpx.Response], allowed: dict[str, set[int]]) -> Counter[str]:
    """No 5xx (their bodies shown), and each answer one its kind may give: ``allowed`` maps
    a kind (the request's method and path shape) to its statuses. Returns the answers counted
    as ``"<kind> <status>"``."""
    server_errors = [
        f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text}"
        for r in responses
        if r.status_code >= 500
    ]
    assert not server_errors, server_errors
    seen: Counter[str] = Counter()
    for response in responses:
        kind = _kind(response.request)
        assert response.status_code in allowed[kind], (kind, response.status_code, response.text)
        seen[f"{kind} {response.status_code}"] += 1
    return seen


def _kind(request: httpx.Request) -> str:
    parts = request.url.path.removeprefix("/api/").split("/")
    shape = "/".join(p if not p[:1].isdigit() else "*" for p in parts[:4])
    return f"{request.method} {shape}"


async def _versions_of(
    client: httpx.AsyncClient, actor: Actor, event_id: int, acknowledged: list[int]
) -> list[dict[str, Any]]:
    """The event's history, contiguous, holding exactly version 1 and the ``acknowledged``
    ones (the versions 2xx answers named)."""
    versions = await history(client, actor, event_id)
    assert_contiguous(versions)
    assert sorted(acknowledged) == list(range(2, len(versions) + 1)), acknowledged
    return versions


def _consistent_family(families: list[list[str]], expected: list[str]) -> None:
    """Series split from one another: each holds a run of the original's occurrences, in
    order, the heads' ending before the tails start; together exactly ``expected``, none lost
    or doubled."""
    runs = sorted((starts for starts in families if starts), key=lambda starts: starts[0])
    for head, tail in itertools.pairwise(runs):
        assert head[-1] < tail[0], (head, tail)
    merged = [start for starts in runs for start in starts]
    assert merged == sorted(expected), merged


async def test_occurrence_edits_beside_splits_and_series_edits_never_fail(
    client: httpx.AsyncClient, owner: Actor, editor: Actor, make_event: EventFactory
) -> None:
    """The editor edits and cancels occurrences while the owner splits the series at several
    points, edits the whole series and creates batches."""
    count = 40
    series = await _series(client, make_event, owner, editor, count=count)
    before = _starts(await _occurrences(client, owner, series))
    assert before == [_at(d) for d in range(count)]
    url = f"/api/events/{series}"
    splits = [d for d in range(5, count, 5)]  # 5, 10, ... 35
    cancels = [d for d in range(count) if d % 5 == 3]
    edits = [d for d in range(1, count) if d % 5 in (1, 2)]
    calls = []
    plan: list[tuple[str, int]] = []
    for n in range(ROUNDS):
        if n < len(edits):
            day = edits[n]
            body = {"title": f"Edited {day}"}
            calls.append(
                client.patch(f"{url}/occurrences/{_at(day)}", json=body, headers=editor.headers)
            )
            plan.append(("edit", day))
        if n < len(cancels):
            day = cancels[n]
            calls.append(client.delete(f"{url}/occurrences/{_at(day)}", headers=editor.headers))
            plan.append(("cancel", day))
        if n < len(splits):
            day = splits[-1 - n] if n % 2 else splits[n // 2]
            body = {"recurrence_id": _at(day), "changes": {}}
            calls.append(
                client.post(f"{url}/split", json=body, headers=owner.headers, params=ALLOW)
            )
            plan.append(("split", day))
        if n % 3 == 0:
            calls.append(
                client.patch(url, json={"description": f"Round {n}"}, headers=owner.headers)
            )
            plan.append(("series", n))
        if n % 4 == 0:
            slot = (FIRST.replace(year=2028) + timedelta(days=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
            end = slot.replace("T10:", "T11:")
            batch = {"events": [{"title": f"Batch {n}", "start_time": slot, "end_time": end}]}
            calls.append(client.post("/api/events/batch", json=batch, headers=owner.headers))
            plan.append(("batch", n))
    responses = await gather(*calls)
    _checked(
        responses,
        {
            # An occurrence a split moved to the new series is not the old series' any more.
            "PATCH events/*/occurrences/*": {200, 404},
            "DELETE events/*/occurrences/*": {200, 404},
            # A point an earlier split took is no occurrence of the old series any more.
            "POST events/*/split": {201, 422},
            "PATCH events/*": {200},
            "POST events/batch": {201},
        },
    )
    acknowledged = []
    tails: dict[int, str] = {}
    for (what, day), response in zip(plan, responses, strict=True):
        if response.status_code == 201 and what == "split":
            body = response.json()
            acknowledged.append(body["series"]["version"])
            tails[body["new_series"]["id"]] = _at(day)
        elif response.status_code == 200:
            acknowledged.append(response.json()["version"])
    assert tails, "the first split to run always succeeds"
    await _versions_of(client, owner, series, acknowledged)
    # Each new series is one version, a split's, and starts at its split point.
    families = [await _occurrences(client, owner, series)]
    for tail, at in tails.items():
        versions = await _versions_of(client, owner, tail, [])
        assert len(versions) == 1
        items = await _occurrences(client, editor, tail)  # the editor keeps the share
        assert _starts(items)[0] == at
        families.append(items)
    cancelled = {
        _at(d)
        for (what, d), r in zip(plan, responses, strict=True)
        if what == "cancel" and r.status_code == 200
    }
    _consistent_family([_starts(f) for f in families], [s for s in before if s not in cancelled])
    # An acknowledged occurrence edit is on that occurrence, in whichever series holds it now.
    titles = {_utc(i["occurrence_start"]): i.get("title") for f in families for i in f}
    for (what, day), response in zip(plan, responses, strict=True):
        if what == "edit":
            edited = f"Edited {day}" if response.status_code == 200 else None
            assert titles[_at(day)] == edited, (day, response.status_code)
    listing = await client.get("/api/events", params={"limit": 100}, headers=owner.headers)
    batches = [t for t in (e["title"] for e in listing.json()["items"]) if t.startswith("Batch")]
    assert len(batches) == sum(1 for what, _ in plan if what == "batch")


async def test_reimports_beside_occurrence_edits_and_rollbacks_never_fail(
    client: httpx.AsyncClient, owner: Actor, editor: Actor, make_event: EventFactory
) -> None:
    """Calendo's own export of the series, modified and imported again (it updates the series
    by its UID) by the owner and the editor, while the editor edits and cancels occurrences
    and the owner rolls the series back to its first version."""
    count = 30
    series = await _series(client, make_event, owner, editor, count=count)
    url = f"/api/events/{series}"
    exported = await client.get(url, headers={**owner.headers, "Accept": "text/calendar"})
    assert exported.status_code == 200, exported.text
    assert b"SUMMARY:Series" in exported.content
    calls = []
    plan: list[tuple[str, int]] = []
    for n in range(ROUNDS):
        day = 1 + n
        if n % 2 == 0:
            body = {"title": f"Edited {day}"}
            calls.append(
                client.patch(f"{url}/occurrences/{_at(day)}", json=body, headers=editor.headers)
            )
            plan.append(("edit", day))
        else:
            calls.append(client.delete(f"{url}/occurrences/{_at(day)}", headers=editor.headers))
            plan.append(("cancel", day))
        if n % 3 == 0:
            importer = owner if n % 2 else editor
            text = exported.content.replace(b"SUMMARY:Series", f"SUMMARY:Imported {n}".encode())
            calls.append(
                client.post(
                    "/api/events/import",
                    content=text,
                    headers={**importer.headers, **ICS},
                    params=ALLOW,
                )
            )
            plan.append(("import", n))
        if n % 6 == 5:
            calls.append(client.post(f"{url}/rollback/1", headers=owner.headers, params=ALLOW))
            plan.append(("rollback", n))
    responses = await gather(*calls)
    _checked(
        responses,
        {
            # Neither an import nor a rollback changes the rule: every occurrence stays.
            "PATCH events/*/occurrences/*": {200},
            "DELETE events/*/occurrences/*": {200},
            "POST events/import": {200},
            "POST events/*/rollback/*": {200},
        },
    )
    acknowledged = []
    imports = 0
    for (what, _), response in zip(plan, responses, strict=True):
        body = response.json()
        if what == "import":
            # Each file differs from the series (its title): an update, never a new event.
            assert body["created"] == [] and body["refused"] == [], body
            assert [e["event_id"] for e in body["updated"]] == [series], body
            imports += 1
        else:
            acknowledged.append(body["version"])
    versions = await history(client, owner, series)
    assert_contiguous(versions)
    # Every write is a version: the imports' (which answer no version) among them.
    assert len(versions) == 1 + len(acknowledged) + imports
    assert set(acknowledged) <= {v["version"] for v in versions}
    rolled = [v["version"] for v in versions if v["action"] == "rolled_back"]
    assert len(rolled) == sum(1 for what, _ in plan if what == "rollback")
    # The series is its last version: no occurrence lost or doubled, whatever the order.
    last = (await client.get(f"{url}/history/{len(versions)}", headers=owner.headers)).json()
    current = (await client.get(url, headers=owner.headers)).json()
    snapshot = last["snapshot"]
    assert current["version"] == len(versions)
    for field in ("title", "recurrence_pattern", "recurrence_exceptions", "recurrence_overrides"):
        assert _normal(current[field]) == _normal(snapshot[field]), field
    excluded = {_utc(x) for x in snapshot["recurrence_exceptions"]}
    starts = _starts(await _occurrences(client, owner, series))
    assert starts == [_at(d) for d in range(count) if _at(d) not in excluded]


def _normal(value: Any) -> Any:
    """Times as UTC strings, wherever they are in ``value``."""
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, str) and len(value) >= 20 and value[4:5] == "-" and "T" in value:
        return _utc(value)
    return value


async def test_splits_of_one_series_at_every_point_never_fail(
    client: httpx.AsyncClient, owner: Actor, editor: Actor, make_event: EventFactory
) -> None:
    """The owner and the editor split the same series at each of its occurrences at once:
    each split either divides what is left of the series or finds its point gone (422)."""
    count = 30
    series = await _series(client, make_event, owner, editor, count=count)
    before = _starts(await _occurrences(client, owner, series))
    points = list(range(1, count))
    random.Random(5545).shuffle(points)
    url = f"/api/events/{series}/split"
    calls = []
    for n, day in enumerate(points):
        splitter = owner if n % 2 else editor
        body = {"recurrence_id": _at(day), "changes": {}}
        calls.append(client.post(url, json=body, headers=splitter.headers, params=ALLOW))
    responses = await gather(*calls)
    _checked(responses, {"POST events/*/split": {201, 422}})
    made = [r.json() for r in responses if r.status_code == 201]
    assert made
    for refused in (r for r in responses if r.status_code == 422):
        problem = assert_problem(refused, 422)
        assert problem["errors"][0]["loc"] == ["body", "recurrence_id"], problem
        assert "must be an occurrence of the series' rule" in str(problem["errors"]), problem
    await _versions_of(client, owner, series, [m["series"]["version"] for m in made])
    families = [_starts(await _occurrences(client, owner, series))]
    for split in made:
        tail = split["new_series"]["id"]
        assert len(await history(client, owner, tail)) == 1
        families.append(_starts(await _occurrences(client, editor, tail)))
        assert families[-1][0] == _utc(split["new_series"]["start_time"])
    _consistent_family(families, before)
    # The old series names every new one; each new one names it.
    head = (await client.get(f"/api/events/{series}", headers=owner.headers)).json()
    links = {r["event_id"] for r in head["related_events"] if r["relation"] == "split_into"}
    assert links == {m["new_series"]["id"] for m in made}


async def test_deletes_racing_splits_never_fail(
    client: httpx.AsyncClient, owner: Actor, editor: Actor, make_event: EventFactory
) -> None:
    """The owner deletes series the editor is splitting and editing: the split either comes
    first (its new series lives on) or finds the series deleted (404)."""
    rounds = ROUNDS // 2
    series = [
        await _series(
            client, make_event, owner, editor, count=8, first=FIRST + timedelta(days=20 * r)
        )
        for r in range(rounds)
    ]
    calls = []
    for r, event_id in enumerate(series):
        first = FIRST + timedelta(days=20 * r)
        url = f"/api/events/{event_id}"
        split = {"recurrence_id": _at(4, first), "changes": {}}
        edit = {"title": "Edited"}
        racers = [
            client.post(f"{url}/split", json=split, headers=editor.headers, params=ALLOW),
            client.delete(url, headers=owner.headers),
            client.patch(f"{url}/occurrences/{_at(2, first)}", json=edit, headers=editor.headers),
            client.patch(f"{url}/occurrences/{_at(6, first)}", json=edit, headers=editor.headers),
        ]
        calls.extend(racers if r % 2 else racers[::-1])
    responses = await gather(*calls)
    seen = _checked(
        responses,
        {
            "POST events/*/split": {201, 404},
            "DELETE events/*": {204},
            "PATCH events/*/occurrences/*": {200, 404},
        },
    )
    assert seen["DELETE events/* 204"] == rounds
    by_event: dict[int, list[httpx.Response]] = {e: [] for e in series}
    for response in responses:
        by_event[int(response.request.url.path.split("/")[3])].append(response)
    for r, event_id in enumerate(series):
        first = FIRST + timedelta(days=20 * r)
        answers = by_event[event_id]
        gone = await client.get(f"/api/events/{event_id}", headers=owner.headers)
        assert gone.status_code == 404, gone.text
        acknowledged = [a.json()["version"] for a in answers if a.status_code == 200]
        acknowledged += [a.json()["series"]["version"] for a in answers if a.status_code == 201]
        versions = await history(client, owner, event_id)
        assert_contiguous(versions)
        # The delete is the last version; every write acknowledged before it is in between.
        assert versions[-1]["action"] == "deleted"
        assert sorted(acknowledged) == list(range(2, len(versions))), acknowledged
        split = next(a for a in answers if "/split" in a.request.url.path)
        if split.status_code == 201:  # the new series outlives the deleted one
            tail = split.json()["new_series"]["id"]
            starts = _starts(await _occurrences(client, editor, tail))
            assert starts == [_at(d, first) for d in range(4, 8)]


@pytest.fixture
def held_after_locking(monkeypatch: pytest.MonkeyPatch) -> set[int]:
    """Events whose lock ``lock_event`` holds a moment longer before the write goes on: a
    writer that takes a second lock out of order then meets the writers that took it in
    order, every time, instead of once in many runs."""
    held: set[int] = set()
    lock_event = access.lock_event

    async def slower(session: Any, **kwargs: Any) -> access.WriteAccess:
        found = await lock_event(session, **kwargs)
        if kwargs["event_id"] in held:
            await asyncio.sleep(0.05)
        return found

    monkeypatch.setattr(access, "lock_event", slower)
    return held


async def test_undoing_splits_beside_transactions_on_both_series_never_fails(
    client: httpx.AsyncClient, make_event: EventFactory, held_after_locking: set[int]
) -> None:
    """The editor undoes splits while the owner updates both series of the split in one
    transaction (which locks them in id order, whatever order it names them in). The undo
    either comes first (the transaction then finds the new series deleted: 404) or after
    (the new series was edited: 409 ``split-not-undoable``). The new series' lock is held a
    moment longer, so an undo that locked it before the old series' would deadlock here.
    Each split has an owner and an editor of its own: one user's writes queue on their
    calendar lock, so two pairs of users never wait on each other."""
    rounds = ROUNDS // 3
    pairs = []
    users = []
    for r in range(rounds):
        owner, editor = await register(client, f"owner{r}"), await register(client, f"editor{r}")
        users.append((owner, editor))
        first = FIRST + timedelta(days=20 * r)
        head = await _series(client, make_event, owner, editor, count=8, first=first)
        split = await client.post(
            f"/api/events/{head}/split",
            json={"recurrence_id": _at(4, first), "changes": {}},
            headers=owner.headers,
            params=ALLOW,
        )
        assert split.status_code == 201, split.text
        pairs.append((head, split.json()["new_series"]["id"]))
    held_after_locking.update(tail for _, tail in pairs)
    calls = []
    for r, ((head, tail), (owner, editor)) in enumerate(zip(pairs, users, strict=True)):
        ids = [head, tail] if r % 2 else [tail, head]
        changes = {"description": f"Both {r}"}
        operations = [{"op": "update", "event_id": i, "changes": changes} for i in ids]
        body = {"operations": operations}
        racers = [
            client.post(f"/api/events/{tail}/split/undo", headers=editor.headers),
            client.post("/api/transactions", json=body, headers=owner.headers),
        ]
        calls.extend(racers if r % 2 else racers[::-1])
    responses = await gather(*calls)
    _checked(
        responses,
        {"POST events/*/split/undo": {200, 409}, "POST transactions": {200, 404}},
    )
    for r, ((head, tail), (owner, _)) in enumerate(zip(pairs, users, strict=True)):
        first = FIRST + timedelta(days=20 * r)
        pair = responses[2 * r : 2 * r + 2]
        undo, transaction = pair if r % 2 else pair[::-1]
        starts = _starts(await _occurrences(client, owner, head))
        read_tail = await client.get(f"/api/events/{tail}", headers=owner.headers)
        tail_versions = await history(client, owner, tail)
        assert_contiguous(tail_versions)
        if undo.status_code == 200:  # undone first: one series again, the new one deleted
            assert_problem(transaction, 404)
            assert read_tail.status_code == 404, read_tail.text
            assert starts == [_at(d, first) for d in range(8)]
            assert [v["action"] for v in tail_versions] == ["created", "deleted"]
        else:  # the transaction first: both edited, still split
            assert_problem(undo, 409, "split-not-undoable")
            assert transaction.status_code == 200, transaction.text
            assert read_tail.json()["description"] == f"Both {r}"
            assert starts == [_at(d, first) for d in range(4)]
            assert [v["action"] for v in tail_versions] == ["created", "updated"]
        head_versions = await history(client, owner, head)
        assert_contiguous(head_versions)
        assert [v["action"] for v in head_versions] == ["created", "updated", "updated"]
