"""Route classes shared by the domains."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from calendo.core.errors import AppError

Reshape = Callable[[Sequence[Any]], AppError | None]


def indexed_validation_route(reshape: Reshape) -> type[APIRoute]:
    """A route class whose body validation errors name the failing item of a list body.

    FastAPI validates the body before the handler runs, so batch and transaction endpoints
    reshape the 422 here (``item 3: ...`` with ``index: 3``); errors ``reshape`` does not
    recognise (None) pass through unchanged.
    """

    class IndexedValidationRoute(APIRoute):
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
