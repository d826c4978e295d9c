"""Subscription feed endpoints: create, list and revoke feed tokens; serve a feed.

The feed itself (``GET /api/feeds/{token}.ics``) takes no other credential than the secret in
its path. It lives under ``/api`` so that it gets every guard ``/api`` has (header and body
limits, the rate limit, per client IP since it carries no bearer token); it answers only
``text/calendar`` (``api.CALENDAR_ONLY_PATHS``, core/formats.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from calendo.auth.dependencies import CurrentUserDep
from calendo.core.deps import PathId, ReadUnitDep, client_ip, services_of
from calendo.core.errors import problem_responses
from calendo.core.formats import json_response
from calendo.core.routing import StrictQueryRoute
from calendo.core.uow import UnitOfWork
from calendo.ical import convert, export, tokens
from calendo.ical.schemas import FeedCreate, FeedCreated, FeedList

router = APIRouter(tags=["feeds"], route_class=StrictQueryRoute)


@router.post(
    "",
    status_code=201,
    response_model=FeedCreated,
    responses=problem_responses(401, 409, 422),
)
async def create_feed(data: FeedCreate, request: Request, user: CurrentUserDep) -> Response:
    """Create a subscription feed of the caller's calendar, its secret URL shown this once.

    The secret is stored hashed and never shown again (the list shows names and ids only).

    `url` is the feed's address on this server (the request's scheme and host), `webcal_url`
    the same with the `webcal://` scheme that calendar programs open. A `busy_only` feed
    shows each busy event as its times and `SUMMARY:Busy`, nothing else. An account holds at
    most 20 feeds (409 beyond). Audited as `feed_created`.
    """
    async with UnitOfWork.write(services_of(request).db) as unit:
        feed, secret = await tokens.create_feed(
            unit, user=user, name=data.name, busy_only=data.busy_only, ip=client_ip(request)
        )
    url = str(request.url_for("get_feed", token=secret))
    webcal = "webcal://" + url.partition("://")[2]
    body = {**feed, "token": secret, "url": url, "webcal_url": webcal}
    return json_response(body, status_code=201, headers={"Cache-Control": "no-store"})


@router.get("", response_model=FeedList, responses=problem_responses(401))
async def list_feeds(user: CurrentUserDep, unit: ReadUnitDep) -> Response:
    """The caller's feeds, oldest first: names and ids, never their secrets."""
    return json_response({"items": await tokens.list_feeds(unit, user_id=user.id)})


@router.delete("/{feed_id}", status_code=204, responses=problem_responses(401, 404))
async def revoke_feed(feed_id: PathId, request: Request, user: CurrentUserDep) -> Response:
    """Revoke one of the caller's feeds: its URL answers 404 from now on.

    Refused at once in every server process (each feed request looks its secret up). Another
    user's feed is 404 too. Audited as `feed_revoked`."""
    async with UnitOfWork.write(services_of(request).db) as unit:
        await tokens.revoke_feed(unit, user=user, feed_id=feed_id, ip=client_ip(request))
    return Response(status_code=204)


FeedSecret = Annotated[str, Path(max_length=100, description="The feed's secret.")]


@router.get(
    "/{token}.ics",
    response_class=Response,
    responses={
        200: {"content": {"text/calendar": {}}, "description": "The calendar (RFC 5545)"},
        304: {"description": "Not modified: the `If-None-Match` tag is current"},
        **problem_responses(404, 406, 422),
    },
)
async def get_feed(token: FeedSecret, request: Request) -> Any:
    """A subscription feed: the owner's calendar as `text/calendar`, no other credential.

    The events the owner can see (owned and shared) with an occurrence from 365 days before
    today (UTC) to 730 days after, at most `CALENDO_ICAL_MAX_EVENTS` (422 beyond).
    404 for a secret that opens no feed (unknown, revoked, or its account deleted). Answers
    `ETag`; a request whose `If-None-Match` names the current tag gets 304, computed before any
    event is read. Counted against `CALENDO_RATE_LIMIT_DEFAULT` per client IP. A busy-only feed
    holds, per opaque event, only `UID`, `DTSTAMP`, `DTSTART`, `DTEND`, `RRULE`, `RDATE`,
    `EXDATE` and `SUMMARY:Busy`.
    """
    services = services_of(request)
    reads = services.db.reads
    feed = await tokens.open_feed(reads, token)
    answer = await export.feed_calendar(
        reads,
        feed=feed,
        cap=services.settings.ical_max_events,
        if_none_match=request.headers.get("if-none-match"),
        now=datetime.now(UTC),
        cache=services.cache,
        ttl=services.settings.cache_ttl_seconds,
    )
    headers = {"ETag": answer.tag, "Cache-Control": "private, no-cache"}
    if answer.body is None:
        return Response(status_code=304, headers=headers)
    return Response(answer.body, media_type=convert.MEDIA_TYPE, headers=headers)
