"""Command line: ``python -m calendo serve|migrate|healthcheck``."""

from __future__ import annotations

import argparse
import contextlib
import copy
import logging
import os
import shutil
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config

from calendo.core.config import Settings
from calendo.core.observability import MULTIPROC_ENV
from calendo.core.serving import WS_PROTOCOL

ROOT = Path(__file__).resolve().parent


def alembic_config(database_url: str) -> Config:
    """Alembic configuration pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def migrate(database_url: str, revision: str = "head") -> None:
    """Bring the database schema up to ``revision``."""
    command.upgrade(alembic_config(database_url), revision)


logger = logging.getLogger("calendo")


@contextlib.contextmanager
def shared_metrics(workers: int) -> Iterator[None]:
    """With several workers, a directory where all of them keep their metrics, so that one
    scrape of /metrics reports the host (prometheus-client's multiprocess mode).

    A directory named by ``PROMETHEUS_MULTIPROC_DIR`` is used as it is (emptied first: stale
    samples would be added in); otherwise a temporary one is made and removed afterwards.
    The workers inherit the variable, and read it before their first metric exists."""
    if workers <= 1 and not os.environ.get(MULTIPROC_ENV):
        yield
        return
    given = os.environ.get(MULTIPROC_ENV)
    directory = Path(given) if given else Path(tempfile.mkdtemp(prefix="calendo-metrics-"))
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(directory)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logger.info("metrics of %d workers in %s", workers, directory)
    try:
        yield
    finally:
        if not given:
            os.environ.pop(MULTIPROC_ENV, None)
            shutil.rmtree(directory, ignore_errors=True)


def serve(settings: Settings, *, reload: bool = False) -> None:
    """Run uvicorn with the configured host, port and workers."""
    workers = settings.workers if not reload else 1
    with shared_metrics(workers):
        _run_uvicorn(settings, workers=workers, reload=reload)


def _run_uvicorn(settings: Settings, *, workers: int, reload: bool) -> None:
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    # uvicorn logs each WebSocket handshake with its path and query: the ?token= goes.
    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["filters"] = {"redact": {"()": "calendo.core.observability.RedactTokens"}}
    for handler in log_config["handlers"].values():
        handler["filters"] = ["redact"]
    uvicorn.run(
        "calendo.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        reload=reload,
        loop="uvloop",
        http="httptools",
        # Open WebSockets are closed with 1001 (going away) on SIGTERM: core/serving.py.
        ws=WS_PROTOCOL,
        # SIGTERM: stop listening, let in-flight requests finish for this long, then cancel.
        timeout_graceful_shutdown=settings.graceful_timeout_seconds,
        # A worker must answer the supervisor's ping within this long or be restarted: uvicorn's
        # 5 s default kills workers that are still importing on a loaded host, forever.
        timeout_worker_healthcheck=30,
        log_level="info",
        # Access logs would record WebSocket URLs, whose ?token= is a bearer credential.
        access_log=False,
        log_config=log_config,
        # Forwarded headers are read inside the app, from CALENDO_TRUSTED_PROXIES only
        # (core/proxy.py); uvicorn's own reading (FORWARDED_ALLOW_IPS) stays off.
        proxy_headers=False,
    )


# The addresses that mean "every interface": a health check asks the loopback one.
_WILDCARDS = {"", "0.0.0.0", "::"}  # noqa: S104 (compared with, not bound)


def healthcheck(settings: Settings) -> int:
    """0 when the server on this host answers ``/health`` with 200, else 1 (the container
    image's HEALTHCHECK: no curl in a slim image, and the port is the configured one)."""
    host = "127.0.0.1" if settings.host in _WILDCARDS else settings.host
    if ":" in host:
        host = f"[{host}]"
    url = f"http://{host}:{settings.port}/health"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:  # refused, timed out, or an HTTPError (503 degraded)
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="calendo")
    sub = parser.add_subparsers(dest="command", required=True)
    serve_parser = sub.add_parser("serve", help="migrate, then serve the API")
    serve_parser.add_argument("--no-migrate", action="store_true")
    serve_parser.add_argument("--reload", action="store_true")
    migrate_parser = sub.add_parser("migrate", help="apply database migrations")
    migrate_parser.add_argument("revision", nargs="?", default="head")
    sub.add_parser("healthcheck", help="exit 0 if this host's server answers /health")
    args = parser.parse_args(argv)
    settings = Settings()
    if args.command == "migrate":
        migrate(settings.database_url, args.revision)
        return 0
    if args.command == "healthcheck":
        return healthcheck(settings)
    if not args.no_migrate:
        migrate(settings.database_url)
    serve(settings, reload=args.reload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
