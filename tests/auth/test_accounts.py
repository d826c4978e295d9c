"""Account settings and deletion: default time zone, password and email changes, deletion."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from calendo.auth.dependencies import authenticate
from calendo.auth.models import User
from tests.helpers import Actor


async def test_new_account_defaults_to_utc(client: httpx.AsyncClient, owner: Actor) -> None:
    me = await client.get("/api/auth/me", headers=owner.headers)
    assert me.status_code == 200
    assert me.json()["timezone"] == "UTC"


async def test_current_user_carries_the_stored_zone(app: FastAPI, owner: Actor) -> None:
    services = app.state.services
    async with services.db.write_sessions() as session, session.begin():
        user = (await session.scalars(select(User).where(User.id == owner.id))).one()
        user.timezone = "Europe/Berlin"
    caller = await authenticate(services.tokens, services.db.reads, owner.access_token)
    assert (caller.id, caller.username, caller.timezone) == (owner.id, "owner", "Europe/Berlin")
