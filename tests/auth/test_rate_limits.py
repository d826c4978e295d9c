"""The auth routes' limits (core/auth_limits.py): failed logins per IP, checked before the
password; a per-account backoff that slows but never locks out; successes and registrations
in a higher budget of their own; refreshes in another; 404 and 405 counted by none.

Waits are never slept through: ``AuthLimits.end_waits`` ends them, as their expiry would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from calendo.app import create_app
from calendo.core.auth_limits import AuthLimits
from tests.conftest import make_settings
from tests.helpers import Actor, assert_problem, register

PASSWORD = "s3cret-pass"


@asynccontextmanager
async def limited_app(
    database_url: str, redis_url: str | None, **limits: Any
) -> AsyncIterator[FastAPI]:
    """An app with the limits on (and the given overrides); its counters start empty."""
    settings = make_settings(database_url, redis_url, rate_limit_enabled=True, **limits)
    app = create_app(settings)
    async with LifespanManager(app):
        await app.state.limiter.reset()
        yield app


def client_at(app: FastAPI, ip: str) -> httpx.AsyncClient:
    """A client whose requests come from ``ip``."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://t")


def count_verifications(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every password the app verifies (the Argon2 work a limit must spare)."""
    hasher = app.state.services.hasher
    verify: Callable[[str, str | None], bool] = hasher.verify
    seen: list[str] = []

    def counting(password: str, stored: str | None) -> bool:
        seen.append(password)
        return verify(password, stored)

    monkeypatch.setattr(hasher, "verify", counting)
    return seen


async def login(client: httpx.AsyncClient, name: str, password: str) -> httpx.Response:
    return await client.post("/api/auth/login", json={"username": name, "password": password})


def quota(response: httpx.Response) -> tuple[int, int]:
    """(RateLimit-Limit, RateLimit-Remaining) of a response."""
    assert int(response.headers["ratelimit-reset"]) >= 0
    return int(response.headers["ratelimit-limit"]), int(response.headers["ratelimit-remaining"])


def retry_after(response: httpx.Response) -> int:
    assert_problem(response, 429, "rate-limited")
    return int(response.headers["retry-after"])


async def end_waits(app: FastAPI, name: str, ip: str) -> None:
    """What the passing of the current waits would do."""
    await AuthLimits(app.state.limiter).end_waits(name, ip)


async def audit_actions(app: FastAPI, user: Actor) -> list[str]:
    async with client_at(app, "10.9.9.9") as client:
        response = await client.get("/api/audit", headers=user.headers, params={"limit": 200})
    assert response.status_code == 200, response.text
    return [entry["action"] for entry in response.json()["items"]]


async def test_three_registrations_and_a_login_are_not_limited(
    database_url: str, redis_url: str | None
) -> None:
    async with limited_app(database_url, redis_url) as app, client_at(app, "10.0.0.1") as client:
        users = [await register(client, name) for name in ("anna", "bert", "carl")]
        response = await login(client, "anna", PASSWORD)
        assert response.status_code == 200, response.text
        assert response.json()["user"]["id"] == users[0].id
        # The login shows the failed-login budget, untouched by a success.
        assert quota(response) == (5, 5)
        fourth = await client.post(
            "/api/auth/register",
            json={"username": "dora", "email": "dora@example.com", "password": PASSWORD},
        )
        assert fourth.status_code == 201
        # Registrations and the successful login share the 30/minute budget: 5 counted.
        assert quota(fourth) == (30, 25)


async def test_sixth_failed_login_from_an_ip_is_refused_before_the_password_is_checked(
    database_url: str, redis_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with limited_app(database_url, redis_url) as app, client_at(app, "10.0.0.1") as client:
        alice = await register(client, "alice")
        verified = count_verifications(app, monkeypatch)
        # Five failures spread over five names (no account backoff), one IP.
        failures = [await login(client, f"name{i}", "wrong-password") for i in range(5)]
        assert [r.status_code for r in failures] == [401] * 5
        assert [quota(r) for r in failures] == [(5, 4), (5, 3), (5, 2), (5, 1), (5, 0)]
        sixth = await login(client, "alice", "wrong-password")
        assert retry_after(sixth) >= 1
        assert quota(sixth) == (5, 0)
        assert "5 per minute failed logins" in sixth.json()["detail"]
        # While the IP is blocked, the right password is refused too (no guessing through it).
        right = await login(client, "alice", PASSWORD)
        assert retry_after(right) >= 1
        assert len(verified) == 5  # neither refusal verified a password
    async with limited_app(database_url, redis_url) as app:
        async with client_at(app, "10.0.0.1") as client:
            for i in range(5):
                await login(client, f"name{i}", "wrong-password")
            assert (await login(client, "alice", PASSWORD)).status_code == 429
        async with client_at(app, "10.0.0.2") as elsewhere:
            response = await login(elsewhere, "alice", PASSWORD)
            assert response.status_code == 200, response.text
        # Alice's trail: no login_failed for the two refused attempts at her account.
        assert sorted(await audit_actions(app, alice)) == ["login", "register"]


async def test_concurrent_guesses_cannot_overrun_the_budget(
    database_url: str, redis_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with limited_app(database_url, redis_url) as app, client_at(app, "10.0.0.1") as client:
        verified = count_verifications(app, monkeypatch)
        burst = await asyncio.gather(
            *(login(client, f"guess{i}", "wrong-password") for i in range(15))
        )
        statuses = sorted(r.status_code for r in burst)
        assert statuses == [401] * 5 + [429] * 10
        assert len(verified) == 5


async def test_account_backoff_grows_is_capped_and_is_the_same_for_unknown_names(
    database_url: str, redis_url: str | None
) -> None:
    limits = {
        "rate_limit_auth": "100/minute",
        "login_backoff_after": 2,
        "login_backoff_base_seconds": 2,
        "login_backoff_max_seconds": 8,
        "login_backoff_account_after": 100,
    }
    async with limited_app(database_url, redis_url, **limits) as app:
        async with client_at(app, "10.0.0.9") as setup:
            await register(setup, "alice")
        observed: dict[str, tuple[list[int], list[int]]] = {}
        for name in ("alice", "ghost"):  # a known account and a name no one has
            statuses: list[int] = []
            waits: list[int] = []
            async with client_at(app, "10.0.0.1") as client:
                for _ in range(2):
                    statuses.append((await login(client, name, "wrong-password")).status_code)
                for _ in range(4):
                    # This attempt opens a wait; the next one, at once, is refused.
                    statuses.append((await login(client, name, "wrong-password")).status_code)
                    waits.append(retry_after(await login(client, name, PASSWORD)))
                    await end_waits(app, name, "10.0.0.1")
            observed[name] = (statuses, waits)
        statuses, waits = observed["alice"]
        assert statuses == [401] * 6
        # The waits double from the base up to the cap: 2, 4, 8, 8 (as Retry-After rounds up).
        assert all(e // 2 < w <= e for w, e in zip(waits, [2, 4, 8, 8], strict=True)), waits
        assert observed["ghost"] == observed["alice"]
        # Another IP has its own count for the name: not slowed by these failures.
        async with client_at(app, "10.0.0.2") as other:
            assert (await login(other, "alice", PASSWORD)).status_code == 200


async def test_account_wide_backoff_slows_every_ip_within_the_cap_but_spares_the_owner(
    database_url: str, redis_url: str | None
) -> None:
    limits = {
        "rate_limit_auth": "100/minute",
        "login_backoff_after": 100,
        "login_backoff_account_after": 3,
        "login_backoff_base_seconds": 2,
        "login_backoff_max_seconds": 4,
    }
    async with limited_app(database_url, redis_url, **limits) as app:
        home, attacker, elsewhere = (
            client_at(app, "10.0.0.1"),
            client_at(app, "10.6.6.6"),
            client_at(app, "10.0.0.3"),
        )
        async with home, attacker, elsewhere:
            await register(home, "alice")
            assert (await login(home, "alice@example.com", PASSWORD)).status_code == 200
            for _ in range(4):  # the 4th opens an account-wide wait
                assert (await login(attacker, "alice", "wrong-password")).status_code == 401
            # The account's failures slow a new IP, for at most the cap...
            assert 1 <= retry_after(await login(elsewhere, "alice", PASSWORD)) <= 4
            # The owner's address (a success in the last 30 days) is spared.
            owner = await login(home, "alice", PASSWORD)
            assert owner.status_code == 200, owner.text
            # That success cleared the account's failures: the other IP gets in at once.
            assert (await login(elsewhere, "alice", PASSWORD)).status_code == 200
            # Slowed again (elsewhere is now a known address, so a new one), never locked out:
            # once the wait passes, the right password works.
            for _ in range(4):
                await login(attacker, "alice", "wrong-password")
        async with client_at(app, "10.0.0.4") as travelling:
            assert retry_after(await login(travelling, "alice", PASSWORD)) <= 4
            await end_waits(app, "alice", "10.0.0.4")
            assert (await login(travelling, "alice", PASSWORD)).status_code == 200


async def test_a_success_resets_the_backoff(database_url: str, redis_url: str | None) -> None:
    limits = {"rate_limit_auth": "100/minute", "login_backoff_after": 2}
    async with (
        limited_app(database_url, redis_url, **limits) as app,
        client_at(app, "10.0.0.1") as client,
    ):
        await register(client, "alice")
        codes = [(await login(client, "alice", "wrong-password")).status_code for _ in range(4)]
        assert codes == [401, 401, 401, 429]
        await end_waits(app, "alice", "10.0.0.1")
        assert (await login(client, "alice", PASSWORD)).status_code == 200
        codes = [(await login(client, "alice", "wrong-password")).status_code for _ in range(4)]
        assert codes == [401, 401, 401, 429]


async def test_a_spent_success_budget_refuses_logins_before_the_password(
    database_url: str, redis_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with limited_app(database_url, redis_url, rate_limit_auth_success="2/minute") as app:
        async with client_at(app, "10.0.0.1") as client:
            await register(client, "alice")
            first = await login(client, "alice", PASSWORD)
            assert first.status_code == 200
            verified = count_verifications(app, monkeypatch)
            refused = await login(client, "alice", PASSWORD)
            assert retry_after(refused) >= 1
            assert quota(refused) == (2, 0)  # the success budget, which refused it
            assert "successful logins and registrations" in refused.json()["detail"]
            third = await client.post(
                "/api/auth/register",
                json={"username": "bobby", "email": "bobby@example.com", "password": PASSWORD},
            )
            assert retry_after(third) >= 1
            assert verified == []
        async with client_at(app, "10.0.0.2") as elsewhere:
            assert (await login(elsewhere, "alice", PASSWORD)).status_code == 200


async def test_refresh_has_a_budget_of_its_own(database_url: str, redis_url: str | None) -> None:
    limits = {"rate_limit_refresh": "3/minute", "rate_limit_auth": "1/minute"}
    async with limited_app(database_url, redis_url, **limits) as app:
        async with client_at(app, "10.0.0.1") as client:
            alice = await register(client, "alice")
            bad = await client.post("/api/auth/refresh", json={"refresh_token": "not-a-token"})
            assert_problem(bad, 401)
            assert quota(bad) == (3, 2)  # a failed refresh counts too
            token = alice.refresh_token
            for remaining in (1, 0):
                response = await client.post("/api/auth/refresh", json={"refresh_token": token})
                assert response.status_code == 200, response.text
                assert quota(response) == (3, remaining)
                token = response.json()["refresh_token"]
            over = await client.post("/api/auth/refresh", json={"refresh_token": token})
            assert retry_after(over) >= 1
            assert "3 per minute token refreshes" in over.json()["detail"]
            # The refusal did not spend the token, nor the login budgets.
            response = await login(client, "alice", PASSWORD)
            assert response.status_code == 200
            assert quota(response) == (1, 1)
        async with client_at(app, "10.0.0.2") as elsewhere:
            response = await elsewhere.post("/api/auth/refresh", json={"refresh_token": token})
            assert response.status_code == 200, response.text


async def test_404_and_405_under_auth_count_against_no_limit(
    database_url: str, redis_url: str | None
) -> None:
    limits = {
        "rate_limit_auth": "2/minute",
        "rate_limit_auth_success": "2/minute",
        "rate_limit_refresh": "2/minute",
        "rate_limit_default": "2/minute",
    }
    async with (
        limited_app(database_url, redis_url, **limits) as app,
        client_at(app, "10.0.0.1") as client,
    ):
        alice = await register(client, "alice")
        for _ in range(5):
            for method, path, status in (
                ("GET", "/api/auth/login", 405),
                ("PUT", "/api/auth/register", 405),
                ("GET", "/api/auth/refresh", 405),
                ("GET", "/api/auth/logout", 405),
                ("GET", "/api/auth/nothing-here", 404),
                ("POST", "/api/auth/login/extra", 404),
            ):
                response = await client.request(method, path, headers=alice.headers)
                assert_problem(response, status)
                assert "ratelimit-limit" not in response.headers, (method, path)
        # Every budget is whole: two of each still pass.
        for _ in range(2):
            assert (await login(client, "nobody", "wrong-password")).status_code == 401
            me = await client.get("/api/auth/me", headers=alice.headers)
            assert me.status_code == 200 and quota(me)[0] == 2
            bad = await client.post("/api/auth/refresh", json={"refresh_token": "nope"})
            assert bad.status_code == 401
        assert (await client.get("/api/auth/me", headers=alice.headers)).status_code == 429
        second = await client.post(
            "/api/auth/register",
            json={"username": "bobby", "email": "bobby@example.com", "password": PASSWORD},
        )
        assert second.status_code == 201


async def test_openapi_says_what_the_headers_of_each_auth_route_describe(
    client: httpx.AsyncClient,
) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path, status, setting in (
        ("/api/auth/login", "200", "CALENDO_RATE_LIMIT_AUTH"),
        ("/api/auth/register", "201", "CALENDO_RATE_LIMIT_AUTH_SUCCESS"),
        ("/api/auth/refresh", "200", "CALENDO_RATE_LIMIT_REFRESH"),
    ):
        operation = paths[path]["post"]
        assert setting in operation["description"], path
        for code in (status, "401" if path != "/api/auth/register" else "409", "429"):
            headers = operation["responses"][code]["headers"]
            assert setting in headers["RateLimit-Remaining"]["description"], (path, code)
        assert "Retry-After" in operation["responses"]["429"]["headers"]
