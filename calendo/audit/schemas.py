"""Audit trail bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class AuditEntryRead(BaseModel):
    """One entry of the trail."""

    id: int
    action: str = Field(
        description="register, login, login_failed, token_refresh, logout, "
        "refresh_reuse_detected, password_check_failed, password_changed, account_updated, "
        "account_deleted, event_created, event_updated, event_deleted, event_restored, "
        "event_rolled_back, shared, permission_changed, unshared, feed_created, feed_revoked"
    )
    actor_id: int | None = Field(description="Who did it; null for anonymous login attempts.")
    event_id: int | None
    ip: str | None = Field(
        description="Client address; shown for the caller's own actions and for attempts on "
        "the caller's account, null for other users' actions on the caller's events."
    )
    created_at: datetime
    details: dict[str, Any]
