"""History bodies: version summaries, full versions, changelog entries, diffs."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Action = Literal["created", "updated", "rolled_back", "deleted", "restored"]
LogAction = Literal[
    "created",
    "updated",
    "rolled_back",
    "deleted",
    "restored",
    "shared",
    "permission_changed",
    "unshared",
]


class Author(BaseModel):
    id: int
    username: str


class DiffLinks(BaseModel):
    previous: str | None = Field(description="Diff with the previous version.")
    current: str | None = Field(description="Diff with the latest version.")


class ChangelogEntry(BaseModel):
    """One change; sharing changes have no version number."""

    version: int | None
    action: LogAction
    author: Author | None
    created_at: datetime
    note: str | None
    changed_fields: list[str]
    summary: str
    tags: list[str] = Field(description="rollback, batch, merged, reverted")
    size: int | None = Field(description="Size of the version's content in bytes.")
    size_change: int | None = Field(description="Size change from the previous version.")
    links: DiffLinks


class VersionSummary(ChangelogEntry):
    version: int
    action: Action


class VersionPage(BaseModel):
    items: list[VersionSummary]
    next_cursor: str | None


class ChangelogPage(BaseModel):
    items: list[ChangelogEntry]
    next_cursor: str | None


class VersionRead(VersionSummary):
    event_id: int
    snapshot: dict[str, Any] = Field(description="The event's content fields at that version.")


class TextChange(BaseModel):
    op: Literal["equal", "insert", "delete"]
    text: str


class FieldChange(BaseModel):
    field: str
    op: Literal["added", "removed", "changed"]
    old: Any
    new: Any
    text_diff: list[TextChange] | None = Field(
        None,
        description="Text fields only (title, description, location): the old and new text "
        "as equal/delete/insert chunks, word by word unless `granularity` says otherwise. "
        "Joining the equal and delete chunks gives the old text, the equal and insert chunks "
        "the new one.",
    )
    granularity: Literal["line", "field"] | None = Field(
        None,
        description="Set only when the word-by-word comparison of this text field would cost "
        "more than the diff's work budget (see `degraded`): `line` means `text_diff` compares "
        "whole lines, `field` that it deletes the whole old text and inserts the whole new "
        "one. Null for an exact word-level `text_diff` and for fields without one.",
    )


class DiffRead(BaseModel):
    event_id: int
    from_version: int
    to_version: int
    changes: list[FieldChange]
    degraded: bool = Field(
        False,
        description="True when at least one text field was compared more coarsely than word "
        "by word (its `granularity` says how). One diff may spend a fixed budget of "
        "comparison steps across all its text fields, shortest first; a field whose word "
        "diff would need more (long texts that differ almost everywhere) falls back to a "
        "line diff, then to a whole-field replacement, so a diff always answers quickly.",
    )
