"""``core.uow.run_steps``: Core statements in order, in the unit of work, in one pass."""

from __future__ import annotations

from functools import partial

import pytest
from fastapi import FastAPI
from sqlalchemy import bindparam, select, update

from calendo.auth.models import User
from calendo.core.db import Database
from calendo.core.errors import Conflict
from calendo.core.uow import Step, UnitOfWork, run_steps
from tests.helpers import Actor

_RENAME = (
    update(User)
    .where(User.id == bindparam("user_id"), User.username == bindparam("seen"))
    .values(username=bindparam("new"))
)
_NAME = select(User.username).where(User.id == bindparam("user_id"))


class Stale(Conflict):
    slug = "stale"
    title = "Stale"


async def test_steps_run_in_order_and_commit_with_the_unit_of_work(
    app: FastAPI, owner: Actor
) -> None:
    db: Database = app.state.services.db
    async with UnitOfWork.write(db) as session:
        await run_steps(
            session,
            [
                Step(_RENAME, {"user_id": owner.id, "seen": owner.username, "new": "first"}),
                # Runs after the first: it only matches the name the first one wrote.
                Step(_RENAME, {"user_id": owner.id, "seen": "first", "new": "second"}),
            ],
        )
    rows = await db.reads.all(_NAME, {"user_id": owner.id})
    assert [row.username for row in rows] == ["second"]


async def test_an_unmatched_step_raises_its_error_and_nothing_is_written(
    app: FastAPI, owner: Actor
) -> None:
    db: Database = app.state.services.db
    with pytest.raises(Stale):
        async with UnitOfWork.write(db) as session:
            await run_steps(
                session,
                [
                    Step(_RENAME, {"user_id": owner.id, "seen": owner.username, "new": "written"}),
                    Step(
                        _RENAME,
                        {"user_id": owner.id, "seen": "not-the-name", "new": "never"},
                        unmatched=partial(Stale, "the name changed"),
                    ),
                ],
            )
    rows = await db.reads.all(_NAME, {"user_id": owner.id})
    assert [row.username for row in rows] == [owner.username]
