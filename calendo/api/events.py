"""Event endpoints: CRUD, list, occurrences, conflicts preview, batch, restore."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from calendo.api import calendars
from calendo.auth.caller import CurrentUser
from calendo.auth.dependencies import BearerDep, CurrentUserDep, current_user
from calendo.core.deps import PathId, ReadUnitDep, Services, ServicesDep, client_ip, services_of
from calendo.core.errors import problem_responses
from calendo.core.formats import CALENDAR, JSON, json_response, negotiated
from calendo.core.pagination import CursorParam, Limit, Page
from calendo.core.querymodel import query_model
from calendo.core.routing import StrictQueryRoute, indexed_validation_route
from calendo.core.uow import UnitOfWork
from calendo.events import (
    all_day,
    batch,
    creation,
    listing,
    preconditions,
    service,
    temporal,
    trash,
)
from calendo.events.presenters import RenderZone, event_body, rendering_zone
from calendo.events.schemas import (
    BatchCreate,
    BatchResult,
    ConflictCheck,
    ConflictReport,
    ConflictStrategy,
    EventCreate,
    EventDetail,
    EventRead,
    EventUpdate,
    EventWriteResult,
    ExpandedEventRead,
    OccurrencesPage,
    WindowTime,
)
from calendo.sharing.policy import Role

router = APIRouter(tags=["events"], route_class=StrictQueryRoute)


batch_router = APIRouter(
    tags=["events"], route_class=indexed_validation_route(batch.invalid_batch_item)
)

Strategy = Annotated[
    ConflictStrategy,
    Query(
        description="reject (409 on overlap), allow (write and report), or shift (move to "
        "the first free slot within CALENDO_SHIFT_HORIZON_DAYS days)."
    ),
]
NoteParam = Annotated[
    str | None, Query(max_length=500, description="Edit summary for the history.")
]
_IF_MATCH = '`"<id>-<version>"`; stale → 412.'
IfMatch = Annotated[str | None, Header(description=_IF_MATCH)]
WindowStart = Annotated[
    WindowTime | None, Query(description="Window start (RFC 3339 with offset).")
]
WindowEnd = Annotated[WindowTime | None, Query(description="Window end (RFC 3339 with offset).")]
AsOf = Annotated[
    WindowTime | None,
    Query(
        description="Read the past (RFC 3339 with offset; naive → 422): content and `version` "
        "of the version in force at that instant, with today's permissions. 404 when the event "
        "did not exist or was deleted then."
    ),
]
ListAsOf = Annotated[
    WindowTime | None,
    Query(
        description="The calendar as it was at that instant (RFC 3339 with offset): events the "
        "caller has access to now (deleted ones included) that existed then, with their content "
        "at that time. `start_time`/`end_time`, `q`, `role`, `limit`, `cursor` and `skip` apply "
        "to that past content; `expand` is not supported with `as_of` (422)."
    ),
]


def write_context(
    user: CurrentUser, services: Services, request: Request, strategy: str = "reject"
) -> service.WriteContext:
    return service.WriteContext(
        actor=user, services=services, ip=client_ip(request), strategy=strategy
    )


def written_response(
    written: service.Written, *, status_code: int = 200, location: str | None = None
) -> Response:
    """The ``EventWriteResult`` of a write, serialised once (its values come from the row just
    written, so validating them again against the model would only cost time)."""
    headers = {"ETag": preconditions.etag(written.event)}
    if location is not None:
        headers["Location"] = location
    return json_response(written_body(written), status_code=status_code, headers=headers)


def written_body(written: service.Written) -> dict[str, Any]:
    """The ``EventWriteResult`` fields of a write."""
    return {
        **event_body(written.event, written.role),
        "conflicts": written.conflicts,
        "orphaned_overrides": list(written.orphaned),
    }


@router.post(
    "",
    status_code=201,
    response_model=EventWriteResult,
    responses=problem_responses(401, 409, 422),
)
async def create_event(
    data: EventCreate,
    request: Request,
    user: CurrentUserDep,
    conflict_strategy: Strategy = "reject",
    note: NoteParam = None,
) -> Response:
    """Create an event; the caller becomes its owner."""
    services = services_of(request)
    async with UnitOfWork.write(services.db) as unit:
        written = await creation.create_event(
            unit,
            ctx=write_context(user, services, request, conflict_strategy),
            data=data,
            note=note,
        )
        location = str(request.url_for("get_event", event_id=written.event.id))
        return written_response(written, status_code=201, location=location)


class ListEventsQuery(BaseModel):
    """The query of ``GET /api/events``, validated in one call (``core.querymodel``).

    Documented as ten query parameters, exactly as if the route declared them one by one.
    """

    model_config = ConfigDict(frozen=True)  # the defaults instance is shared

    start_time: WindowStart = None
    end_time: WindowEnd = None
    q: Annotated[
        str | None, Query(max_length=200, description="Text in title, description, location")
    ] = None
    role: Annotated[Role | None, Query()] = None
    expand: Annotated[bool, Query(description="One item per occurrence in the window")] = False
    limit: Limit = 50
    cursor: CursorParam = None
    skip: Annotated[int | None, Query(ge=0, le=100_000, description="Legacy offset")] = None
    as_of: ListAsOf = None
    tz: RenderZone = None


_list_query, _LIST_QUERY_DOCS = query_model(ListEventsQuery)
# A request without a query string takes the defaults, and skips the parser.
_LIST_DEFAULTS = ListEventsQuery()


@router.get(
    "",
    response_model=Page[ExpandedEventRead] | Page[EventRead],
    responses={**calendars.OPENAPI_200, **problem_responses(401, 422)},
    openapi_extra=_LIST_QUERY_DOCS,
)
async def list_events(request: Request, caller: BearerDep) -> Any:
    """The caller's calendar: owned and shared events, sorted by start then id.

    With `Accept: text/calendar`: one VCALENDAR holding every event with an occurrence in the
    window, which `start_time` and `end_time` must give (422 otherwise); `q` and `role` filter
    as usual, the other parameters do not apply (422). Not paged: at most
    `CALENDO_ICAL_MAX_EVENTS` events (default 2000), a 422 beyond that asks for a shorter
    window. Each event is a VEVENT with `UID:<id>@calendo` (docs/api-notes.md, "iCalendar").
    """
    query = _list_query(request) if request.scope["query_string"] else _LIST_DEFAULTS
    services = services_of(request)
    if negotiated(request.scope) == CALENDAR:
        return await calendars.window(
            request, caller, start=query.start_time, end=query.end_time, q=query.q, role=query.role
        )
    filters: dict[str, Any] = {
        "start": query.start_time,
        "end": query.end_time,
        "q": query.q,
        "role": query.role,
        "limit": query.limit,
        "cursor": query.cursor,
    }
    reads = services.db.reads
    if query.as_of is not None:
        account = await current_user(request)  # the live-session check, with the account zone
        async with UnitOfWork.read(services.db) as session:
            page = await temporal.list_events_as_of(
                session,
                user_id=caller.user_id,
                at=query.as_of,
                skip=query.skip,
                expand=query.expand,
                zone=rendering_zone(query.tz, account.timezone),
                **filters,
            )
        default_zone = account.timezone
    elif query.expand:
        page, default_zone = await listing.list_expanded(
            reads, caller=caller, settings=services.settings, tz=query.tz, **filters
        )
    else:
        page, default_zone = await listing.list_events(
            reads, caller=caller, skip=query.skip, tz=query.tz, **filters
        )
    return json_response(page, zone=rendering_zone(query.tz, default_zone))


# Declared before ``/{event_id}``: routes match in order, and that one would take "trash" for
# an id (and answer 422).
@router.get(
    "/trash",
    response_model=Page[trash.TrashedEventRead],
    responses=problem_responses(401, 422),
)
async def list_trash(
    request: Request,
    caller: BearerDep,
    limit: Limit = 50,
    cursor: CursorParam = None,
    tz: RenderZone = None,
) -> Any:
    """Deleted events the caller may restore (their owner), newest deletion first.

    Each item is the event as it was deleted, with `deleted_at` and `deleted_by`. An event
    leaves the trash when it is restored (`POST /api/events/{id}/restore`); an editor or a
    viewer of a deleted event sees it here only if the restore rule lets them restore it
    (today it does not: only the owner may). Paginated like the other lists; times rendered
    as the calendar's (`tz`, else the account's zone).
    """
    page, default_zone = await trash.list_trash(
        services_of(request).db.reads, caller=caller, limit=limit, cursor=cursor
    )
    zone = rendering_zone(tz, default_zone)
    all_day.place_bodies(page["items"], zone)
    return json_response(page, zone=zone)


@batch_router.post(
    "/batch",
    status_code=201,
    response_model=BatchResult,
    responses=problem_responses(401, 409, 422),
)
async def batch_create(
    data: BatchCreate,
    request: Request,
    user: CurrentUserDep,
    conflict_strategy: Strategy = "reject",
) -> Response:
    """Create up to CALENDO_BATCH_MAX events atomically; an error names the failing index."""
    services = services_of(request)
    async with UnitOfWork.write(services.db) as unit:
        written = await batch.batch_create(
            unit, ctx=write_context(user, services, request, conflict_strategy), items=data.events
        )
        items = [written_body(w) for w in written]
    # Serialised once with orjson, as a single write's body is: the model's validation and
    # pydantic's encoding of a 100-item answer held the loop for milliseconds.
    return json_response({"items": items}, status_code=201)


@router.post("/conflicts", response_model=ConflictReport, responses=problem_responses(401, 422))
async def check_conflicts(
    data: ConflictCheck, user: CurrentUserDep, session: ReadUnitDep, services: ServicesDep
) -> dict[str, Any]:
    """Conflicts of a prospective time with the caller's calendar, and up to 3 free slots."""
    return await batch.check_conflicts(
        session, services=services, user_id=user.id, data=data, zone=user.timezone
    )


