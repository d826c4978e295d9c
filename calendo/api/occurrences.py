"""Parts of a series: edit (``PATCH``) or cancel (``DELETE``) one occurrence, named by the
start its series gives it (its recurrence id, RFC 5545 RECURRENCE-ID); split the series at an
occurrence ("this and following") and undo a split."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from calendo.api.events import (
    IfMatch,
    NoteParam,
    Strategy,
    write_context,
    written_body,
    written_response,
)
from calendo.auth.dependencies import CurrentUserDep
from calendo.core.deps import PathId, services_of
from calendo.core.errors import problem_responses
from calendo.core.formats import json_response
from calendo.core.routing import StrictQueryRoute
from calendo.core.uow import UnitOfWork
from calendo.events import occurrences, preconditions, splitting
from calendo.events.schemas import DayOrWindowTime, EventWriteResult
from calendo.events.series_schemas import (
    OccurrenceEdit,
    SplitRequest,
    SplitResult,
    UndoSplitResult,
)

router = APIRouter(tags=["events"], route_class=StrictQueryRoute)

RecurrenceId = Annotated[
    DayOrWindowTime,
    Path(
        description="The start the series gives the occurrence (RFC 3339 with offset, as "
        "`/occurrences` lists it; an overridden occurrence keeps its `recurrence_id`). An "
        "all-day series' occurrence is named by its date (`2026-03-26`), or by a time that is "
        "00:00 on its own offset's clock, read as that date: its UTC midnight "
        "(`2026-03-26T00:00:00Z`, its stored `recurrence_id`) or its start as `/occurrences` "
        "places it in the caller's zone (`2026-03-26T00:00:00+01:00`). A date on a timed "
        "series, or any other time on an all-day one, names no occurrence (404)."
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
    (`null` gives one back to the series; so does a `start_time` at the `recurrence_id`
    itself, as an iCalendar import reads it). A new version of the series; the answer is the
    series with its `recurrence_overrides`. 404 when the series has no occurrence starting
    at `recurrence_id`.

    An all-day series' occurrence moves by whole dates: send `start_date` / `end_date` (ISO
    dates, the end exclusive as the event's `end_date`), stored as the UTC midnights of those
    dates in the override's `start_time` / `end_time` (and returned so). `start_time` /
    `end_time` are accepted there only as UTC midnights (`2026-03-27T00:00:00Z`); any other
    time is a 422 `validation-error` at `["body","start_time"]` saying to send
    `start_date`, and a date beside its time (`start_date` with `start_time`) is a 422 too.
    A start on the occurrence's own date (its `recurrence_id`'s) is no start of its own: it
    gives the start back to the series, as `null` does (and as an iCalendar import reads it).
    On a timed series `start_date` / `end_date` are a 422 (send times). Nothing is written
    when refused."""
    services = services_of(request)
    async with UnitOfWork.write(services.db) as unit:
        written = await occurrences.edit_occurrence(
            unit,
            ctx=write_context(user, services, request, conflict_strategy),
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
    services = services_of(request)
    async with UnitOfWork.write(services.db) as unit:
        written = await occurrences.cancel_occurrence(
            unit,
            ctx=write_context(user, services, request),
            event_id=event_id,
            recurrence_id=recurrence_id,
            if_match=if_match,
            note=note,
        )
        return written_response(written)


@router.post(
    "/{event_id}/split",
    response_model=SplitResult,
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
async def split_series(
    event_id: PathId,
    data: SplitRequest,
    request: Request,
    user: CurrentUserDep,
    if_match: IfMatch = None,
    conflict_strategy: Strategy = "reject",
    limit: Annotated[
        int, Query(ge=1, le=1000, description="Occurrences the answer lists (preview cap).")
    ] = 100,
) -> Response:
    """ "This and following" (editor or owner): end the series before `recurrence_id` and
    continue it from there as a new series with `changes`, in one atomic write; the new series
    keeps the owner and the shares, and takes the exceptions, extra dates and overrides from
    that occurrence on. Both name each other in `related_events`. With `dry_run`, nothing is
    written: the answer previews both series, the occurrences that change and what happens to
    each override. `POST /api/events/{new id}/split/undo` undoes it.

    An all-day series is split at an occurrence named as this router's paths name it: its
    date (`2026-03-26`) or a time that is 00:00 on its own offset's clock
    (`2026-03-26T00:00:00Z`, `2026-03-26T00:00:00+01:00`), used as its UTC midnight. Any other
    time on an all-day series, and a date on a timed one, is a 422 `validation-error` at
    `["body","recurrence_id"]` (as is a time the rule gives no occurrence at); nothing is
    written."""
    services = services_of(request)
    async with UnitOfWork.write(services.db) as unit:
        result = await splitting.split_series(
            unit,
            ctx=write_context(user, services, request, conflict_strategy),
            event_id=event_id,
            data=data,
            if_match=if_match,
            limit=limit,
        )
    return json_response(result, status_code=200 if data.dry_run else 201)


@router.post(
    "/{event_id}/split/undo",
    response_model=UndoSplitResult,
    responses=problem_responses(401, 403, 404, 409),
)
async def undo_split(
    event_id: PathId, request: Request, user: CurrentUserDep, note: NoteParam = None
) -> Response:
    """Undo the split that made this series (editor or owner of both): it is deleted (and can
    be restored) and the old series gets its recurrence from before the split back. Refused
    (409 `split-not-undoable`) once this series has been edited since the split: roll it back
    to version 1, or delete it, first."""
    services = services_of(request)
    async with UnitOfWork.write(services.db) as unit:
        undone = await splitting.undo_split(
            unit, ctx=write_context(user, services, request), event_id=event_id, note=note
        )
        written = undone["event"]
        body = {"series": written_body(written), "deleted_event_id": undone["deleted_id"]}
        return json_response(body, headers={"ETag": preconditions.etag(written.event)})
