"""HTTP routes of the transactions domain: ``POST /api/transactions``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from calendo.auth.dependencies import CurrentUserDep
from calendo.core.deps import client_ip, services_of
from calendo.core.errors import problem_responses
from calendo.core.formats import json_response
from calendo.core.routing import indexed_validation_route
from calendo.core.uow import UnitOfWork
from calendo.events.schemas import ConflictStrategy
from calendo.events.service import WriteContext
from calendo.transactions import service
from calendo.transactions.schemas import TransactionRequest, TransactionResult

router = APIRouter(
    tags=["transactions"], route_class=indexed_validation_route(service.invalid_operation)
)

TRANSACTION_DESCRIPTION = """Apply up to 100 operations in one database transaction: all of
them, or none.

Operations (`op`): `create` (`event`: as `POST /api/events`) → the event; `update`
(`changes`: as the `PUT` body, `version` makes it conditional, `merge: true` merges a stale
write) → the event; `delete` → `{event_id, deleted: true}`; `share` (`users`: as
`POST /share`) → the permission list. `update`, `delete` and `share` name their event by
`event_id` or by `event_ref: N`, the index of an earlier `create` of the same request.

Each operation obeys the permissions, validation and conflict rules of its endpoint, and sees
the effects of the operations before it (a version bumped by an earlier update, a time taken
by an earlier create). `conflict_strategy` applies to every operation. On the first failure
nothing is applied, and the problem has the failing operation's status, `detail`
`operation N: ...` and `index: N` (also for body validation errors inside an operation).
"""


@router.post(
    "",
    response_model=TransactionResult,
    description=TRANSACTION_DESCRIPTION,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def run_transaction(
    data: TransactionRequest,
    user: CurrentUserDep,
    request: Request,
    conflict_strategy: Annotated[
        ConflictStrategy, Query(description="reject, allow or shift, for every operation.")
    ] = "reject",
) -> Response:
    """Apply event operations atomically; a failure names the operation's index."""
    services = services_of(request)
    async with UnitOfWork.write(services.db) as unit:
        ctx = WriteContext(
            actor=user, services=services, ip=client_ip(request), strategy=conflict_strategy
        )
        results = await service.run_transaction(unit, ctx=ctx, operations=data.operations)
    # Serialised once with orjson, as a single write's body is (``json_response``): the
    # model's validation and pydantic's encoding of 100 results held the loop for milliseconds.
    return json_response({"results": results})
