"""Single-occurrence endpoints: edit (``PATCH``) or cancel (``DELETE``) one occurrence of a
series, named by the start its series gives it (its recurrence id, RFC 5545 RECURRENCE-ID)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from calendo.api.events import IfMatch, NoteParam, Strategy, write_context, written_response
from calendo.auth.dependencies import CurrentUserDep
from calendo.core.deps import PathId, write_unit
from calendo.core.errors import problem_responses
from calendo.core.routing import StrictQueryRoute
from calendo.events import occurrences
from calendo.events.schemas import EventWriteResult, OccurrenceEdit, WindowTime

router = APIRouter(tags=["events"], route_class=StrictQueryRoute)

RecurrenceId = Annotated[
    WindowTime,
    Path(
        description="The start the series gives the occurrence (RFC 3339 with offset, as "
        "`/occurrences` lists it; an overridden occurrence keeps its `recurrence_id`)."
    ),
]
_ERRORS = problem_responses(401, 403, 404, 409, 412, 422)


@router.patch(
    "/{event_id}/occurrences/{recurrence_id}",
    response_model=EventWriteResult,
    responses=_ERRORS,
)
async def edit_occurrence(
    event_id: PathId,
    recurrence_id: RecurrenceId,
    data: OccurrenceEdit,
    request: Request,
    user: CurrentUserDep,
    if_match: IfMatch = None,
    conflict_strategy: Strategy = "reject",
    note: NoteParam = None,
) -> Response:
    """Edit one occurrence of a series (editor or owner): the fields sent become its own
    (`null` gives one back to the series). A new version of the series; the answer is the
    series with its `recurrence_overrides`. 404 when the series has no occurrence starting
    at `recurrence_id`."""
    async with write_unit(request) as write:
        written = await occurrences.edit_occurrence(
            write.session,
            ctx=write_context(user, write, conflict_strategy),
            event_id=event_id,
            recurrence_id=recurrence_id,
            data=data,
            if_match=if_match,
            note=note,
        )
        return written_response(written)


@router.delete(
    "/{event_id}/occurrences/{recurrence_id}",
    response_model=EventWriteResult,
    responses=_ERRORS,
)
async def cancel_occurrence(
    event_id: PathId,
    recurrence_id: RecurrenceId,
    request: Request,
    user: CurrentUserDep,
    if_match: IfMatch = None,
    note: NoteParam = None,
) -> Response:
    """Cancel one occurrence of a series (editor or owner): its start joins the series'
    `recurrence_exceptions` and its override, if any, is dropped. A new version of the
    series (a rollback brings the occurrence back); the answer is the series."""
    async with write_unit(request) as write:
        written = await occurrences.cancel_occurrence(
            write.session,
            ctx=write_context(user, write),
            event_id=event_id,
            recurrence_id=recurrence_id,
            if_match=if_match,
            note=note,
        )
        return written_response(written)
