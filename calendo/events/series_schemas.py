"""Bodies of the operations on part of a series: one occurrence's edit, "this and following"
(a split, its preview) and its undo. One-way on ``events.schemas``, whose event bodies they
reuse."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from calendo.events.schemas import (
    ConflictRead,
    DateOrTime,
    EventUpdate,
    EventWriteResult,
    Note,
    OccurrenceChange,
    SeriesContent,
)


class OccurrenceEdit(OccurrenceChange):
    """`PATCH /api/events/{id}/occurrences/{recurrence_id}`: the fields sent become this
    occurrence's own (null gives a field back to the series); the rest of its override stays."""

    version: int | None = Field(None, ge=1, description="The version this edit was based on.")
    note: Note = None

    def changes(self) -> dict[str, Any]:
        """The occurrence fields the client sent."""
        return self.model_dump(exclude_unset=True, exclude={"version", "note"})


class SplitRequest(BaseModel):
    """`POST /api/events/{id}/split`: end the series before one occurrence and continue it
    from there as a new series with `changes` ("this and following")."""

    model_config = ConfigDict(extra="forbid")

    recurrence_id: DateOrTime = Field(
        description="The occurrence the new series starts with: the start the series' rule "
        "gives it (not its first, not an extra date), RFC 3339 with an offset. An all-day "
        "series' occurrence is named as `…/occurrences/{recurrence_id}` names it: by its date "
        "(`2026-03-26`), or by a time that is 00:00 on its own offset's clock, read as that "
        "date (`2026-03-26T00:00:00Z`, its stored `recurrence_id`, or "
        "`2026-03-26T00:00:00+01:00`, its start as `/occurrences` places it); any other time "
        "on an all-day series, and a date on a timed one, is a 422 at "
        '`["body","recurrence_id"]`, as is a time that is not one of its occurrences.'
    )
    changes: EventUpdate = Field(
        default_factory=EventUpdate,
        description="Fields of the new series that differ from the old one's (as a partial "
        "update: moving `start_time` moves its overrides with it).",
    )
    dry_run: bool = Field(False, description="Preview only: nothing is written.")
    version: int | None = Field(None, ge=1, description="The version this split was based on.")
    note: Note = None


class SplitSide(SeriesContent):
    """One series of a split: its content fields, and its id and version once written (null
    in a dry run's new series)."""

    version: int | None = None


class SplitOccurrence(BaseModel):
    """An occurrence from the split point on, before and after the split (paired in order);
    null on a side where it has no partner."""

    original_start: datetime | None
    original_end: datetime | None
    occurrence_start: datetime | None
    occurrence_end: datetime | None


class SplitOverrides(BaseModel):
    kept: list[datetime] = Field(description="Overrides that stay with the old series.")
    moved: list[datetime] = Field(description="Overrides that move to the new series.")
    orphaned: list[datetime] = Field(
        description="Overrides that move but whose occurrence the new series does not have "
        "(its changes removed it): kept on it, inert."
    )


class SplitResult(BaseModel):
    dry_run: bool
    series: SplitSide = Field(description="The old series, ending before the split point.")
    new_series: SplitSide = Field(description="The new series, from the split point on.")
    occurrences: list[SplitOccurrence]
    occurrences_truncated: bool = Field(
        description="True when more occurrences follow than `limit` listed."
    )
    overrides: SplitOverrides
    conflicts: list[ConflictRead]


class UndoSplitResult(BaseModel):
    series: EventWriteResult = Field(description="The old series, its recurrence restored.")
    deleted_event_id: int = Field(description="The new series, deleted (restorable).")
