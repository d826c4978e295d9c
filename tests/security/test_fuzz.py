"""Schemathesis against the app's own OpenAPI, in process: every operation, JSON and MessagePack.

For each operation, Hypothesis generates valid and invalid requests from the schema (and,
where the path names an event, version, user or notification, requests aimed at real ones),
sends them with a real bearer token, and checks that the server never answers 5xx and that
status codes, content types and bodies are the documented ones. Every operation with a JSON
body is fuzzed again with the body packed as MessagePack (``Content-Type`` and ``Accept``
``application/msgpack``): the responses are unpacked and checked against the same schemas.
The login form is fuzzed as ``application/x-www-form-urlencoded`` too.

Runs are derandomised (the same examples every run, so CI is reproducible) with
``CALENDO_FUZZ_EXAMPLES`` examples per operation (default 15); raise it locally to dig deeper,
or set ``CALENDO_FUZZ_RANDOM=1`` to explore new examples.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import ormsgpack
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, reject, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from calendo.app import create_app
from tests.conftest import BACKEND, make_settings
from tests.security.routes import offline_app
from tests.security.support import module_database

EXAMPLES = int(os.environ.get("CALENDO_FUZZ_EXAMPLES", "15"))
DERANDOMIZE = os.environ.get("CALENDO_FUZZ_RANDOM", "") != "1"
WORLDS = itertools.count()
JSON, MSGPACK, FORM = "application/json", "application/msgpack", "application/x-www-form-urlencoded"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@schemathesis.serializer(MSGPACK)
def _pack(_ctx: Any, value: Any) -> bytes:
    return bytes(ormsgpack.packb(value))


@schemathesis.deserializer(MSGPACK)
def _unpack(_ctx: Any, response: Any) -> Any:
    return ormsgpack.unpackb(response.content)


def _operations() -> dict[str, list[tuple[str, str]]]:
    """(METHOD, path) of every documented operation, and of those taking each body type."""
    found: dict[str, list[tuple[str, str]]] = {"all": [], JSON: [], FORM: []}
    for path, item in offline_app().openapi()["paths"].items():
        for method, operation in item.items():
            found["all"].append((method.upper(), path))
            content = operation.get("requestBody", {}).get("content", {})
            for media in (JSON, FORM):
                if media in content:
                    found[media].append((method.upper(), path))
    return found


OPERATIONS = _operations()


# Operations whose body schema cannot be generated because the document is broken, each with
# a strict xfail mark so that it cannot outlive the bug. None at the moment.
BROKEN_BODIES: dict[tuple[str, str], Any] = {}


def _params(operations: list[tuple[str, str]], *, body: bool) -> list[Any]:
    """pytest params named ``METHOD path``, with the known-broken bodies marked."""
    return [
        pytest.param(
            method,
            path,
            id=f"{method} {path}",
            marks=[BROKEN_BODIES[(method, path)]]
            if body and (method, path) in BROKEN_BODIES
            else [],
        )
        for method, path in operations
    ]


def dangling_refs(document: dict[str, Any], node: Any = None) -> list[str]:
    """Every ``$ref`` under ``node`` (default: the whole document) that names nothing."""
    found: list[str] = []

    def resolves(ref: str) -> bool:
        node: Any = document
        for part in ref.removeprefix("#/").split("/"):
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and not resolves(ref):
                found.append(ref)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document if node is None else node)
    return sorted(set(found))


@dataclass
class Target:
    """A live app with a known world: alice's event shared with bob, at version 2."""

    schema: Any
    token: str
    known: dict[str, int | str]

    def known_for(self, path: str) -> dict[str, int | str]:
        return {name: value for name, value in self.known.items() if "{" + name + "}" in path}


def _prepare_world(app: Any, n: int) -> tuple[str, dict[str, int | str]]:
    """Register alice and bob (suffixed ``n``); alice's event shared with bob, who edits it
    (so alice has a notification). Returns alice's token and the ids the paths may name."""
    with asgi.get_client(app) as client:
        tokens, ids = {}, {}
        for name in (f"alice{n}", f"bob{n}"):
            body = {"username": name, "email": f"{name}@example.com", "password": "s3cret-pass"}
            response = client.post("/api/auth/register", json=body)
            assert response.status_code == 201, response.text
            tokens[name] = {"Authorization": f"Bearer {response.json()['access_token']}"}
            ids[name] = response.json()["user"]["id"]
        alice, bob = tokens[f"alice{n}"], tokens[f"bob{n}"]
        event = {
            "title": "Fuzz",
            "start_time": "2026-03-20T10:00:00Z",
            "end_time": "2026-03-20T11:00:00Z",
            "recurrence_pattern": "FREQ=WEEKLY",
        }
        created = client.post("/api/events", json=event, headers=alice).json()
        share = {"users": [{"user_id": ids[f"bob{n}"], "role": "editor"}]}
        client.post(f"/api/events/{created['id']}/share", json=share, headers=alice)
        client.put(f"/api/events/{created['id']}", json={"title": "Fuzz 2"}, headers=bob)
        inbox = client.get("/api/notifications", headers=alice).json()["items"]
    known = {
        "event_id": created["id"],
        "user_id": ids[f"bob{n}"],
        "version_id": 1,
        "version_id1": 1,
        "version_id2": 2,
        "notification_id": inbox[0]["id"],
        "recurrence_id": "2026-03-27T10:00:00Z",  # the series' second occurrence
    }
    return alice["Authorization"].removeprefix("Bearer "), known


