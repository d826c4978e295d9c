"""Feed bodies: create, read, and the one answer that shows the secret."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _named(value: str) -> str:
    if not value.strip():
        raise ValueError("name must not be blank")
    return value


class FeedCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_named)] = Field(
        description="What the feed is for (shown in the list; calendar programs show it too)."
    )
    busy_only: bool = Field(
        False,
        description="Serve only busy times: each opaque event's times with `SUMMARY:Busy`, "
        "nothing of its content; transparent events are left out.",
    )


class FeedRead(BaseModel):
    """A feed as listed: never its secret."""

    id: int
    name: str
    busy_only: bool
    created_at: datetime


class FeedCreated(FeedRead):
    """A new feed, with its secret URL: shown this once, never again."""

    token: str = Field(description="The secret; only its SHA-256 is stored.")
    url: str = Field(description="The feed's URL (the request's scheme and host).")
    webcal_url: str = Field(description="The same URL with the `webcal://` scheme.")


class FeedList(BaseModel):
    items: list[FeedRead]


class ImportedEvent(BaseModel):
    """One event of the file, as created, updated or left unchanged."""

    index: int = Field(
        description="Position of its first component in the file (0-based, VTIMEZONEs not counted)."
    )
    uid: str | None
    event_id: int | None = Field(
        description="The event (a dry run's new events: a number that is not kept)."
    )
    title: str | None
    conflicts: list[dict[str, Any]] = Field(default_factory=list)


class ImportRefusal(BaseModel):
    """A component the import refused, and why."""

    index: int
    uid: str | None
    reason: str
    conflicts: list[dict[str, Any]] | None = None


class ImportReport(BaseModel):
    """What an import did, or (``dry_run``) would do: nothing of a dry run is kept."""

    dry_run: bool
    created: list[ImportedEvent]
    updated: list[ImportedEvent]
    unchanged: list[ImportedEvent]
    refused: list[ImportRefusal]
