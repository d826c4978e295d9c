"""Transaction bodies: a list of operations discriminated by ``op``, and their results."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from calendo.core.bounded import CountFirst
from calendo.core.types import MAX_ID
from calendo.events.schemas import EventCreate, EventUpdate, EventWriteResult
from calendo.sharing.schemas import PermissionRead, ShareTargets

MAX_OPERATIONS = 100
# Ids are 32-bit integer columns on PostgreSQL: a larger one is a 422, not a driver error.
OPERATION_KINDS = frozenset({"create", "update", "delete", "share"})


class CreateOperation(BaseModel):
    """Create an event, as `POST /api/events`; later operations may name it by `event_ref`."""

    model_config = ConfigDict(extra="forbid")

    op: Literal["create"]
    event: EventCreate


class TargetedOperation(BaseModel):
    """An operation on an existing event (`event_id`) or on one this request creates."""

    model_config = ConfigDict(extra="forbid")

    event_id: int | None = Field(None, ge=1, le=MAX_ID)
    event_ref: int | None = Field(
        None,
        ge=0,
        lt=MAX_OPERATIONS,
        description="Index of an earlier `create` operation of this request.",
    )

    @model_validator(mode="after")
    def _one_target(self) -> TargetedOperation:
        if (self.event_id is None) == (self.event_ref is None):
            raise ValueError("name the event with exactly one of event_id or event_ref")
        return self


class UpdateOperation(TargetedOperation):
    """Partial update, as `PUT /api/events/{id}` (`changes.version` makes it conditional)."""

    op: Literal["update"]
    changes: EventUpdate
    merge: bool = Field(False, description="Three-way merge a stale write, as `?merge=true`.")


class DeleteOperation(TargetedOperation):
    """Delete (owner only), as `DELETE /api/events/{id}`."""

    op: Literal["delete"]
    note: str | None = Field(None, max_length=500, description="Edit summary for the history.")


class ShareOperation(TargetedOperation):
    """Grant roles (owner only), as `POST /api/events/{id}/share`."""

    op: Literal["share"]
    users: ShareTargets


Operation = Annotated[
    CreateOperation | UpdateOperation | DeleteOperation | ShareOperation,
    Field(discriminator="op"),
]


class TransactionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operations: Annotated[list[Operation], CountFirst(MAX_OPERATIONS)] = Field(min_length=1)


class DeleteResult(BaseModel):
    event_id: int
    deleted: Literal[True]


OperationResult = EventWriteResult | DeleteResult | list[PermissionRead]


class TransactionResult(BaseModel):
    """Each operation's result, in request order."""

    results: list[OperationResult]