@pytest.fixture(scope="module")
def fuzz_database(
    database_template: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with module_database(database_template, tmp_path_factory.mktemp("fuzz")) as url:
        yield url


@pytest.fixture(scope="module")
def fuzzed_schema(fuzz_database: str) -> Iterator[Any]:
    """One app for the module, served in process by Schemathesis' ASGI client (which runs
    its lifespan); building it is the slow part."""
    redis_url = os.environ.get("CALENDO_TEST_REDIS_URL") if BACKEND == "postgres" else None
    app = create_app(make_settings(fuzz_database, redis_url))
    try:
        yield schemathesis.openapi.from_asgi("/openapi.json", app)
    finally:
        asgi.shutdown_lifespans()


@pytest.fixture
def target(fuzzed_schema: Any) -> Target:
    """A world of its own for each case: fresh accounts and event, so that one operation's
    writes (a logout, a delete) never blunt the next one's requests."""
    token, known = _prepare_world(fuzzed_schema.app, next(WORLDS))
    return Target(fuzzed_schema, token, known)


def _strategy(target: Target, method: str, path: str, media: str | None) -> Any:
    """Valid and invalid cases, plus valid ones aimed at the real event, version and users."""
    operation = target.schema[path][method]
    strategies = [
        operation.as_strategy(GenerationMode.POSITIVE, media_type=media),
        operation.as_strategy(GenerationMode.NEGATIVE, media_type=media),
    ]
    known = target.known_for(path)
    if known:
        strategies.append(
            operation.as_strategy(GenerationMode.POSITIVE, path_parameters=known, media_type=media)
        )
    return st.one_of(strategies)


def _pin_media_type(case: Case[Any], media: str | None) -> None:
    """Send the body as ``media``: Schemathesis draws one of the documented body types, and
    JSON and MessagePack share one schema, so a JSON draw is re-labelled; others are rejected."""
    if media is None or case.media_type == media:
        return
    if media == FORM or case.media_type not in (JSON, MSGPACK):
        reject()
    case.media_type = media


def _packable(case: Case[Any]) -> bool:
    """Whether MessagePack can carry the generated body (no integers beyond 64 bits)."""
    try:
        ormsgpack.packb(case.body)
    except (TypeError, ValueError, OverflowError):
        return False
    return True


def fuzz(target: Target, method: str, path: str, media: str | None, accept: str) -> None:
    """Send EXAMPLES generated requests; fail on the first check that does not hold."""
    document = target.schema.raw_schema
    body = document["paths"][path][method.lower()].get("requestBody", {}).get("content", {})
    broken = dangling_refs(document, body.get(media)) if media else []
    assert not broken, f"{method} {path} {media} bodies cannot be generated: dangling {broken}"

    @given(case=_strategy(target, method, path, media))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=DERANDOMIZE,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def send(case: Case[Any]) -> None:
        _pin_media_type(case, media)
        if media == MSGPACK and not _packable(case):
            reject()
        headers = {"Authorization": f"Bearer {target.token}", "Accept": accept}
        response = case.call(headers=headers, timeout=20)
        case.validate_response(response, checks=CHECKS, headers=headers)

    send()


@pytest.mark.parametrize(("method", "path"), _params(OPERATIONS["all"], body=True))
def test_json(target: Target, method: str, path: str) -> None:
    media = JSON if (method, path) in OPERATIONS[JSON] else None
    fuzz(target, method, path, media, accept=JSON)


@pytest.mark.parametrize(("method", "path"), _params(OPERATIONS[JSON], body=True))
def test_msgpack(target: Target, method: str, path: str) -> None:
    fuzz(target, method, path, MSGPACK, accept=MSGPACK)


@pytest.mark.parametrize(("method", "path"), _params(OPERATIONS[FORM], body=False))
def test_form(target: Target, method: str, path: str) -> None:
    fuzz(target, method, path, FORM, accept=JSON)


def test_openapi_has_no_dangling_refs() -> None:
    assert dangling_refs(offline_app().openapi()) == []


def test_every_route_is_fuzzed() -> None:
    """Each HTTP route of the route table is a documented operation (so it is fuzzed above)."""
    from tests.security.routes import WS, api_routes

    documented = set(OPERATIONS["all"])
    missing = [r for r in api_routes(offline_app()) if r[0] != WS and r not in documented]
    assert not missing, f"routes missing from the OpenAPI schema: {missing}"


UNPARSEABLE = {
    "msgpack": (b"\xc1\xc1", MSGPACK),
    "json-too-deep": (b"[" * 10_000 + b"]" * 10_000, JSON),
    "json-not-utf8": (b'{"title": "\xff\xfe"}', JSON),
}


@pytest.mark.parametrize("kind", UNPARSEABLE)
def test_unparseable_bodies_get_documented_problems(target: Target, kind: str) -> None:
    """Bodies that never reach validation still get a problem whose status is documented."""
    content, media = UNPARSEABLE[kind]
    document = target.schema.raw_schema
    headers = {"Authorization": f"Bearer {target.token}", "Content-Type": media}
    with asgi.get_client(target.schema.app) as client:
        for method, path in OPERATIONS[JSON]:
            url = path.format(**{k: str(v) for k, v in target.known_for(path).items()})
            response = client.request(method, url, data=content, headers=headers)
            assert 400 <= response.status_code < 500, (method, path, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            documented = document["paths"][path][method.lower()]["responses"]
            assert str(response.status_code) in documented, (method, path, response.status_code)
