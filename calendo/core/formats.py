"""Content negotiation: JSON (orjson) or MessagePack (ormsgpack) for every body.

A pure ASGI middleware so that every route, error and validation response gets the same
treatment without each handler knowing: request bodies in MessagePack are turned into JSON
before routing, JSON responses are re-encoded as MessagePack when the client asks for it,
unsupported ``Accept`` is 406, unsupported ``Content-Type`` is 415, an oversized body is 413.
Problem documents stay ``application/problem+json`` whatever ``Accept`` says, so any client can
read an error.

Text that no supported database can store is refused here, once for every route, with a 422:
a NUL character (``\\u0000`` in JSON, ``%00`` in a query or form) is legal in SQLite but
PostgreSQL rejects it mid-transaction, which would otherwise surface as a 500 on one backend
only. A JSON body that is not UTF-8 (RFC 8259) is a 422 like any other malformed JSON.

A MessagePack body is exactly one object: bytes after it are a 422, as data after a JSON
value is (invalid MessagePack is a 400). The middleware also makes the serving app's settings
known to the validators of the request (``core.bounded``: a batch is counted against
``CALENDO_BATCH_MAX`` before any item is validated).

Times in JSON bodies are written in one place, ``encode_json``: in UTC with ``Z`` by default,
or with the offset of the zone a read asks for. A MessagePack response is converted from that
JSON, so it carries the same RFC 3339 strings (never the timestamp extension, which has no
offset).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
import ormsgpack
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from calendo.core.bounded import SERVING_SETTINGS
from calendo.core.config import Settings
from calendo.core.errors import (
    BadRequest,
    NotAcceptable,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
    send_app_error,
)

JSON = "application/json"
MSGPACK = "application/msgpack"
# iCalendar (RFC 5545), offered by the routes the app names (``calendar_paths``) and the only
# type of its feeds (``calendar_only_paths``); the route reads the choice with ``negotiated``.
CALENDAR = "text/calendar"
_FORMAT_KEY = "calendo.format"
_MSGPACK_TYPES = {MSGPACK, "application/x-msgpack"}
_JSON_TYPES = {JSON, "application/problem+json"}
_FORM_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}
_FORM_PATHS = {"/api/auth/login"}
# The routes whose body is an iCalendar file (text/calendar, or a multipart upload of one).
_CALENDAR_BODY_PATHS = {"/api/events/import"}
_MULTIPART = "multipart/form-data"
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
_MSGPACK_ERRORS = (ormsgpack.MsgpackDecodeError, TypeError, ValueError)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TRAILING = "a MessagePack body must be exactly one object; bytes follow the first one"
# The decoder's own reasons ("invalid type Reserved") name its internals: one plain sentence.
_NOT_MSGPACK = "The request body is not valid MessagePack"
_SEND_MSGPACK = "send one complete MessagePack value whose map keys are strings"
# A JSON \u0000 escape whose backslash is not itself escaped (an odd run of backslashes).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def _media_ranges(accept: str) -> list[tuple[str, float]]:
    """Parse an Accept header into (type, q) pairs, in header order."""
    ranges = []
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        if not fields[0]:
            continue
        q = 1.0
        for param in fields[1:]:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        ranges.append((fields[0].lower(), q))
    return ranges


def _quality(ranges: list[tuple[str, float]], media: str) -> float:
    major = media.split("/")[0]
    best = 0.0
    for name, q in ranges:
        if name in (media, "*/*", f"{major}/*") or (name in _JSON_TYPES and media == JSON):
            best = max(best, q)
    return best


def choose_format(
    accept: str | None, *, allow_html: bool, allow_calendar: bool = False
) -> str | None:
    """The response type for this Accept header, or None when nothing we produce fits.

    ``allow_calendar``: ``text/calendar`` is offered too, chosen when the client prefers it to
    JSON and MessagePack (``*/*`` alone still means JSON).
    """
    if not accept or not accept.strip():
        return JSON
    ranges = _media_ranges(accept)
    json_q = _quality(ranges, JSON)
    msgpack_q = max(_quality(ranges, m) for m in _MSGPACK_TYPES)
    if allow_calendar and _quality(ranges, CALENDAR) > max(json_q, msgpack_q):
        return CALENDAR
    if msgpack_q > json_q and any(n in _MSGPACK_TYPES for n, _ in ranges):
        return MSGPACK
    if json_q > 0:
        return JSON
    if allow_html and _quality(ranges, "text/html") > 0:
        return "text/html"
    return None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _settings_of(scope: Scope) -> Settings | None:
    """The settings of the app serving this request (None before its lifespan started)."""
    services = getattr(scope["app"].state, "services", None) if "app" in scope else None
    return services.settings if services is not None else None


def negotiated(scope: Scope) -> str:
    """The response type the middleware chose for this request (JSON outside ``/api``)."""
    return str(scope.get(_FORMAT_KEY, JSON))


class NegotiationMiddleware:
    """Negotiate request and response formats for everything under ``/api``.

    ``GET`` of a path matching ``calendar_paths`` may also answer ``text/calendar``; one
    matching ``calendar_only_paths`` answers nothing else (406 when ``Accept`` excludes it).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        file_body_bytes: int | None = None,
        calendar_paths: re.Pattern[str] | None = None,
        calendar_only_paths: re.Pattern[str] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # The limit of the paths that take a file (an iCalendar import), when it differs.
        self.file_body_bytes = file_body_bytes or max_body_bytes
        self.calendar_paths = calendar_paths
        self.calendar_only_paths = calendar_only_paths

    def _choose(self, scope: Scope) -> tuple[str | None, str]:
        """The response type, and the types this path offers (for a 406)."""
        accept = _header(scope, b"accept")
        path = scope["path"]
        if scope["method"] in ("GET", "HEAD"):
            if self.calendar_only_paths is not None and self.calendar_only_paths.fullmatch(path):
                fits = not accept or _quality(_media_ranges(accept), CALENDAR) > 0
                return (CALENDAR if fits else None), CALENDAR
            if self.calendar_paths is not None and self.calendar_paths.fullmatch(path):
                chosen = choose_format(accept, allow_html=False, allow_calendar=True)
                return chosen, f"{JSON}, {MSGPACK}, {CALENDAR}"
        allow_html = b"format=html" in scope.get("query_string", b"")
        return choose_format(accept, allow_html=allow_html), f"{JSON}, {MSGPACK}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api"):
            await self.app(scope, receive, send)
            return
        response_format, offered = self._choose(scope)
        if response_format is None:
            await send_app_error(send, NotAcceptable(f"Supported response types: {offered}"))
            return
        scope[_FORMAT_KEY] = response_format
        if _has_nul_query(scope.get("query_string", b"")):
            await _send_invalid(send, "query", "NUL characters are not allowed")
            return
        content_type = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
        declared = _header(scope, b"content-length")
        limit = self.file_body_bytes if _takes_file(scope["path"]) else self.max_body_bytes
        if declared and declared.isdigit() and int(declared) > limit:
            await send_app_error(send, _too_large(limit))
            return
        if scope["method"] in _BODY_METHODS:
            body = await _read_body(receive, limit)
            if body is None:
                await send_app_error(send, _too_large(limit))
                return
            rewritten = await self._rewrite_request(scope, send, body, content_type)
            if rewritten is None:
                return
            scope, receive = rewritten
        if response_format == MSGPACK:
            send = _msgpack_sender(send)
        # Validators whose limit is a setting (a batch's item count) read this app's.
        token = SERVING_SETTINGS.set(_settings_of(scope))
        try:
            await self.app(scope, receive, send)
        finally:
            SERVING_SETTINGS.reset(token)

    async def _rewrite_request(
        self, scope: Scope, send: Send, body: bytes, content_type: str
    ) -> tuple[Scope, Receive] | None:
        if body and not _body_type_allowed(content_type, scope["path"]):
            await send_app_error(
                send, UnsupportedMediaType("Send application/json or application/msgpack")
            )
            return None
        if body and content_type in _MSGPACK_TYPES:
            try:
                as_json = orjson.dumps(_unpack(body), default=str)
            except _MSGPACK_ERRORS as exc:
                await send_app_error(send, BadRequest(_not_msgpack(exc)))
                return None
            if not _single_object(body):
                # Like a JSON body with data after its value: a 422 validation problem.
                await _send_invalid(send, "body", _TRAILING)
                return None
            body = as_json
            headers = [
                (k, v) for k, v in scope["headers"] if k not in (b"content-type", b"content-length")
            ]
            headers += [
                (b"content-type", JSON.encode()),
                (b"content-length", str(len(body)).encode()),
            ]
            scope = {**scope, "headers": headers}
        problem = _unstorable_text(body, content_type)
        if problem is not None:
            await _send_invalid(send, "body", problem)
            return None
        return scope, _replay(body)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"Request bodies are limited to {limit} bytes")


def _takes_file(path: str) -> bool:
    """Whether ``path`` takes a file (``text/calendar`` or a form upload) as its body."""
    return path in _CALENDAR_BODY_PATHS


TIMESTAMP_EXT = -1  # the MessagePack spec's timestamp extension type


def timestamp_from_ext(code: int, data: bytes) -> str:
    """A MessagePack timestamp (extension type -1) as the RFC 3339 UTC string JSON would carry.

    The spec's three layouts: 32-bit seconds; 64-bit with 30 bits of nanoseconds over 34 bits
    of seconds; 96-bit with 32 bits of nanoseconds and signed 64-bit seconds. Nanoseconds are
    cut to microseconds (Python's resolution). Any other extension type is refused.
    """
    if code != TIMESTAMP_EXT:
        raise ValueError(f"unsupported extension type {code} (only timestamps, type -1)")
    if len(data) == 4:
        seconds, nanoseconds = int.from_bytes(data, "big"), 0
    elif len(data) == 8:
        packed = int.from_bytes(data, "big")
        seconds, nanoseconds = packed & 0x3_FFFF_FFFF, packed >> 34
    elif len(data) == 12:
        nanoseconds = int.from_bytes(data[:4], "big")
        seconds = int.from_bytes(data[4:], "big", signed=True)
    else:
        raise ValueError(f"a timestamp extension holds 4, 8 or 12 bytes, not {len(data)}")
    if nanoseconds > 999_999_999:
        raise ValueError("a timestamp's nanoseconds must be below one second")
    try:
        moment = _EPOCH + timedelta(seconds=seconds, microseconds=nanoseconds // 1000)
    except OverflowError:
        raise ValueError(f"timestamp {seconds} s is outside the representable years") from None
    return moment.isoformat().replace("+00:00", "Z")


class ExtensionRefused(ValueError):
    """A MessagePack extension this service does not read; str(exc) says why, plainly."""


def _not_msgpack(exc: Exception) -> str:
    reason = str(exc) if isinstance(exc, ExtensionRefused) else _SEND_MSGPACK
    return f"{_NOT_MSGPACK}: {reason}"


def _unpack(body: bytes | memoryview) -> Any:
    """Decode MessagePack, timestamps as RFC 3339 strings; a refused extension says why
    (ormsgpack reports only "ext_hook failed", so the hook keeps its own reason)."""
    refused: list[str] = []

    def hook(code: int, data: bytes) -> str:
        try:
            return timestamp_from_ext(code, data)
        except ValueError as exc:
            refused.append(str(exc))
            raise

    try:
        return ormsgpack.unpackb(body, ext_hook=hook)
    except _MSGPACK_ERRORS:
        if refused:
            raise ExtensionRefused(refused[0]) from None
        raise


def _single_object(body: bytes) -> bool:
    """Whether a MessagePack body that decodes holds nothing after its first object.

    ``ormsgpack.unpackb`` ignores whatever follows the first object and reports no offset.
    MessagePack is prefix-free (an object's header says how long it is), so the first object
    ends before the last byte exactly when the body without its last byte still decodes: one
    more decode, no copy, and exact whatever encoding the client chose.
    """
    try:
        _unpack(memoryview(body)[:-1])
    except _MSGPACK_ERRORS:
        return True
    return False


def _has_nul_query(query: bytes) -> bool:
    return b"\x00" in query or b"%00" in query


def _unstorable_text(body: bytes, content_type: str) -> str | None:
    """Why a body (JSON after MessagePack conversion, or a form) cannot be stored, if so."""
    if not body:
        return None
    if content_type == CALENDAR:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return "an iCalendar body must be UTF-8 (RFC 5545 3.1.4)"
        return "NUL characters are not allowed" if b"\x00" in body else None
    if content_type in _FORM_TYPES:
        urlencoded = content_type == "application/x-www-form-urlencoded"
        nul = b"\x00" in body or (urlencoded and b"%00" in body)
        return "NUL characters are not allowed" if nul else None
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "JSON bodies must be UTF-8"
    if b"\\u0000" in body and _JSON_NUL.search(body):
        return "NUL characters (\\u0000) are not allowed"
    return None


def _body_type_allowed(content_type: str, path: str) -> bool:
    if content_type in _JSON_TYPES or content_type in _MSGPACK_TYPES:
        return True
    if content_type in (CALENDAR, _MULTIPART) and _takes_file(path):
        return True
    if content_type.startswith("application/") and content_type.endswith("+json"):
        return True
    return content_type in _FORM_TYPES and path in _FORM_PATHS


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _msgpack_sender(send: Send) -> Send:
    """Wrap ``send`` so that a JSON response body goes out as MessagePack."""
    start: Message | None = None
    chunks: list[bytes] = []

    async def wrapped(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            headers = dict(message.get("headers", []))
            if headers.get(b"content-type", b"").split(b";")[0] == JSON.encode():
                start = message
                return
            await send(message)
            return
        if start is None or message["type"] != "http.response.body":
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        raw = b"".join(chunks)
        body = ormsgpack.packb(orjson.loads(raw)) if raw else b""
        out_headers = [
            (k, v)
            for k, v in start.get("headers", [])
            if k not in (b"content-type", b"content-length")
        ]
        out_headers += [
            (b"content-type", MSGPACK.encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({**start, "headers": out_headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return wrapped


async def _send_invalid(send: Send, where: str, detail: str) -> None:
    """A 422 validation problem about the whole body or query string."""
    await send_app_error(
        send, ValidationFailed(f"{where}: {detail}", errors=[{"loc": [where], "msg": detail}])
    )


def _in_zone(zone: tzinfo) -> Callable[[Any], str]:
    """orjson's ``default`` for ``OPT_PASSTHROUGH_DATETIME``: an instant as RFC 3339 with
    ``zone``'s offset at that instant. An offset RFC 3339 cannot write (whole seconds, as in
    some zones' local mean time before 1940) is rendered in UTC instead: same instant."""

    def render(value: Any) -> str:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value.isoformat()  # a date (an all-day event's) has no zone: as it is
        if not isinstance(value, datetime):
            raise TypeError(f"{type(value).__name__} is not JSON serializable")
        instant = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        local = instant.astimezone(zone)
        offset = local.utcoffset()
        if offset is not None and offset.total_seconds() % 60:
            return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")
        return local.isoformat()

    return render


def encode_json(value: Any, *, zone: str = "UTC") -> bytes:
    """orjson with the options every response uses: the one place times are written.

    Every ``datetime`` in ``value`` is written as RFC 3339: in UTC with ``Z`` by default
    (``zone="UTC"``, bytes as they always were), or, for any other IANA ``zone`` (validated
    by the caller), with that zone's offset at that instant (``2026-03-12T18:00:00+01:00``),
    the same instant. Times must reach this as ``datetime``s, not strings, to be rendered.
    """
    if zone == "UTC":
        return orjson.dumps(value, option=orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS)
    try:
        local = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):  # a zone the tz database no longer knows
        return encode_json(value)
    return orjson.dumps(
        value,
        default=_in_zone(local),
        option=orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS,
    )


def json_response(
    body: Any,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    zone: str = "UTC",
) -> Response:
    """A JSON response serialised once with orjson, for hot read paths whose bodies are
    built from trusted rows (FastAPI would otherwise validate them again against the model);
    its times are rendered in ``zone`` (``encode_json``)."""
    content = encode_json(body, zone=zone)
    return Response(content, status_code=status_code, media_type=JSON, headers=headers)
