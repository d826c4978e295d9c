"""Command line: ``python -m calendo serve|migrate``."""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

from calendo.core.config import Settings

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


def serve(settings: Settings, *, reload: bool = False) -> None:
    """Run uvicorn with the configured host, port and workers."""
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
        workers=settings.workers if not reload else 1,
        reload=reload,
        loop="uvloop",
        http="httptools",
        log_level="info",
        # Access logs would record WebSocket URLs, whose ?token= is a bearer credential.
        access_log=False,
        log_config=log_config,
        proxy_headers=False,
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="calendo")
    sub = parser.add_subparsers(dest="command", required=True)
    serve_parser = sub.add_parser("serve", help="migrate, then serve the API")
    serve_parser.add_argument("--no-migrate", action="store_true")
    serve_parser.add_argument("--reload", action="store_true")
    migrate_parser = sub.add_parser("migrate", help="apply database migrations")
    migrate_parser.add_argument("revision", nargs="?", default="head")
    args = parser.parse_args(argv)
    settings = Settings()
    if args.command == "migrate":
        migrate(settings.database_url, args.revision)
        return 0
    if not args.no_migrate:
        migrate(settings.database_url)
    serve(settings, reload=args.reload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
