"""Sync bodies: one page of changes and the cursor to continue from."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from calendo.events.schemas import EventRead


class SyncChangeRead(BaseModel):
    """One event's change: its current body (`upsert`) or `delete` with `event` null."""

    event_id: int
    change: Literal["upsert", "delete"]
    event: EventRead | None = Field(
        description="The event as it is now, with the caller's role; null for `delete`."
    )


class SyncPage(BaseModel):
    """A page of the caller's changes, oldest first, at most one entry per event."""

    changes: list[SyncChangeRead]
    next_cursor: str = Field(
        description="Send it back as `cursor`: for the next page while `has_more`, then to "
        "poll for later changes. Store it only after applying the page."
    )
    has_more: bool = Field(description="More changes are available now: ask again at once.")
