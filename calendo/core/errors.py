"""Error hierarchy and the one problem+json (RFC 9457) renderer every error goes through.

Domain code raises ``AppError`` subclasses that carry their status; validation errors, HTTP
errors from routing (404, 405) and unexpected exceptions are rendered the same way, every
message a plain sentence (``core.error_texts``); ``ItemList`` names the failing item of a
batch or transaction, with all of its errors. An unexpected exception is logged with the
request id and answered without internals. A value the database cannot take
(``refused_value``) is a 422, not a 500, whichever backend refuses it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import StatementError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import Send

from calendo.core.error_texts import plain_message, summary

PROBLEM_TYPE_BASE = "https://calendo.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"

# WebSocket close codes (4000-4999 are application-defined).
WS_UNAUTHORIZED = 4401
WS_FORBIDDEN = 4403
WS_LAGGING = 4408  # the client fell behind: reconnect with ?since=
WS_TOO_MANY = 4429  # this user already holds CALENDO_WS_MAX_PER_USER feeds in this process

log = structlog.get_logger("calendo.errors")


class AppError(Exception):
    """Base of every expected error; subclasses set ``status``, ``slug`` and ``title``."""

    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra or {}
        self.headers = headers or {}


class BadRequest(AppError):
    """Malformed request that is not a schema validation error."""


class ValidationFailed(AppError):
    status = 422
    slug = "validation-error"
    title = "Validation failed"

    def __init__(
        self,
        detail: str,
        *,
        loc: Sequence[str | int] = ("body",),
        errors: Sequence[dict[str, Any]] | None = None,
        index: int | None = None,
    ) -> None:
        """One error at ``loc`` (its message the detail), or the given ``errors``; ``index``
        names the failing item of a batch or transaction."""
        listed = list(errors) if errors is not None else [{"loc": list(loc), "msg": detail}]
        extra: dict[str, Any] = {"errors": listed}
        if index is not None:
            extra["index"] = index
        super().__init__(detail, extra=extra)


class RecurrenceCountUnreachable(ValidationFailed):
    """A rule's COUNT that its occurrences cannot reach before the expansion horizon."""

    slug = "recurrence-count-unreachable"
    title = "Recurrence count unreachable"

    def __init__(self, *, count: int, reachable: int, horizon_year: int) -> None:
        super().__init__(
            f"COUNT={count} cannot be reached before the end of {horizon_year}: from this start "
            f"the rule yields only {reachable} occurrence(s) by {horizon_year}-12-31",
            loc=("body", "recurrence_pattern"),
        )
        self.extra.update(
            {"count": count, "reachable_count": reachable, "horizon": f"{horizon_year}-12-31"}
        )


class NotAuthenticated(AppError):
    status = 401
    slug = "not-authenticated"
    title = "Not authenticated"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class PermissionDenied(AppError):
    status = 403
    slug = "permission-denied"
    title = "Permission denied"


class NotFound(AppError):
    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(AppError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class Gone(AppError):
    status = 410
    slug = "gone"
    title = "Gone"


class PreconditionFailed(AppError):
    status = 412
    slug = "precondition-failed"
    title = "Precondition failed"


class PayloadTooLarge(AppError):
    status = 413
    slug = "payload-too-large"
    title = "Payload too large"


class NotAcceptable(AppError):
    status = 406
    slug = "not-acceptable"
    title = "Not acceptable"


class UnsupportedMediaType(AppError):
    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported media type"


class RateLimited(AppError):
    status = 429
    slug = "rate-limited"
    title = "Too many requests"


class ServiceUnavailable(AppError):
    status = 503
    slug = "service-unavailable"
    title = "Service unavailable"


class MethodNotAllowed(AppError):
    status = 405
    slug = "method-not-allowed"
    title = "Method not allowed"


class RequestTimeout(AppError):
    status = 408
    slug = "request-timeout"
    title = "Request timeout"


class HeaderFieldsTooLarge(AppError):
    status = 431
    slug = "header-fields-too-large"
    title = "Request header fields too large"


class InternalError(AppError):
    status = 500
    slug = "internal-error"
    title = "Internal server error"


# The one source of each status's problem type and title: the classes above.
ERRORS_BY_STATUS: dict[int, type[AppError]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        NotAuthenticated,
        PermissionDenied,
        NotFound,
        MethodNotAllowed,
        NotAcceptable,
        RequestTimeout,
        Conflict,
        Gone,
        PreconditionFailed,
        PayloadTooLarge,
        UnsupportedMediaType,
        ValidationFailed,
        RateLimited,
        HeaderFieldsTooLarge,
        InternalError,
        ServiceUnavailable,
    )
}


