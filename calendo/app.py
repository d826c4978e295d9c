"""The application factory and its lifespan (engine, Redis, broker, limiter, cache)."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from calendo import __version__
from calendo.api import CALENDAR_ONLY_PATHS, CALENDAR_PATHS, OPENAPI_TAGS, include_api
from calendo.core import looplag
from calendo.core.cache import create_cache, warn_if_redis_evicts
from calendo.core.config import Settings, get_settings
from calendo.core.cooperative import share_the_gil
from calendo.core.db import Database, create_engine
from calendo.core.deps import Services
from calendo.core.errors import install_error_handlers
from calendo.core.formats import NegotiationMiddleware
from calendo.core.guards import GuardMiddleware
from calendo.core.observability import Metrics, RequestContextMiddleware, configure_logging
from calendo.core.proxy import TrustedProxyMiddleware
from calendo.core.pubsub import create_broker
from calendo.core.ratelimit import RateLimiter, RateLimitMiddleware
from calendo.core.redis_client import close_redis, connect_redis
from calendo.core.replay import ReplayMiddleware
from calendo.core.security import PasswordHasher, TokenVerifier
from calendo.openapi import install_openapi

DESCRIPTION = """Collaborative event management: events with RFC 5545 recurrence, sharing as
owner/editor/viewer, complete version history with diffs and rollback, live notifications,
incremental sync and an audit trail.

Every body is JSON by default; send `Accept: application/msgpack` for MessagePack responses
and `Content-Type: application/msgpack` for MessagePack request bodies. Errors are always
`application/problem+json` (RFC 9457), whatever `Accept` says. Unknown body fields and
unknown query parameters are both 422. Every `GET` also answers `HEAD` (the same status and
headers, no body; not listed below).

**Rate limits:** over a limit, `429` with `Retry-After` (seconds). Each counted response
carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds until there is
room for one more than `Remaining`) for the bucket of its route: `CALENDO_RATE_LIMIT_DEFAULT`
per user on `/api`; on login, register and refresh, the per-IP budget their descriptions name
(failed logins, successes, refreshes). A 404 or 405 under `/api/auth` counts nowhere.

