"""Structured logs with a request id, and Prometheus metrics in a per-app registry."""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from collections.abc import Callable

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send


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
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")


class RedactTokens(logging.Filter):
    """Hide ``token=`` query values in log lines (uvicorn logs WebSocket paths with them)."""

    _pattern = re.compile(r"(token=)[^&\s\"']+")

    def _clean(self, value: object) -> object:
        return self._pattern.sub(r"\1[redacted]", value) if isinstance(value, str) else value

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the message and its arguments; never drop the record."""
        record.msg = self._clean(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(self._clean(arg) for arg in record.args)
        return True


class Metrics:
    """The service's Prometheus instruments."""

    def __init__(self) -> None:
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
            "calendo_websocket_connections", "Open WebSocket connections", registry=self.registry
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
            "(0 unless CALENDO_LOOP_LAG_PROBE=1)",
            registry=self.registry,
        )

    def watch_loop_lag(self, take_max: Callable[[], float]) -> None:
        """Report ``take_max()`` (read and reset on each scrape) as the loop-lag gauge."""
        self.loop_lag_max.set_function(take_max)


class RequestContextMiddleware:
    """Assign a request id (or keep the client's), bind it to logs, and record metrics."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

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
            route = scope.get("route")
            label = getattr(route, "path", "unmatched")
            self.metrics.requests.labels(scope["method"], label, str(status)).inc()
            self.metrics.latency.labels(scope["method"], label).observe(
                time.perf_counter() - started
            )
            structlog.contextvars.unbind_contextvars("request_id")
