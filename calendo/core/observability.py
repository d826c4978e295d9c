"""Structured logs with a request id, and Prometheus metrics in a per-app registry.

With several worker processes on one host (``CALENDO_WORKERS`` > 1) ``calendo serve`` points
``PROMETHEUS_MULTIPROC_DIR`` at a temporary directory: every process then writes its samples
there (prometheus-client's multiprocess mode) and a scrape of any one of them reports the
whole host.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog
from fastapi.routing import iter_route_contexts
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Multiprocess mode: the scraping process touches this file, and every process's loop-lag
# window restarts when it sees the change (``Metrics.watch_loop_lag``).
SCRAPE_MARK = "scrape-mark"
LAG_PUBLISH_SECONDS = 0.25


class _CurrentStderr:
    """``sys.stderr`` as it is when a line is written, not when logging was configured:
    loggers are cached on first use (``cache_logger_on_first_use``), and a stream swapped
    since (a test's captured output, closed when the test ends) must not stay theirs."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(*, json_logs: bool) -> None:
    """structlog over stdlib logging; JSON lines in production, console otherwise."""
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json_logs else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        logger_factory=structlog.PrintLoggerFactory(_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")


class RedactTokens(logging.Filter):
    """Hide ``token=`` query values in log lines (uvicorn logs WebSocket paths with them), and
    the secret of a subscription feed's path (``/feeds/<secret>.ics``)."""

    _pattern = re.compile(r"(token=)[^&\s\"']+")
    _feed = re.compile(r"(/feeds/)[^/\s\"'?]+(\.ics)")

    def _clean(self, value: object) -> object:
        if not isinstance(value, str):
            return value
        return self._feed.sub(r"\1[redacted]\2", self._pattern.sub(r"\1[redacted]", value))

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the message and its arguments; never drop the record."""
        record.msg = self._clean(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(self._clean(arg) for arg in record.args)
        return True


def multiprocess_dir() -> Path | None:
    """The directory shared by this host's processes, when multiprocess mode is on."""
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None


def _live_pids_only(directory: Path) -> None:
    """Drop the live-gauge files of processes that are gone (a worker killed and replaced)."""
    for path in directory.glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]
        except PermissionError:  # alive, someone else's
            pass


class Metrics:
    """The service's Prometheus instruments (of this process, or of the host's processes)."""

    def __init__(self) -> None:
        self.multiprocess_dir = multiprocess_dir()
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "calendo_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "calendo_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.ws_connections = Gauge(
            "calendo_websocket_connections",
            "Open WebSocket connections",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.notifications_sent = Counter(
            "calendo_notifications_sent_total",
            "Notifications pushed to sockets",
            registry=self.registry,
        )
        # Fed by ``core.looplag`` when CALENDO_LOOP_LAG_PROBE=1 (``watch_loop_lag``).
        self.loop_lag_max = Gauge(
            "calendo_event_loop_lag_max_seconds",
            "Longest event-loop stall seen by the lag probe since the previous scrape "
            "(0 unless CALENDO_LOOP_LAG_PROBE=1; with several workers, of the worst worker)",
            registry=self.registry,
            multiprocess_mode="livemax",
        )
        self._lag_publisher: asyncio.Task[None] | None = None
        if self.multiprocess_dir is not None:
            _live_pids_only(self.multiprocess_dir)

    def exposition(self) -> bytes:
        """The text a scrape gets: this process's registry, or every process's samples."""
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(self.multiprocess_dir))  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
        (self.multiprocess_dir / SCRAPE_MARK).touch()
        return body

    def watch_loop_lag(self, take_max: Callable[[], float]) -> None:
        """Report ``take_max()`` (read and reset on each scrape) as the loop-lag gauge.

        One process reads it on scrape. In multiprocess mode a scrape reads the other
        processes' files, so each process publishes instead: every ``LAG_PUBLISH_SECONDS``
        it writes the longest stall since the host's previous scrape (its window restarts
        when the scrape mark changes) and the scrape takes the maximum over live workers.
        A stall is reported once, at worst one scrape late."""
        if self.multiprocess_dir is None:
            self.loop_lag_max.set_function(take_max)
            return
        self._lag_publisher = asyncio.get_running_loop().create_task(
            self._publish_loop_lag(take_max, self.multiprocess_dir / SCRAPE_MARK),
            name="loop-lag-publisher",
        )

    def _scrape_mark(self, mark: Path) -> int:
        with contextlib.suppress(FileNotFoundError):
            return mark.stat().st_mtime_ns
        return 0

    async def _publish_loop_lag(self, take_max: Callable[[], float], mark: Path) -> None:
        seen = self._scrape_mark(mark)
        worst = 0.0
        while True:
            await asyncio.sleep(LAG_PUBLISH_SECONDS)
            current = self._scrape_mark(mark)
            if current != seen:
                seen, worst = current, 0.0
            worst = max(worst, take_max())
            self.loop_lag_max.set(worst)


class RouteLabels:
    """The full route template of a request (``/api/events/{event_id}/share``).

    FastAPI hands the middleware the route as its router declared it, relative to the
    prefix it was included under; the app's route contexts know the full path of each."""

    def __init__(self) -> None:
        self._app: Any = None
        self._paths: dict[int, list[tuple[str, re.Pattern[str] | None]]] = {}

    def _index(self, routes: list[BaseRoute]) -> None:
        self._paths = {}
        for context in iter_route_contexts(routes):
            path = context.path_format or context.path
            if path is None:
                continue
            entry = (path, getattr(context, "path_regex", None))
            route = context.original_route
            # A plain Starlette route or mount leaves no scope["route"], only scope["endpoint"].
            endpoint = route.app if isinstance(route, Mount) else getattr(route, "endpoint", None)
            for key in {id(route), id(endpoint)} if endpoint is not None else {id(route)}:
                self._paths.setdefault(key, []).append(entry)

    def __call__(self, scope: Scope) -> str:
        route = scope.get("route", scope.get("endpoint"))
        if route is None:
            return "unmatched"
        app = scope.get("app")
        if app is not self._app and app is not None:
            self._index(app.routes)
            self._app = app
        candidates = self._paths.get(id(route))
        if not candidates:
            return str(getattr(route, "path_format", None) or getattr(route, "path", "unmatched"))
        if len(candidates) > 1:  # one route object included under several prefixes
            for path, regex in candidates:
                if regex is not None and regex.match(scope.get("path", "")):
                    return path
        return candidates[0][0]


class RequestContextMiddleware:
    """Assign a request id (or keep the client's), bind it to logs, and record metrics."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.route_label = RouteLabels()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        for name, value in scope["headers"]:
            if name == b"x-request-id" and 0 < len(value) <= 64 and value.isascii():
                request_id = value.decode()
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {
                    **message,
                    "headers": [
                        *message.get("headers", []),
                        (b"x-request-id", request_id.encode()),
                    ],
                }
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            label = self.route_label(scope)
            self.metrics.requests.labels(scope["method"], label, str(status)).inc()
            self.metrics.latency.labels(scope["method"], label).observe(
                time.perf_counter() - started
            )
            structlog.contextvars.unbind_contextvars("request_id")