class EventReadQuery(BaseModel):
    """The query of ``GET /api/events/{id}``, validated in one call (``core.querymodel``)."""

    model_config = ConfigDict(frozen=True)  # the defaults instance is shared

    as_of: AsOf = None
    tz: RenderZone = None


class ConditionalRead(BaseModel):
    """The request headers ``GET /api/events/{id}`` reads (documented as headers)."""

    if_none_match: Annotated[str | None, Field(title="If-None-Match")] = None


_event_read_query, _EVENT_READ_DOCS = query_model(EventReadQuery, headers=ConditionalRead)
_EVENT_READ_DEFAULTS = EventReadQuery()


@router.get(
    "/{event_id}",
    response_model=EventDetail,
    responses={
        **calendars.OPENAPI_200,
        304: {"description": "Not modified"},
        **problem_responses(401, 404, 422),
    },
    openapi_extra=_EVENT_READ_DOCS,
)
async def get_event(event_id: PathId, request: Request, caller: BearerDep) -> Any:
    """The event, the caller's role and its permission list.

    With `Accept: text/calendar`: the event as one VCALENDAR (its VEVENT and the VTIMEZONE of
    its zone; `as_of` applies, `tz` does not matter), with `ETag: "<id>-<version>@ics<r>"`, or
    `"<id>-<version>@ics<r>.<µs>"` when an import kept iCalendar lines Calendo does not model for
    the event (`<r>`: the rendering's number, which changes when the rendering does; `<µs>`:
    when the import wrote them, in microseconds since 1970-01-01 UTC), so a re-import that
    changes only those lines changes the tag; `If-None-Match` naming the current tag is a 304.
    """
    query = _event_read_query(request) if request.scope["query_string"] else _EVENT_READ_DEFAULTS
    services = services_of(request)
    if query.as_of is None:
        body, default_zone = await listing.get_event(
            services.db.reads, caller=caller, event_id=event_id
        )
    else:
        account = await current_user(request)  # the live-session check, with the account zone
        default_zone = account.timezone
        async with UnitOfWork.read(services.db) as session:
            body = await temporal.get_event_as_of(
                session, user_id=caller.user_id, event_id=event_id, at=query.as_of
            )
    if negotiated(request.scope) == CALENDAR:
        return await calendars.one_event(request, body)
    zone = rendering_zone(query.tz, default_zone)
    all_day.place_body(body, zone)  # an all-day event's times: its dates in that zone
    # The tag names the zone too: a copy rendered in one zone is never a 304 in another.
    tag = preconditions.version_tag(body["id"], body["version"], zone)
    # Read here, not declared: FastAPI resolves a declared header on every request (~15 µs).
    if preconditions.none_match_fails(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers={"ETag": tag})
    return json_response(body, headers={"ETag": tag}, zone=zone)


