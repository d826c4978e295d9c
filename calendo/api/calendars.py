"""The text/calendar answers of the event reads (``GET /api/events``, ``GET /api/events/{id}``),
chosen by ``Accept`` (core/formats.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request, Response

from calendo.auth.caller import Bearer
from calendo.core.deps import services_of
from calendo.core.errors import ValidationFailed
from calendo.ical import convert, export

# The list's parameters that mean nothing to one calendar document (and ``tz``: iCalendar
# writes every time in its event's own zone).
_NOT_FOR_CALENDAR = ("expand", "limit", "cursor", "skip", "as_of", "tz")

# The text/calendar answer of the event reads, beside their JSON, for their OpenAPI ``200``.
OPENAPI_200: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Successful Response; with `Accept: text/calendar`, an RFC 5545 VCALENDAR",
        "content": {"text/calendar": {"schema": {"type": "string"}}},
    }
}


async def window(
    request: Request,
    caller: Bearer,
    *,
    start: datetime | None,
    end: datetime | None,
    q: str | None,
    role: str | None,
) -> Response:
    """``GET /api/events`` as text/calendar: every event of the window, not paged."""
    for name in _NOT_FOR_CALENDAR:
        if name in request.query_params:
            raise ValidationFailed(
                f"{name} does not apply to a text/calendar answer (one document, every event "
                "of the window, each time in its event's zone)",
                loc=("query", name),
            )
    if start is None or end is None:
        missing = "start_time" if start is None else "end_time"
        raise ValidationFailed(
            "a text/calendar answer needs a window: give start_time and end_time",
            loc=("query", missing),
        )
    services = services_of(request)
    body = await export.window_calendar(
        services.db.reads,
        caller=caller,
        start=start,
        end=end,
        q=q,
        role=role,
        cap=services.settings.ical_max_events,
    )
    return Response(body, media_type=convert.MEDIA_TYPE, headers={"Vary": "Accept"})


async def one_event(request: Request, body: dict[str, Any]) -> Response:
    """One event as a VCALENDAR; its tag names the format and the lines an import kept of it
    (``"<id>-<version>@ics<r>"``, ``export.event_calendar``), so a JSON copy is never confirmed
    (304) for it, nor the reverse, nor a copy from before a re-import changed those lines."""
    answer = await export.event_calendar(
        services_of(request).db.reads, body, if_none_match=request.headers.get("if-none-match")
    )
    headers = {"ETag": answer.tag, "Vary": "Accept"}
    if answer.body is None:
        return Response(status_code=304, headers=headers)
    return Response(answer.body, media_type=convert.MEDIA_TYPE, headers=headers)
