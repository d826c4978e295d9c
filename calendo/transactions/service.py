"""Atomic transactions: several event operations applied in the request's one transaction.

Each operation calls the very service function of its endpoint (``events.service`` for
create, update and delete, ``sharing.service.share`` for share), so permissions, validation,
scheduling conflicts, versions, audit rows, feed rows and notifications are identical. The
operations share the request's session: a later operation sees what the earlier ones wrote
(an update of a just-created event, a time conflict with an event created two operations
before). Nothing here commits or rolls back: a failing operation raises, the error names its
index, and the unit of work rolls the whole request back (after-commit publishes included).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from calendo.core.cooperative import Pacer
from calendo.core.errors import AppError, ValidationFailed, with_index
from calendo.events import service as events
from calendo.events.presenters import event_body
from calendo.sharing import access
from calendo.sharing import service as sharing
from calendo.transactions.schemas import (
    OPERATION_KINDS,
    CreateOperation,
    DeleteOperation,
    Operation,
    ShareOperation,
    TargetedOperation,
    UpdateOperation,
)

# Where an operation's service-level validation errors point inside the operation.
_BODY_FIELD = {"create": "event", "update": "changes"}


class OperationInvalid(AppError):
    """A request body error inside one operation, named by its index."""

    status = 422
    slug = "validation-error"
    title = "Validation failed"


async def run_transaction(
    session: AsyncSession, *, ctx: events.WriteContext, operations: Sequence[Operation]
) -> list[Any]:
    """Apply every operation in order and return their results; the first error aborts all.

    The locks come first, in the global order (``sharing.access.lock_events``): two
    transactions naming the same events in opposite orders then queue instead of deadlocking.
    Between operations the loop is handed back (``core.cooperative``): on SQLite, which runs
    inline, 100 operations would otherwise hold every other request for their whole length.
    Other writers wait in the writer queue meanwhile, never in SQLite's busy handler.
    """
    named = [op.event_id for op in operations if isinstance(op, TargetedOperation)]
    await access.lock_events(
        session, user_id=ctx.actor.id, event_ids=[i for i in named if i is not None]
    )
    created: dict[int, int] = {}
    results: list[Any] = []
    pacer = Pacer()
    for index, operation in enumerate(operations):
        await pacer.tick()
        try:
            result = await _apply(session, ctx, operation, created)
        except AppError as exc:
            raise _name_operation(exc, index, operation.op) from exc
        if isinstance(operation, CreateOperation):
            created[index] = result["id"]
        results.append(result)
    return results


async def _apply(
    session: AsyncSession,
    ctx: events.WriteContext,
    operation: Operation,
    created: Mapping[int, int],
) -> Any:
    if isinstance(operation, CreateOperation):
        written = await events.create_event(session, ctx=ctx, data=operation.event)
        return _written(written)
    event_id = _target(operation, created)
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


def _name_operation(exc: AppError, index: int, kind: str) -> AppError:
    """``operation N: ...`` with ``index: N``; 422 locations point into ``operations[N]``."""
    named = with_index(exc, index, label="operation")
    errors = named.extra.get("errors")
    if errors:
        inner = _BODY_FIELD.get(kind)
        named.extra["errors"] = [
            {**e, "loc": _operation_loc(e["loc"], index, inner)} for e in errors
        ]
    return named


def _operation_loc(loc: Sequence[Any], index: int, inner: str | None) -> list[Any]:
    """``["body", N, field]`` (from ``with_index``) as ``["body", "operations", N, ...]``."""
    if not loc or loc[0] != "body":
        return list(loc)
    rest = list(loc[2:]) if len(loc) >= 2 and loc[1] == index else list(loc[1:])
    if inner is not None and rest and rest[0] != "event_ref":
        rest = [inner, *rest]
    return ["body", "operations", index, *rest]


def invalid_operation(errors: Sequence[Mapping[str, Any]]) -> OperationInvalid | None:
    """Name the first operation a body validation error points into (None: not in one).

    Pydantic locates errors as ``("body", "operations", N, <op tag>, field, ...)``; the tag
    of the discriminated union is dropped so ``loc`` is the JSON path of the bad value.
    """
    located = [(_operation_index(e["loc"]), e) for e in errors]
    indexes = [index for index, _ in located if index is not None]
    if not indexes:
        return None
    first = min(indexes)
    shown = [{"loc": _json_path(e["loc"]), "msg": str(e.get("msg", ""))} for _, e in located]
    primary = next(s for (i, _), s in zip(located, shown, strict=True) if i == first)
    where = ".".join(str(p) for p in primary["loc"][3:])
    detail = f"operation {first}: {where + ': ' if where else ''}{primary['msg']}"
    return OperationInvalid(detail, extra={"errors": shown, "index": first})


def _operation_index(loc: Sequence[Any]) -> int | None:
    if len(loc) >= 3 and tuple(loc[:2]) == ("body", "operations") and isinstance(loc[2], int):
        return loc[2]
    return None


def _json_path(loc: Sequence[Any]) -> list[Any]:
    path = list(loc)
    if _operation_index(path) is not None and len(path) > 3 and path[3] in OPERATION_KINDS:
        del path[3]
    return path
