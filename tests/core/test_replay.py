"""The bounded retry of a write the database aborted (``core.uow.TransientConflict``,
``core.replay``): replayed whole, nothing of a failed attempt kept, 503 when retries run out."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError

from calendo.core import replay
from calendo.core.uow import is_transient
from calendo.events import repository
from tests.helpers import Actor, assert_problem


class _DriverError(Exception):
    """A driver error carrying a SQLSTATE, as asyncpg's (through SQLAlchemy's adapter) does."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def _aborted(sqlstate: str = "40P01") -> DBAPIError:
    return DBAPIError("UPDATE event ...", {}, _DriverError(sqlstate))


def _sqlite_error(name: str) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError("database is locked")
    error.sqlite_errorname = name  # type: ignore[attr-defined]
    return error


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (_aborted("40P01"), True),  # deadlock_detected
        (_aborted("40001"), True),  # serialization_failure
        (_aborted("23505"), False),  # unique_violation: a real answer, not a retry
        (DBAPIError("BEGIN IMMEDIATE", {}, _sqlite_error("SQLITE_BUSY")), True),
        (IntegrityError("INSERT", {}, _sqlite_error("SQLITE_CONSTRAINT_UNIQUE")), False),
        (ValueError("not a database error"), False),
    ],
)
def test_which_errors_are_transient(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


def _fail_first(monkeypatch: pytest.MonkeyPatch, failures: int) -> Callable[[], int]:
    """Make the first ``failures`` event writes abort as a deadlock; return the call count."""
    real = repository.run_steps
    calls = 0

    async def flaky(session: Any, steps: Any) -> None:
        nonlocal calls
        calls += 1
        if calls <= failures:
            raise _aborted()
        await real(session, steps)

    monkeypatch.setattr(repository, "run_steps", flaky)
    return lambda: calls


async def test_an_aborted_write_is_replayed_once_and_written_once(
    client: httpx.AsyncClient,
    owner: Actor,
    editor: Actor,
    shared_event: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(replay, "BASE_DELAY", 0.001)
    calls = _fail_first(monkeypatch, failures=2)
    url = f"/api/events/{shared_event['id']}"
    response = await client.patch(url, json={"title": "Renamed"}, headers=owner.headers)
    assert response.status_code == 200, response.text
    assert (response.json()["title"], response.json()["version"]) == ("Renamed", 2)
    assert calls() == 3
    history = (await client.get(f"{url}/history", headers=owner.headers)).json()["items"]
    assert [v["version"] for v in history] == [2, 1]
    # The failed attempts notified no one: the editor has one update notification.
    notes = (await client.get("/api/notifications", headers=editor.headers)).json()["items"]
    assert [n["type"] for n in notes].count("event_updated") == 1


async def test_retries_that_run_out_answer_503_and_write_nothing(
    client: httpx.AsyncClient,
    owner: Actor,
    make_event: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(replay, "BASE_DELAY", 0.001)
    event = await make_event(owner)
    calls = _fail_first(monkeypatch, failures=1000)
    url = f"/api/events/{event['id']}"
    response = await client.put(url, json={"title": "Never"}, headers=owner.headers)
    body = assert_problem(response, 503, "service-unavailable")
    assert response.headers["retry-after"] == str(replay.RETRY_AFTER_SECONDS)
    assert "nothing was written" in body["detail"]
    assert calls() == replay.ATTEMPTS
    current = (await client.get(url, headers=owner.headers)).json()
    assert (current["title"], current["version"]) == (event["title"], 1)


async def test_a_replayed_msgpack_body_is_read_again(
    client: httpx.AsyncClient, owner: Actor, make_event: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The replay hands the route the same body (here decoded from MessagePack) each time."""
    import ormsgpack

    monkeypatch.setattr(replay, "BASE_DELAY", 0.001)
    event = await make_event(owner)
    _fail_first(monkeypatch, failures=1)
    response = await client.patch(
        f"/api/events/{event['id']}",
        content=ormsgpack.packb({"title": "Packed"}),
        headers={**owner.headers, "content-type": "application/msgpack"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["title"] == "Packed"