**Live notifications (WebSocket, not listed below):** `GET /api/notifications/ws?token=<access
token>` upgrades to a WebSocket (or send `Authorization: Bearer`); add `&since=<notification id>`
to receive what was missed first. Each message is one notification as JSON, in the shape of
`GET /api/notifications` items; an idle socket gets `{"type": "ping"}` every
`CALENDO_WS_HEARTBEAT_SECONDS`. Close codes: 4401 invalid, expired or revoked token (checked
again at every heartbeat), 4408 the client fell behind (reconnect with `since`), 4429 the user
already holds `CALENDO_WS_MAX_PER_USER` feeds in this server process, 1001 the server process is
shutting down (reconnect with `since`: the load balancer picks another process).
"""

# Swagger UI and ReDoc are served from here, not from a CDN, so /docs and /redoc work offline:
# the fastapi-offline package ships their distribution builds (swagger-ui-dist, redoc).
DOCS_ASSETS = Path(str(files("fastapi_offline") / "static"))
DOCS_ASSETS_URL = "/static/docs"


def _lifespan(settings: Settings, metrics: Metrics, tokens: TokenVerifier):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis_client = connect_redis(settings.redis_url) if settings.redis_url else None
        cache_redis = connect_redis(settings.cache_redis_url) if settings.cache_redis_url else None
        if redis_client is not None:
            await warn_if_redis_evicts(redis_client)
        db = Database(create_engine(settings))
        broker = create_broker(redis_client)
        app.state.limiter.bind(redis_client)
        app.state.services = Services(
            settings=settings,
            db=db,
            hasher=PasswordHasher(settings),
            tokens=tokens,
            broker=broker,
            cache=create_cache(
                cache_redis,
                max_bytes=settings.cache_max_bytes,
                entry_max_bytes=settings.cache_entry_max_bytes,
                ttl=settings.cache_ttl_seconds,
            ),
            limiter=app.state.limiter,
            metrics=metrics,
            redis=redis_client,
        )
        # What start-up built (modules, the app, its routes) lives as long as the process:
        # out of the collector's sight, a full collection scans only what requests allocate
        # (~1 ms instead of ~80 ms with the loop held; see docs/architecture.md).
        gc.freeze()
        share_the_gil()
        db.start()
        try:
            async with looplag.probing(metrics.watch_loop_lag):
                yield
        finally:
            await broker.close()
            await db.dispose()
            if redis_client is not None:
                await close_redis(redis_client)
            if cache_redis is not None:
                await close_redis(cache_redis)

    return lifespan


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the ASGI app for these settings."""
    settings = settings or get_settings()
    configure_logging(json_logs=settings.log_json)
    metrics = Metrics()
    # One verifier for the rate limiter and the routes: a token is checked once per request.
    tokens = TokenVerifier(settings)
    app = FastAPI(
        title="Calendo",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=OPENAPI_TAGS,
        lifespan=_lifespan(settings, metrics, tokens),
        # /docs and /redoc are added by _add_docs_routes, with same-origin assets.
        docs_url=None,
        redoc_url=None,
    )
    app.state.limiter = RateLimiter(settings)
    install_error_handlers(app)
    include_api(app)
    _add_operational_routes(app)
    _add_docs_routes(app)
    install_openapi(app)
    # Outermost first: the client behind trusted proxies (core/proxy.py), request id + metrics,
    # the header cap and body deadline (core/guards.py), CORS, rate limits, format negotiation,
    # then the replay of a write the database aborted (core/replay.py).
    app.add_middleware(ReplayMiddleware)
    app.add_middleware(
        NegotiationMiddleware,
        max_body_bytes=settings.max_body_bytes,
        file_body_bytes=settings.import_max_bytes,
        calendar_paths=CALENDAR_PATHS,
        calendar_only_paths=CALENDAR_ONLY_PATHS,
    )
    app.add_middleware(RateLimitMiddleware, limiter=app.state.limiter, tokens=tokens)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=[
                "ETag",
                "Location",
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
            ],
        )
    app.add_middleware(
        GuardMiddleware,
        max_header_bytes=settings.max_header_bytes,
        body_timeout=settings.body_read_timeout_seconds,
    )
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    if settings.trusted_proxies:
        app.add_middleware(TrustedProxyMiddleware, trusted=settings.trusted_proxies)
    return app


def _add_docs_routes(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc, their scripts and styles under /static/docs."""
    app.mount(DOCS_ASSETS_URL, StaticFiles(directory=DOCS_ASSETS), name="docs-assets")
    oauth2_redirect = "/docs/oauth2-redirect"

    def base(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = base(request)
        return get_swagger_ui_html(
            openapi_url=root + str(app.openapi_url),
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{DOCS_ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS_URL}/favicon.png",
            oauth2_redirect_url=root + oauth2_redirect,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    @app.get(oauth2_redirect, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = base(request)
        return get_redoc_html(
            openapi_url=root + str(app.openapi_url),
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{DOCS_ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{DOCS_ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )


def _add_operational_routes(app: FastAPI) -> None:
    @app.get("/health/live", tags=["operations"])
    async def liveness() -> JSONResponse:
        """Liveness: the process answers (no dependency is checked; restart it if it does not).

        For a liveness probe: a database or Redis outage makes ``/health`` 503, which should
        take the process out of the load balancer (readiness), not restart it."""
        return JSONResponse({"status": "ok"})

    @app.get("/health", tags=["operations"], responses={503: {"description": "Database down"}})
    async def health(request: Request) -> Response:
        """Liveness and dependencies: 503 when the database is unreachable."""
        services: Services = request.app.state.services
        database = "ok"
        try:
            async with services.db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:  # any failure to reach the database is a 503, whatever the driver
            database = "unreachable"
        broker = "disabled"
        if services.redis is not None:
            broker = "ok" if await services.broker.ping() else "unreachable"
        healthy = database == "ok" and broker != "unreachable"
        return JSONResponse(
            {"status": "ok" if healthy else "degraded", "database": database, "broker": broker},
            status_code=200 if healthy else 503,
        )

    @app.get("/metrics", tags=["operations"], response_class=Response)
    async def metrics_endpoint(request: Request) -> Response:
        """Prometheus metrics: of every worker process on this host when there are several."""
        services: Services = request.app.state.services
        return Response(services.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
