"""Atomic transactions: several event operations applied in the request's one transaction.

Each operation runs the service code of its endpoint (``events.service`` for update and
delete, ``events.sharing.share`` for share; consecutive creates go through
``events.batch.CreateRun``, with the validation, conflict check and records of
``events.creation.create_event``), so permissions, validation, scheduling conflicts,
versions, audit rows, feed rows and notifications are identical. The operations share the
request's session: a later operation sees what the earlier ones wrote (an update of a
just-created event, a time conflict with an event created two operations before). Nothing
here commits or rolls back: a failing operation raises, the error names its index, and the
unit of work rolls the whole request back (after-commit publishes included).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from calendo.calendar.recurrence import Series
from calendo.core.cooperative import Pacer
from calendo.core.errors import AppError, ItemList, ValidationFailed
from calendo.events import access, creation, sharing
from calendo.events import service as events
from calendo.events.batch import CreateRun
from calendo.events.presenters import event_body
from calendo.transactions.schemas import (
    OPERATION_KINDS,
    CreateOperation,
    DeleteOperation,
    Operation,
    ShareOperation,
    TargetedOperation,
    UpdateOperation,
)

# A transaction's problems name the failing operation: ``operation 3: ...``.
OPERATIONS = ItemList(field="operations", label="operation", tags=OPERATION_KINDS)


async def run_transaction(
    session: AsyncSession, *, ctx: events.WriteContext, operations: Sequence[Operation]
) -> list[Any]:
    """Apply every operation in order and return their results; the first error aborts all.

    The locks come first, in the global order (``events.access.lock_events``): two
    transactions naming the same events in opposite orders then queue instead of deadlocking.
    Consecutive creates run as the batch does (``_create_run``): one read of the calendar, the
    writes grouped. Between steps the loop is handed back (``core.cooperative``): on SQLite,
    which runs inline, 100 operations would otherwise hold every other request for their whole
    length. Other writers wait in the writer queue meanwhile, never in SQLite's busy handler.
    """
    named = [op.event_id for op in operations if isinstance(op, TargetedOperation)]
    await access.lock_events(
        session, user_id=ctx.actor.id, event_ids=[i for i in named if i is not None]
    )
    created: dict[int, int] = {}
    results: list[Any] = []
    pacer = Pacer()
    index = 0
    while index < len(operations):
        await pacer.tick()
        creates = _creates_from(operations, index)
        if creates:
            written = await _create_run(session, ctx, creates, first=index, pacer=pacer)
            for offset, item in enumerate(written):
                created[index + offset] = item.event.id
                results.append(_written(item))
            index += len(creates)
            continue
        operation = operations[index]
        assert isinstance(operation, TargetedOperation)
        try:
            event_id = _target(operation, created)
        except AppError as exc:
            raise OPERATIONS.name(exc, index) from exc
        try:
            results.append(await _apply(session, ctx, operation, event_id))
        except AppError as exc:
            # An update's service-level errors are about its changes.
            within = "changes" if isinstance(operation, UpdateOperation) else None
            raise OPERATIONS.name(exc, index, within=within) from exc
        index += 1
    return results


def _creates_from(operations: Sequence[Operation], index: int) -> list[CreateOperation]:
    """The create operations from ``index`` up to the next other operation."""
    creates = []
    for operation in operations[index:]:
        if not isinstance(operation, CreateOperation):
            break
        creates.append(operation)
    return creates


async def _create_run(
    session: AsyncSession,
    ctx: events.WriteContext,
    creates: Sequence[CreateOperation],
    *,
    first: int,
    pacer: Pacer,
) -> list[events.Written]:
    """Consecutive create operations (``first`` the index of the first), with the results
    and errors each would have on its own: each is validated and conflict-checked in turn,
    against the calendar and the events created before it. On an error, the events before
    the failing one are written first, so that its conflicts name them by id."""
    prepared: list[tuple[dict[str, Any], Series]] = []
    failure: tuple[int, AppError] | None = None
    for offset, operation in enumerate(creates):
        try:
            prepared.append(creation.prepare_create(operation.event, zone=ctx.actor.timezone))
        except AppError as exc:
            failure = (first + offset, exc)
            break
        await pacer.tick()
    if not prepared:
        assert failure is not None
        raise OPERATIONS.name(failure[1], failure[0], within="event") from failure[1]
    run = await CreateRun.open(session, ctx=ctx, series=[s for _, s in prepared], pacer=pacer)
    for offset, (content, series) in enumerate(prepared):
        try:
            await run.place(content, series)
        except AppError as exc:
            failure = (first + offset, exc)  # before any validation error further on
            break
        await pacer.tick()
    notes = [operation.event.note for operation in creates[: len(run.rows)]]
    written = await run.write(notes, tags=(), pacer=pacer)
    if failure is not None:
        index, error = failure
        if "conflicts" in error.extra:
            error.extra["conflicts"] = run.named(error.extra["conflicts"])
        raise OPERATIONS.name(error, index, within="event") from error
    return written


async def _apply(
    session: AsyncSession,
    ctx: events.WriteContext,
    operation: TargetedOperation,
    event_id: int,
) -> Any:
    """An update, delete or share of event ``event_id``, through its endpoint's service
    function."""
    if isinstance(operation, UpdateOperation):
        edit = events.Edit(event_id=event_id, data=operation.changes, merge=operation.merge)
        written = await events.update_event(session, ctx=ctx, edit=edit)
        return _written(written)
    if isinstance(operation, DeleteOperation):
        await events.delete_event(session, ctx=ctx, event_id=event_id, note=operation.note)
        return {"event_id": event_id, "deleted": True}
    assert isinstance(operation, ShareOperation)
    return await sharing.share(
        session,
        actor=ctx.actor,
        services=ctx.services,
        ip=ctx.ip,
        event_id=event_id,
        targets=operation.users,
    )


def _written(written: events.Written) -> dict[str, Any]:
    return {**event_body(written.event, written.role), "conflicts": written.conflicts}


def _target(operation: TargetedOperation, created: Mapping[int, int]) -> int:
    """The event an operation names: its ``event_id``, or the event an earlier create made."""
    if operation.event_id is not None:
        return operation.event_id
    ref = operation.event_ref
    if ref is None or ref not in created:
        raise ValidationFailed(
            f"event_ref {ref} does not name an earlier create operation",
            loc=("body", "event_ref"),
        )
    return created[ref]


def invalid_operation(errors: Sequence[Mapping[str, Any]]) -> ValidationFailed | None:
    """The body validation errors of the first invalid operation, every one of them, as a
    problem naming it (None: no error points into an operation). ``loc`` is the JSON path of
    the bad value: the tag pydantic adds for the discriminated union is dropped."""
    return OPERATIONS.invalid_item(errors)
