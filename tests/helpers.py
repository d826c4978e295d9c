"""Small factories shared by the tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from calendo.core import statements
from calendo.core.cooperative import Pacer

PROBLEM = "application/problem+json"


@dataclass
class Actor:
    id: int
    username: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def register(
    client: httpx.AsyncClient, username: str, password: str = "s3cret-pass"
) -> Actor:
    """Register a user through the API and return its tokens."""
    response = await client.post(
        "/api/auth/register",
        json={"username": username, "email": f"{username}@example.com", "password": password},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return Actor(
        id=body["user"]["id"],
        username=username,
        password=password,
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
    )


def assert_problem(
    response: httpx.Response, status: int, slug: str | None = None
) -> dict[str, Any]:
    """Check a problem+json response and return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail"} <= body.keys()
    if slug is not None:
        assert body["type"].endswith("/" + slug), body["type"]
    return body


class HandBacks:
    """Every ``Pacer.tick`` made to hand the loop back (one turn), and counted: tests of paced
    work count steps, never durations."""

    def __init__(self) -> None:
        self.count = 0

    @classmethod
    def install(cls, monkeypatch: pytest.MonkeyPatch) -> HandBacks:
        counted = cls()

        async def tick(self: Pacer) -> None:
            await asyncio.sleep(0)
            self.yields += 1
            counted.count += 1

        monkeypatch.setattr(Pacer, "tick", tick)
        return counted


@contextmanager
def each_statement(app: FastAPI, record: Callable[[str, bool], None]) -> Iterator[None]:
    """``record(sql, direct)`` for each SQL statement the app runs inside the block, on every
    engine (the unit of work's and the one of ``Database.reads``), on the path production
    runs: the engines' cursor events see what goes through ``Connection.execute``,
    ``statements.observing`` what goes driver-direct (``direct`` true)."""
    engines = app.state.services.db.sync_engines

    def through_engine(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        record(sql, False)

    def direct(_conn: Any, sql: str, *_args: Any) -> None:
        record(sql, True)

    for engine in engines:
        event.listen(engine, "before_cursor_execute", through_engine)
    try:
        with statements.observing(direct):
            yield
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", through_engine)
