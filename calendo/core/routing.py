"""Route classes shared by the domains: strict query strings, and 422s that name a list item."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel

from calendo.core.errors import AppError, ValidationFailed

Reshape = Callable[[Sequence[Any]], AppError | None]


def declared_query_names(route: APIRoute) -> frozenset[str]:
    """Every query parameter the route documents: its own and its dependencies' (a parameter
    model counts by its fields), and those its ``openapi_extra`` declares (``query_model``)."""
    names: set[str] = set()
    pending: list[Dependant] = [route.dependant]
    while pending:
        dependant = pending.pop()
        for field in dependant.query_params:
            model = field.field_info.annotation
            if isinstance(model, type) and issubclass(model, BaseModel):
                names.update(info.alias or name for name, info in model.model_fields.items())
            else:
                names.add(field.alias)
        pending.extend(dependant.dependencies)
    for parameter in (route.openapi_extra or {}).get("parameters", []):
        if parameter.get("in") == "query":
            names.add(parameter["name"])
    return frozenset(names)


class StrictQueryRoute(APIRoute):
    """A route that refuses the query parameters it does not declare, with a 422, as an unknown
    body field is refused: a typo such as ``start`` for ``start_time`` must not silently widen
    a read. The declared names are collected once, when the route is built; a request with a
    query string pays one set difference."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        allowed = declared_query_names(self)
        takes = ", ".join(sorted(allowed)) or "no query parameters"

        async def route_handler(request: Request) -> Response:
            if request.scope.get("query_string"):
                unknown = sorted(request.query_params.keys() - allowed)
                if unknown:
                    raise ValidationFailed(
                        f"Unknown query parameter {unknown[0]!r}; this endpoint takes: {takes}",
                        loc=("query", unknown[0]),
                    )
            return await handler(request)

        return route_handler


def indexed_validation_route(reshape: Reshape) -> type[APIRoute]:
    """A route class whose body validation errors name the failing item of a list body.

    FastAPI validates the body before the handler runs, so batch and transaction endpoints
    reshape the 422 here (``item 3: ...`` with ``index: 3``); errors ``reshape`` does not
    recognise (None) pass through unchanged.
    """

    class IndexedValidationRoute(StrictQueryRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def route_handler(request: Request) -> Response:
                try:
                    return await handler(request)
                except RequestValidationError as exc:
                    named = reshape(exc.errors())
                    if named is None:
                        raise
                    raise named from exc

            return route_handler

    return IndexedValidationRoute
