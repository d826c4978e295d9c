"""``POST /api/events/import``: an iCalendar file into the caller's calendar.

The body is the file itself (``Content-Type: text/calendar``) or a ``multipart/form-data``
upload whose ``file`` part is the file; either way the ``/api`` body limit applies (413 from
core/formats.py, before the route runs). The file is read off the event loop
(``reading.read``), then written in one unit of work (``ical.importing``): a dry run, or a
real run that refused something (unless ``on_refusal=skip``), is rolled back whole.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from calendo.auth.dependencies import CurrentUserDep
from calendo.core.cooperative import off_loop
from calendo.core.deps import client_ip, services_of
from calendo.core.errors import AppError, ValidationFailed, problem_responses
from calendo.core.formats import json_response
from calendo.core.routing import StrictQueryRoute
from calendo.core.uow import UnitOfWork
from calendo.events.schemas import ConflictStrategy
from calendo.events.service import WriteContext
from calendo.ical import importing, reading
from calendo.ical.schemas import ImportReport

router = APIRouter(tags=["events"], route_class=StrictQueryRoute)

PATH = "/api/events/import"
_FILE_PART = "file"


class ImportRefused(AppError):
    status = 422
    slug = "import-refused"
    title = "Import refused"


class _DryRun(Exception):
    """Leaves the unit of work so that it rolls back, carrying the report."""

    def __init__(self, report: importing.Report) -> None:
        super().__init__("dry run")
        self.report = report


_BODY = {
    "required": True,
    "content": {
        "text/calendar": {"schema": {"type": "string", "description": "An RFC 5545 file."}},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {_FILE_PART: {"type": "string", "format": "binary"}},
                "required": [_FILE_PART],
            }
        },
    },
}


@router.post(
    "/import",
    response_model=ImportReport,
    responses=problem_responses(401, 413, 415, 422),
    openapi_extra={"requestBody": _BODY},
)
async def import_calendar(
    request: Request,
    user: CurrentUserDep,
    dry_run: Annotated[
        bool, Query(description="List what would be created, updated and refused; keep none.")
    ] = False,
    conflict_strategy: Annotated[
        ConflictStrategy,
        Query(
            description="For each imported event's times, as on create: reject (the event is "
            "refused on overlap), allow (written, its conflicts listed), or shift."
        ),
    ] = "reject",
    on_refusal: Annotated[
        Literal["abort", "skip"],
        Query(
            description="abort: any refused component refuses the whole import (422 "
            "`import-refused` listing them; nothing written). skip: the others are written "
            "and the refusals listed."
        ),
    ] = "abort",
) -> Response:
    """Import an iCalendar (RFC 5545) file: its events become the caller's, in one transaction.

    Each `UID` is one event (a series and its `RECURRENCE-ID` overrides). Re-importing updates
    instead of duplicating: `<id>@calendo` updates event `id` if the caller can edit it (one
    they can only view is refused, saying so); any other UID updates the event the caller's
    earlier import of it made, per caller (another user's import of the same UID is their own
    event). Properties Calendo does not model (`X-`, `CATEGORIES`, `URL`, `ATTACH`,
    `ATTENDEE`, `ORGANIZER`, alarms…) are kept with the event and exported again unchanged.
    Changes are recorded with the source `import` (version tags, audit). A file Calendo
    cannot read at all is a 422 naming why and where (malformed, more than
    `CALENDO_IMPORT_MAX_EVENTS` events or twice as many components, lines over 65,536
    characters, nesting deeper than 3, over 100 VTIMEZONEs); one over the body limit a 413.
    Larger calendars: split the file (each part is its own atomic import; re-importing a part
    is harmless).
    """
    data = await _file_of(request)
    services = services_of(request)
    read = functools.partial(reading.read, max_events=services.settings.import_max_events)
    try:
        items = await off_loop(read, data)
    except reading.Unreadable as exc:
        raise ValidationFailed(str(exc), loc=("body",)) from None
    try:
        async with UnitOfWork.write(services.db) as unit:
            ctx = WriteContext(
                actor=user,
                services=services,
                ip=client_ip(request),
                strategy=conflict_strategy,
                source="import",
            )
            report = await importing.run(unit, ctx=ctx, items=items)
            if dry_run or (report.refused and on_refusal == "abort"):
                raise _DryRun(report)
    except _DryRun as rolled_back:
        report = rolled_back.report
        if not dry_run:
            raise _refused(report) from None
    return json_response(report.body(dry_run=dry_run))


def _refused(report: importing.Report) -> ImportRefused:
    count = len(report.refused)
    return ImportRefused(
        f"{count} component(s) of the file cannot be imported, so nothing was written (see "
        "refused; on_refusal=skip writes the others)",
        extra={"refused": report.refused},
    )


async def _file_of(request: Request) -> bytes:
    """The file: the body itself, or the ``file`` part of a form upload."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        async with request.form() as form:  # closes the parts' spooled files
            part: Any = form.get(_FILE_PART)
            if part is None or isinstance(part, str):
                raise ValidationFailed(
                    f"upload the file as the form part named {_FILE_PART!r}",
                    loc=("body", _FILE_PART),
                )
            return bytes(await part.read())
    body = await request.body()
    if not body:
        raise ValidationFailed("send the iCalendar file as the body", loc=("body",))
    return body
