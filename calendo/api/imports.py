"""``POST /api/events/import``: an iCalendar file into the caller's calendar.

The body is the file itself (``Content-Type: text/calendar``) or a ``multipart/form-data``
upload whose ``file`` part is the file; either way the import's own body limit applies
(``CALENDO_IMPORT_MAX_BYTES``, 16 MiB: a 413 from core/formats.py before the route runs). The
file is read in steps that hand the event loop back (``reading.steps``), then written part by part
(``ical.parts``), each part one unit of work (``ical.importing``): a file of up to
``CALENDO_IMPORT_PART_EVENTS`` events is one part, all or nothing.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from calendo.auth.dependencies import CurrentUserDep
from calendo.core.cooperative import Pacer
from calendo.core.deps import client_ip, services_of
from calendo.core.errors import (
    AppError,
    UnsupportedMediaType,
    ValidationFailed,
    problem_responses,
)
from calendo.core.formats import CALENDAR, json_response
from calendo.core.routing import StrictQueryRoute
from calendo.events.schemas import ConflictStrategy
from calendo.events.service import WriteContext
from calendo.ical import parts, reading
from calendo.ical.schemas import ImportReport

router = APIRouter(tags=["events"], route_class=StrictQueryRoute)

PATH = "/api/events/import"
_FILE_PART = "file"


class ImportRefused(AppError):
    status = 422
    slug = "import-refused"
    title = "Import refused"


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
            description="abort: any refused component refuses the import (422 "
            "`import-refused` listing them; nothing written, or in a file of several parts "
            "only the parts before the refusal's). skip: the others are written and the "
            "refusals listed."
        ),
    ] = "abort",
) -> Response:
    """Import an iCalendar (RFC 5545) file, up to `CALENDO_IMPORT_MAX_BYTES` (16 MiB): its
    events become the caller's.

    Each `UID` is one event (a series and its `RECURRENCE-ID` overrides). Re-importing updates
    instead of duplicating: `<id>@calendo` updates event `id` if the caller can edit it (one
    they can only view is refused, saying so); any other UID updates the event the caller's
    earlier import of it made, per caller (another user's import of the same UID is their own
    event). Properties Calendo does not model (`X-`, `CATEGORIES`, `URL`, `ATTACH`,
    `ATTENDEE`, `ORGANIZER`, alarms…) are kept with the event and exported again unchanged.
    A floating time (no `TZID`, no `Z`) is read on the wall clock of the calendar's
    `X-WR-TIMEZONE` when Calendo knows that zone, else of the caller's account zone, and the
    event gets that zone (exported with `TZID`).
    Changes are recorded with the source `import` (version tags, audit). A file Calendo
    cannot read at all is a 422 naming why and where (malformed, more than
    `CALENDO_IMPORT_MAX_EVENTS` events or twice as many components, lines over 65,536
    characters, nesting deeper than 3, over 100 VTIMEZONEs); one over the body limit a 413.

    A file of up to `CALENDO_IMPORT_PART_EVENTS` (100) events is one transaction: every event
    or none. A larger one is written in parts of that many events, in file order, each its own
    transaction, so other writers wait at most one part. Components that cannot be events
    refuse the whole file before anything is written (`on_refusal=abort`); a refusal only the
    database finds (a clash under `reject`, a UID you can only view) stops the import at its
    part: that part is rolled back, the parts before it stay written, and the 422 lists them
    (`written`, `parts_written`). Sending the corrected file again finishes the import: what
    was written comes back `unchanged`, matched by UID. A dry run checks every part, each
    against the events the earlier parts would create.
    """
    services = services_of(request)
    settings = services.settings
    data = await _file_of(request, max_bytes=settings.import_max_bytes)
    reads = reading.steps(data, max_events=settings.import_max_events, default_zone=user.timezone)
    try:
        items = await Pacer().drive(reads)
    except reading.Unreadable as exc:
        raise ValidationFailed(str(exc), loc=("body",)) from None
    ctx = WriteContext(
        actor=user,
        services=services,
        ip=client_ip(request),
        strategy=conflict_strategy,
        source="import",
    )
    try:
        report = await parts.run(
            services.db,
            ctx=ctx,
            items=items,
            part_events=settings.import_part_events,
            dry_run=dry_run,
            abort=on_refusal == "abort",
        )
    except parts.Stopped as stopped:
        raise _refused(stopped) from None
    return json_response(report.body(dry_run=dry_run))


def _refused(stopped: parts.Stopped) -> ImportRefused:
    count = len(stopped.refused)
    if not stopped.parts_written:
        return ImportRefused(
            f"{count} component(s) of the file cannot be imported, so nothing was written "
            "(see refused; on_refusal=skip writes the others)",
            extra={"refused": stopped.refused},
        )
    written = stopped.written.body(dry_run=False)
    done = len(written["created"]) + len(written["updated"]) + len(written["unchanged"])
    return ImportRefused(
        f"{count} component(s) of part {stopped.parts_written + 1} of the file cannot be "
        f"imported, so the import stopped there: the {done} event(s) of the parts before it "
        "are written (see written). Send the corrected file again to finish (those come back "
        "unchanged, matched by UID), or import with on_refusal=skip",
        extra={
            "refused": stopped.refused,
            "parts_written": stopped.parts_written,
            "written": {key: written[key] for key in ("created", "updated", "unchanged")},
        },
    )


async def _file_of(request: Request, *, max_bytes: int) -> bytes:
    """The file: the body itself, or the ``file`` part of a form upload (a part sent without
    a file name is a form field, whose size limit is then the body's, not Starlette's)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        async with request.form(max_part_size=max_bytes) as form:  # closes spooled files
            part: Any = form.get(_FILE_PART)
            if part is None:
                raise ValidationFailed(
                    f"upload the file as the form part named {_FILE_PART!r}",
                    loc=("body", _FILE_PART),
                )
            if isinstance(part, str):  # sent without a file name: a field, already text
                return part.encode()
            return bytes(await part.read())
    if content_type != CALENDAR:
        # The format layer lets JSON and MessagePack through on every path; neither is a file.
        raise UnsupportedMediaType("Send the file as text/calendar or multipart/form-data")
    body = await request.body()
    if not body:
        raise ValidationFailed("send the iCalendar file as the body", loc=("body",))
    return body
