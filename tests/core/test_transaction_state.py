"""``core.uow.TransactionState``: one typed state per transaction, dropped when it ends."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from calendo.core.db import Database
from calendo.core.uow import after_commit, transaction_state


async def test_hooks_run_once_after_commit_and_the_state_is_dropped(app: FastAPI) -> None:
    db: Database = app.state.services.db
    ran: list[str] = []

    async def hook() -> None:
        ran.append("published")

    async with db.write_session() as session:
        after_commit(session, hook)
        state = transaction_state(session)
        state.locked_calendars.add(7)
        state.commit_order_locked = True
        assert transaction_state(session) is state
        assert ran == []
    assert ran == ["published"]
    # The next transaction on the same session starts with nothing held and nothing queued.
    fresh = transaction_state(session)
    assert fresh is not state
    assert (
        fresh.after_commit == []
        and fresh.locked_calendars == set()
        and not fresh.commit_order_locked
    )


async def test_a_rolled_back_transaction_drops_its_hooks(app: FastAPI) -> None:
    db: Database = app.state.services.db
    ran: list[str] = []

    async def hook() -> None:
        ran.append("published")

    with pytest.raises(RuntimeError):
        async with db.write_session() as session:
            after_commit(session, hook)
            transaction_state(session).locked_calendars.add(7)
            raise RuntimeError("the request failed")
    assert ran == []
    assert transaction_state(session).locked_calendars == set()