_UPDATE_ERRORS = problem_responses(401, 403, 404, 409, 412, 422)
MergeParam = Annotated[bool, Query(description="Three-way merge a stale write instead of failing")]


class UpdateQuery(BaseModel):
    """The query of ``PUT``/``PATCH /api/events/{id}``, validated in one call."""

    model_config = ConfigDict(frozen=True)  # the defaults instance is shared

    conflict_strategy: Strategy = "reject"
    merge: MergeParam = False
    note: NoteParam = None


class ConditionalWrite(BaseModel):
    """The request header an update reads (documented as a header)."""

    if_match: Annotated[
        str | None,
        Field(title="If-Match", description=_IF_MATCH),
    ] = None


_update_query, _UPDATE_QUERY_DOCS = query_model(UpdateQuery, headers=ConditionalWrite)
_UPDATE_DEFAULTS = UpdateQuery()


@router.put(
    "/{event_id}",
    response_model=EventWriteResult,
    responses=_UPDATE_ERRORS,
    openapi_extra=_UPDATE_QUERY_DOCS,
)
async def update_event(
    event_id: PathId,
    data: EventUpdate,
    request: Request,
    caller: BearerDep,
) -> Response:
    """Partial update (editor or owner): only the fields sent change; PATCH is an alias."""
    query = _update_query(request) if request.scope["query_string"] else _UPDATE_DEFAULTS
    services = services_of(request)
    async with UnitOfWork.write(services.db) as unit:
        written = await service.update_event_by_token(
            unit,
            caller=caller,
            services=services,
            ip=client_ip(request),
            strategy=query.conflict_strategy,
            edit=service.Edit(
                event_id=event_id,
                data=data,
                if_match=request.headers.get("if-match"),  # read, not declared (see get_event)
                merge=query.merge,
                note=query.note,
            ),
        )
        return written_response(written)


