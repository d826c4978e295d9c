"""OpenAPI post-processing: the Problem schema, MessagePack alternatives, the problem entries
every route shares (400, 406, 408, 413, 415, 429, 431, and 503 on writes)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import iter_route_contexts

from calendo.api.auth import login_schemas
from calendo.auth.dependencies import BEARER, bearer, current_user
from calendo.core.errors import PROBLEM_MEDIA_TYPE

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details. `errors` accompanies 422, `conflicts` scheduling "
    "conflicts, `index` the failing item of a batch or transaction.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"loc": {"type": "array", "items": {}}, "msg": {"type": "string"}},
            },
        },
        "conflicts": {"type": "array", "items": {"type": "object"}},
        "index": {"type": "integer"},
    },
    "additionalProperties": True,
}

_MSGPACK = "application/msgpack"


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _summarise(operation: dict[str, Any]) -> None:
    """The handler docstring's first line is the summary; the rest stays the description."""
    description = operation.get("description") or ""
    first, _, rest = description.strip().partition("\n")
    if first:
        operation["summary"] = first.strip()
        operation["description"] = rest.strip() or first.strip()


_WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})


def _add_formats(operation: dict[str, Any], path: str, method: str) -> None:
    body = operation.get("requestBody", {}).get("content", {})
    if "application/json" in body:
        body.setdefault(_MSGPACK, body["application/json"])
    responses = operation.setdefault("responses", {})
    for status, response in responses.items():
        content = response.get("content", {})
        if status.startswith("2") and "application/json" in content:
            content.setdefault(_MSGPACK, content["application/json"])
        if status == "422":
            responses[status] = _problem(
                "Validation failed: a body field or query parameter that is invalid or unknown"
            )
    if path.startswith("/api"):
        responses.setdefault("406", _problem("No acceptable response type"))
        responses.setdefault("429", _problem("Rate limit exceeded (see Retry-After)"))
        # core.routing.StrictQueryRoute: a query parameter the operation does not list is a 422.
        responses.setdefault(
            "422",
            _problem("Validation failed: a query parameter this operation does not list"),
        )
        responses.setdefault(
            "431", _problem("Request headers over CALENDO_MAX_HEADER_BYTES (16 KiB) in all")
        )
        if method in _WRITE_METHODS:
            # core.replay: the database aborted the write (deadlock, serialization failure,
            # busy) on every one of 4 attempts; nothing was written.
            responses.setdefault(
                "503",
                _problem("The write was aborted by the database 4 times; retry (Retry-After)"),
            )
        if body:
            responses.setdefault(
                "408", _problem("A body chunk took over CALENDO_BODY_READ_TIMEOUT_SECONDS")
            )
            # Emitted by core.formats / FastAPI before validation: MessagePack that does not
            # decode, JSON nested beyond the parser's depth limit.
            responses.setdefault("400", _problem("Body cannot be parsed"))
            responses.setdefault("413", _problem("Body too large"))
            responses.setdefault("415", _problem("Unsupported body type"))


def _depends_on(dependant: Dependant, call: Any) -> bool:
    return any(d.call is call or _depends_on(d, call) for d in dependant.dependencies)


def _add_security(app: FastAPI, schema: dict[str, Any]) -> None:
    """Mark every operation whose route depends on ``current_user`` (or ``bearer``) as needing
    the bearer token, as FastAPI would if the scheme were a sub-dependency (see
    ``auth.dependencies``)."""
    name = BEARER.scheme_name
    schema["components"].setdefault("securitySchemes", {})[name] = BEARER.model.model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    for route in iter_route_contexts(app.routes):
        dependant = getattr(route, "dependant", None)
        if isinstance(dependant, Dependant) and (
            _depends_on(dependant, current_user) or _depends_on(dependant, bearer)
        ):
            item = schema["paths"].get(route.path_format, {})
            for method in route.methods or ():
                operation = item.get(method.lower())
                if operation is not None:
                    operation.setdefault("security", []).append({name: []})


def install_openapi(app: FastAPI) -> None:
    """Replace ``app.openapi`` with the post-processed schema (built once)."""

    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Problem"] = PROBLEM_SCHEMA
        components.update(login_schemas())
        _add_security(app, schema)
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        for path, item in schema.get("paths", {}).items():
            for method, operation in item.items():
                if isinstance(operation, dict) and "responses" in operation:
                    _summarise(operation)
                    _add_formats(operation, path, method)
        app.openapi_schema = schema
        return schema

    app.openapi = build  # type: ignore[method-assign]
