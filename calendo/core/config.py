"""Settings: one class, read from ``CALENDO_*`` environment variables and ``.env``.

Outside development a real secret key is mandatory; for local runs a random key is generated
once and kept in ``.calendo-secret`` so tokens survive a restart.
"""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from calendo.core.proxy import parse_trusted_proxies

_SECRET_FILE = Path(".calendo-secret")
_MIN_SECRET_LENGTH = 32


def _local_secret() -> str:
    """Return the stored development secret, creating it on first use."""
    if _SECRET_FILE.exists():
        return _SECRET_FILE.read_text().strip()
    value = secrets.token_urlsafe(48)
    _SECRET_FILE.write_text(value)
    _SECRET_FILE.chmod(0o600)
    return value


class Settings(BaseSettings):
    """Every tunable of the service; field ``x`` is read from ``CALENDO_X``."""

    model_config = SettingsConfigDict(
        env_prefix="CALENDO_", env_file=".env", extra="ignore", frozen=True
    )

    env: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///./calendo.db"
    redis_url: str | None = None
    secret_key: str = ""
    access_token_minutes: int = Field(15, ge=1)
    refresh_token_days: int = Field(14, ge=1)
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1)
    # On SIGTERM: how long in-flight requests may take before they are cancelled.
    graceful_timeout_seconds: int = Field(20, ge=1)
    # Proxies whose X-Forwarded-For/-Proto are believed: addresses or networks, comma-separated
    # (core/proxy.py). None by default: the peer address is the client.
    trusted_proxies: Annotated[list[str], NoDecode] = []
    cors_origins: list[str] = []
    rate_limit_enabled: bool = True
    # The auth routes, per client IP (core/auth_limits.py): failed logins, successful logins
    # with registrations, refreshes; and the per-account backoff of failed logins.
    rate_limit_auth: str = "5/minute"
    rate_limit_auth_success: str = "30/minute"
    rate_limit_refresh: str = "60/minute"
    login_backoff_after: int = Field(3, ge=1)
    login_backoff_account_after: int = Field(10, ge=1)
    login_backoff_base_seconds: int = Field(1, ge=1)
    login_backoff_max_seconds: int = Field(60, ge=1)
    rate_limit_default: str = "100/minute"
    batch_max: int = Field(100, ge=1, le=10_000)
    shift_horizon_days: int = Field(14, ge=1)
    conflict_horizon_days: int = Field(366, ge=1)
    max_occurrences: int = Field(1000, ge=1)
    max_body_bytes: int = Field(1_048_576, ge=1024)
    max_header_bytes: int = Field(16_384, ge=1024)
    body_read_timeout_seconds: float = Field(10.0, gt=0)
    ws_max_per_user: int = Field(20, ge=1)
    sync_page_size: int = Field(200, ge=1, le=1000)
    # The most events one text/calendar answer (a calendar window, a feed) holds.
    ical_max_events: int = Field(2000, ge=1)
    # An iCalendar import's body limit (``POST /api/events/import``), in place of the above.
    import_max_bytes: int = Field(16 * 1_048_576, ge=1024)
    # The most events (VEVENTs) one iCalendar import reads (``calendo/ical/reading.py``).
    import_max_events: int = Field(10_000, ge=1)
    # Events per transaction of an import (``calendo/ical/parts.py``).
    import_part_events: int = Field(100, ge=1)
    ws_heartbeat_seconds: float = Field(20.0, gt=0)
    db_pool_size: int = Field(10, ge=1)
    # ``pgbouncer``: the database URL names a PgBouncer in transaction mode, so no statement is
    # prepared under a name on a server connection (core/db.py, docs/operations.md).
    database_pooler: Literal["none", "pgbouncer"] = "none"
    cache_ttl_seconds: int = Field(300, ge=1)
    # The occurrence cache, per process: its whole size and its largest entry, in bytes.
    cache_max_bytes: int = Field(64 * 1024 * 1024, ge=64 * 1024)
    cache_entry_max_bytes: int = Field(1024 * 1024, ge=1024)
    # A Redis instance for the cache alone (maxmemory + allkeys-lru); never the main Redis,
    # whose rate-limit and revocation keys must not be evicted.
    cache_redis_url: str | None = None
    # Argon2 cost; lowered only by the test suite, where thousands of hashes would be slow.
    argon2_time_cost: int = Field(3, ge=1)
    argon2_memory_cost: int = Field(65536, ge=8)
    log_json: bool = False
    # ``on``: the hottest statements go driver-direct (core/statements.py) and SQLite runs on
    # the stdlib driver inline on the loop (core/sqlite_inline.py). ``off``: every statement
    # goes through SQLAlchemy's ``Connection.execute`` (and fires its events), SQLite on
    # aiosqlite; slower, for instrumentation and to prove both paths equal (CI runs both).
    fast_path: Literal["on", "off"] = "on"

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _parse_trusted_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple):
            return parse_trusted_proxies(str(item) for item in value)
        return value

    @model_validator(mode="after")
    def _require_secret_outside_development(self) -> Settings:
        if self.env == "production" and len(self.secret_key) < _MIN_SECRET_LENGTH:
            raise ValueError(
                "CALENDO_SECRET_KEY must be set to at least 32 characters in production"
            )
        return self

    @cached_property
    def signing_key(self) -> str:
        """The key that signs tokens: the configured one, or a stored local one."""
        return self.secret_key or _local_secret()

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is SQLite (it needs its own PRAGMAs and locking)."""
        return self.database_url.startswith("sqlite")


def get_settings() -> Settings:
    """Read the settings from the environment (called once per app)."""
    return Settings()