# PATCH is the same operation under another method (its own operation id in OpenAPI).
router.add_api_route(
    "/{event_id}",
    update_event,
    methods=["PATCH"],
    response_model=EventWriteResult,
    responses=_UPDATE_ERRORS,
    operation_id="patch_event",
    summary="Partial update (alias of PUT)",
    openapi_extra=_UPDATE_QUERY_DOCS,
)


@router.delete("/{event_id}", status_code=204, responses=problem_responses(401, 403, 404, 412))
async def delete_event(
    event_id: PathId,
    request: Request,
    user: CurrentUserDep,
    if_match: IfMatch = None,
    note: NoteParam = None,
) -> Response:
    """Delete (owner only); the history is kept and the event can be restored."""
    services = services_of(request)
    async with UnitOfWork.write(services.db) as unit:
        await service.delete_event(
            unit,
            ctx=write_context(user, services, request),
            event_id=event_id,
            if_match=if_match,
            note=note,
        )
    return Response(status_code=204)


@router.post(
    "/{event_id}/restore",
    response_model=EventWriteResult,
    responses=problem_responses(401, 403, 404, 409, 412),
)
async def restore_event(
    event_id: PathId,
    request: Request,
    user: CurrentUserDep,
    conflict_strategy: Strategy = "reject",
    if_match: IfMatch = None,
    note: NoteParam = None,
) -> Response:
    """Bring back a deleted event (owner only) as a new version. `If-Match` names the
    deleted version (the trash's `version`)."""
    services = services_of(request)
    async with UnitOfWork.write(services.db) as unit:
        ctx = write_context(user, services, request, conflict_strategy)
        written = await service.restore_event(
            unit, ctx=ctx, event_id=event_id, if_match=if_match, note=note
        )
        return written_response(written)


@router.get(
    "/{event_id}/occurrences",
    response_model=OccurrencesPage,
    responses=problem_responses(401, 404, 422),
)
async def list_occurrences(
    event_id: PathId,
    user: CurrentUserDep,
    session: ReadUnitDep,
    services: ServicesDep,
    start_time: WindowStart = None,
    end_time: WindowEnd = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    tz: RenderZone = None,
) -> Response:
    """The series expanded in a window; `truncated` says when `limit` cut it short."""
    # Serialised once (and cached so, per zone): up to 5,000 items built from the series,
    # not validated again.
    body = await listing.occurrences(
        session,
        services=services,
        user_id=user.id,
        event_id=event_id,
        start=start_time,
        end=end_time,
        limit=limit,
        zone=rendering_zone(tz, user.timezone),
    )
    return Response(body, media_type=JSON)