def problem_body(
    status: int, slug: str, title: str, detail: str, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The RFC 9457 problem document."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if extra:
        body.update(extra)
    return body


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Render a problem document as ``application/problem+json``."""
    content = orjson.dumps(
        problem_body(status, slug, title, detail, extra), default=str, option=orjson.OPT_UTC_Z
    )
    return Response(content, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def render_app_error(exc: AppError) -> Response:
    """Render a domain error."""
    return problem_response(
        exc.status, exc.slug, exc.title, exc.detail, extra=exc.extra, headers=exc.headers
    )


async def send_app_error(send: Send, exc: AppError) -> None:
    """Answer with ``exc`` straight from an ASGI middleware (before any route or handler)."""
    body = orjson.dumps(problem_body(exc.status, exc.slug, exc.title, exc.detail, exc.extra))
    headers = [(name.lower().encode(), value.encode()) for name, value in exc.headers.items()]
    await send(
        {
            "type": "http.response.start",
            "status": exc.status,
            "headers": [
                *headers,
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _plain_errors(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic's errors as the problem's ``errors``: ``loc`` as given, ``msg`` in plain words."""
    plain = []
    for error in errors:
        loc = error.get("loc", ())
        plain.append({"loc": [str(part) for part in loc], "msg": plain_message(error, loc=loc)})
    return plain


async def _handle_app_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    return render_app_error(exc)


async def _handle_validation(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = _plain_errors(exc.errors())
    detail = summary([e["msg"] for e in errors])
    return problem_response(
        422,
        "validation-error",
        "Validation failed",
        detail or "invalid request",
        extra={"errors": errors},
    )


async def _handle_http(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    known = ERRORS_BY_STATUS.get(exc.status_code)
    slug, title = (known.slug, known.title) if known else ("error", _describe(exc.status_code))
    detail = exc.detail if isinstance(exc.detail, str) else title
    if exc.status_code == 400 and exc.__cause__ is not None:
        detail = _BODY_UNREADABLE.get(type(exc.__cause__), detail)
    headers = dict(exc.headers) if exc.headers else None
    return problem_response(exc.status_code, slug, title, detail, headers=headers)


# What FastAPI's 400 "There was an error parsing the body" was about, when JSON that is
# well-formed could not be read (malformed JSON is a 422 of its own).
_BODY_UNREADABLE: dict[type[BaseException], str] = {
    ValueError: "The request body is not valid JSON here: a number has more digits than "
    "this server reads (4,300)",
    RecursionError: "The request body is not valid JSON here: its arrays or objects are "
    "nested too deeply",
}


async def _handle_unexpected(request: Request, exc: Exception) -> Response:
    request_id = getattr(request.state, "request_id", None)
    log.error("unhandled_exception", request_id=request_id, exc_info=exc)
    return render_app_error(
        InternalError(
            "An unexpected error occurred; it has been logged.", extra={"request_id": request_id}
        )
    )


def refused_value(exc: BaseException) -> bool:
    """Whether the error is a value the request carried that cannot be stored or compared.

    Validation should catch such values with a precise message; this is the safety net that
    keeps "never a 500 for bad input" when it does not: an integer beyond the column's range
    (PostgreSQL ``INTEGER`` is 32-bit, SQLite 64-bit), a date outside ``datetime``'s range,
    text the database encoding refuses. Those surface as ``OverflowError`` or as a PEP 249
    ``DataError`` (any driver's, recognised by name so that core imports no driver).
    """
    node: BaseException | None = exc
    for _ in range(8):
        if node is None:
            return False
        if isinstance(node, OverflowError) or any(
            cls.__name__ == "DataError" for cls in type(node).__mro__
        ):
            return True
        node = getattr(node, "orig", None) or node.__cause__
    return False


async def _handle_refused_value(request: Request, exc: Exception) -> Response:
    if not refused_value(exc):
        return await _handle_unexpected(request, exc)
    log.warning(
        "value_refused",
        request_id=getattr(request.state, "request_id", None),
        error=str(exc)[:300],
    )
    detail = "A value in the request is out of the range this service can store or compare"
    return problem_response(
        422,
        "value-out-of-range",
        "Value out of range",
        detail,
        extra={"errors": [{"loc": ["request"], "msg": detail}]},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Route every error through the problem renderer."""
    app.add_exception_handler(AppError, _handle_app_error)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    app.add_exception_handler(StarletteHTTPException, _handle_http)
    app.add_exception_handler(OverflowError, _handle_refused_value)
    app.add_exception_handler(StatementError, _handle_refused_value)
    app.add_exception_handler(Exception, _handle_unexpected)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the given error statuses."""
    return {
        status: {
            "description": _describe(status),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


def _describe(status: int) -> str:
    known = ERRORS_BY_STATUS.get(status)
    return known.title if known else HTTPStatus(status).phrase


@dataclass(frozen=True, slots=True)
class ItemList:
    """A list body whose every item must pass (a batch's ``events``, a transaction's
    ``operations``): a problem about one of its items names it (``item 3: ...`` and ``index:
    3``) and carries every error of that item, each ``loc`` pointing into it. One rule for both
    lists, whichever check fails: body validation (``invalid_item``) or the service (``name``).
    """

    field: str  # the list's field in the body
    label: str  # what a problem calls one item
    tags: frozenset[str] = frozenset()  # tags of a discriminated union, which pydantic puts in loc

    def index_of(self, loc: Sequence[Any]) -> int | None:
        """The item an error location points into, if any."""
        inside = len(loc) > 2 and loc[0] == "body" and loc[1] == self.field
        return loc[2] if inside and isinstance(loc[2], int) else None

    def invalid_item(self, errors: Sequence[Mapping[str, Any]]) -> ValidationFailed | None:
        """Body validation errors as the problem naming the first invalid item, with every
        error of that item (None: no error points into an item)."""
        indexes = [i for e in errors if (i := self.index_of(e.get("loc", ()))) is not None]
        if not indexes:
            return None
        index = min(indexes)
        plain: list[dict[str, Any]] = []
        for error in errors:
            if self.index_of(error.get("loc", ())) == index:
                loc = self._json_path(error["loc"])
                msg = plain_message(error, loc=loc, item=(self.field, self.label))
                plain.append({"loc": loc, "msg": msg})
        detail = f"{self.label} {index}: {summary([e['msg'] for e in plain])}"
        return ValidationFailed(detail, errors=plain, index=index)

    def name(self, exc: AppError, index: int, *, within: str | None = None) -> AppError:
        """``exc``, raised while checking or applying item ``index``, naming that item: each
        body ``loc`` moves into the item (under its field ``within``, where the item holds the
        checked object in a field: a transaction's ``event`` or ``changes``)."""
        exc.detail = f"{self.label} {index}: {exc.detail}"
        exc.extra = {**exc.extra, "index": index}
        if "errors" in exc.extra:
            inner = [within] if within is not None else []
            exc.extra["errors"] = [
                {**e, "loc": ["body", self.field, index, *inner, *e["loc"][1:]]}
                if list(e["loc"][:1]) == ["body"]
                else e
                for e in exc.extra["errors"]
            ]
        return exc

    def _json_path(self, loc: Sequence[Any]) -> list[Any]:
        """``loc`` without the union tag pydantic inserts after the index: the JSON path."""
        path = list(loc)
        if len(path) > 3 and path[3] in self.tags:
            del path[3]
        return path
