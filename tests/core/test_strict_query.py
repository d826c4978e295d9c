"""Query strings are as strict as bodies, on every operation under ``/api``: a parameter the
operation does not list is a 422 naming it (``core.routing.StrictQueryRoute``), and the
OpenAPI text says so."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.helpers import Actor, assert_problem
from tests.security.routes import offline_app

METHODS = ("get", "post", "put", "patch", "delete")  # the WebSocket is no OpenAPI operation
UNKNOWN = "frobnicate"
# In range for a path id (core.deps.PathId) and naming nothing: the check runs before the
# route's dependencies, so neither a missing resource nor a missing body hides the 422.
NO_SUCH_ID = 2_147_483_647


def _operations(spec: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, item in spec["paths"].items()
        if path.startswith("/api")
        for method in item
        if method in METHODS
    ]


OPERATIONS = _operations(offline_app().openapi())


async def test_the_served_schema_documents_the_strictness(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert sorted(_operations(spec)) == sorted(OPERATIONS)  # the test below covers them all
    assert "unknown query parameters are both 422" in spec["info"]["description"]
    for method, path in OPERATIONS:
        description = spec["paths"][path][method.lower()]["responses"]["422"]["description"]
        assert re.search(
            r"query parameter (that is invalid or unknown|this operation does not list)",
            description,
        ), (method, path, description)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
async def test_an_unknown_query_parameter_is_a_422_naming_it(
    client: httpx.AsyncClient, owner: Actor, method: str, path: str
) -> None:
    url = re.sub(r"\{[a-z_0-9]+\}", str(NO_SUCH_ID), path)
    response = await client.request(method, url, params={UNKNOWN: "1"}, headers=owner.headers)
    problem = assert_problem(response, 422, "validation-error")
    assert problem["errors"][0]["loc"] == ["query", UNKNOWN]
    assert problem["detail"].startswith(f"Unknown query parameter '{UNKNOWN}'; this endpoint takes")
