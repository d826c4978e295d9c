"""Event bodies: create, partial update, read, occurrences, conflicts and batches."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
)

from calendo.calendar import recurrence
from calendo.calendar.fields import Timezone
from calendo.calendar.overrides import MAX_OVERRIDES
from calendo.calendar.rrule import HORIZON_YEAR
from calendo.core.bounded import CountFirst, setting_limit
from calendo.sharing.policy import Role
from calendo.sharing.schemas import PermissionRead

ConflictStrategy = Literal["reject", "allow", "shift"]

MIN_YEAR = 1900
# The last year a time may fall in is the recurrence horizon: one constant for both.
MAX_YEAR = HORIZON_YEAR
MAX_EXCEPTIONS = 1000
MAX_RECURRENCE_DATES = 1000
BATCH_MAX = setting_limit("batch_max")


def _in_range(value: datetime) -> datetime:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"times must fall between the years {MIN_YEAR} and {MAX_YEAR}")
    return value


def _rfc3339(value: Any) -> Any:
    # Pydantic would read a number as a Unix timestamp; the contract speaks RFC 3339 only.
    if isinstance(value, int | float):
        raise ValueError("times must be RFC 3339 strings with an offset, not numbers")
    return value


def _utc_representable(value: datetime) -> datetime:
    # 0001-01-01T00:00+01:00 parses but has no UTC reading; refuse it here, not with a 500.
    try:
        value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("time is out of range") from exc
    return value


def _rule(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, str | dict):
        raise ValueError("recurrence_pattern must be an RRULE string or an object")
    try:
        return recurrence.normalize_rule(value)
    except recurrence.RecurrenceError as exc:
        raise ValueError(str(exc)) from exc


def _title(value: str) -> str:
    if not value.strip():
        raise ValueError("title must not be blank")
    return value


Time = Annotated[AwareDatetime, BeforeValidator(_rfc3339), AfterValidator(_in_range)]
WindowTime = Annotated[AwareDatetime, AfterValidator(_utc_representable)]
RulePattern = Annotated[
    str | None,
    BeforeValidator(_rule),
    Field(
        description="RFC 5545 RRULE (`FREQ=WEEKLY;BYDAY=MO`), `RRULE:` prefix accepted, or the "
        "structured form `{frequency, interval, by_weekday, by_month_day, count, until}`; "
        "always returned as the canonical RRULE string. The whole RFC 5545 grammar is accepted "
        "(SECONDLY to YEARLY, every BYxxx part with lists, WKST); a rule is never refused for "
        "firing often: a window with more occurrences than the cap answers `truncated`."
    ),
]
Title = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_title)]
Exceptions = Annotated[list[Time], CountFirst(MAX_EXCEPTIONS)]
_EXDATE = "Occurrence start times removed from the series (EXDATE)."
RecurrenceDates = Annotated[list[Time], CountFirst(MAX_RECURRENCE_DATES)]
_RDATE = (
    "Extra occurrence start times of the series (RFC 5545 RDATE), besides its rule's; each "
    "lasts as long as the event. Only on a recurring event, none before `start_time`, at most "
    f"{MAX_RECURRENCE_DATES:,}; deduplicated and sorted. An RDATE the rule also produces is one "
    "occurrence; `recurrence_exceptions` remove RDATEs too."
)
Transparency = Literal["opaque", "transparent"]
_TRANSP = (
    "Free/busy transparency (RFC 5545 TRANSP). `opaque` (the default) keeps its time busy; a "
    "`transparent` event (a holiday banner, a reminder) never conflicts: it is never reported "
    "as a conflict of another event, and its own writes are never refused or shifted for "
    "overlapping others."
)
Note = Annotated[str | None, Field(max_length=500, description="Edit summary for the history.")]
_OVERRIDES = (
    "Single-occurrence edits (RFC 5545 RECURRENCE-ID), one per occurrence, sorted by "
    "`recurrence_id`: the start the series gives the occurrence, and what this occurrence has "
    "of its own (its times, title, description, location, transparency; a field left out is "
    "the series'). Only on a recurring event, at most "
    f"{MAX_OVERRIDES:,}; an occurrence may not start before the series' `start_time`. "
    "`PATCH /api/events/{id}/occurrences/{recurrence_id}` edits one. When the series' start "
    "moves, each override's `recurrence_id` moves with it; an override whose occurrence the "
    "series no longer has is kept, inert, and listed in a write's `orphaned_overrides`."
)


class OccurrenceChange(BaseModel):
    """What one occurrence has of its own; a field left out (or null) is the series'."""

    model_config = ConfigDict(extra="forbid")

    start_time: Time | None = None
    end_time: Time | None = None
    title: Title | None = None
    description: str | None = Field(None, max_length=10_000)
    location: str | None = Field(None, max_length=500)
    transparency: Transparency | None = None


class OverrideIn(OccurrenceChange):
    """One overridden occurrence of a series."""

    recurrence_id: Time = Field(description="The start the series gives this occurrence.")


Overrides = Annotated[list[OverrideIn], CountFirst(MAX_OVERRIDES)]


class EventContent(BaseModel):
    """Fields shared by create and update."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(None, max_length=10_000)
    location: str | None = Field(None, max_length=500)
    recurrence_exceptions: Exceptions | None = Field(None, description=_EXDATE)
    recurrence_dates: RecurrenceDates | None = Field(None, description=_RDATE)
    recurrence_overrides: Overrides | None = Field(None, description=_OVERRIDES)

    @field_validator("recurrence_exceptions", "recurrence_dates")
    @classmethod
    def _dedupe(cls, value: list[datetime] | None) -> list[datetime] | None:
        return sorted(set(value)) if value is not None else None


class EventCreate(EventContent):
    """A new event. `is_recurring` defaults to whether a `recurrence_pattern` is given."""

    title: Title
    start_time: Time
    end_time: Time
    timezone: Timezone = "UTC"
    is_recurring: bool | None = None
    recurrence_pattern: RulePattern = None
    transparency: Transparency = Field("opaque", description=_TRANSP)
    note: Note = None


class EventUpdate(EventContent):
    """Partial update: only the fields sent change.

    `version` (or `If-Match`) makes the write conditional. Read-only fields of `EventRead`
    may be sent back unchanged and are ignored.
    """

    title: Title | None = None
    start_time: Time | None = None
    end_time: Time | None = None
    timezone: Timezone | None = None
    is_recurring: bool | None = None
    recurrence_pattern: RulePattern = None
    transparency: Transparency | None = Field(None, description=_TRANSP)
    version: int | None = Field(None, ge=1, description="The version this edit was based on.")
    note: Note = None
    # Read-only fields a client may echo back from a GET; ignored.
    id: int | None = Field(None, exclude=True)
    owner_id: int | None = Field(None, exclude=True)
    my_role: Role | None = Field(None, exclude=True)
    created_at: datetime | None = Field(None, exclude=True)
    updated_at: datetime | None = Field(None, exclude=True)
    permissions: list[Any] | None = Field(None, exclude=True)
    conflicts: list[Any] | None = Field(None, exclude=True)
    orphaned_overrides: list[Any] | None = Field(None, exclude=True)
    related_events: list[Any] | None = Field(None, exclude=True)

    @field_validator("title", "start_time", "end_time", "timezone", "transparency", mode="before")
    @classmethod
    def _not_null(cls, value: Any, info: ValidationInfo) -> Any:
        # These columns always have a value: omit a field to keep it, never send null.
        if value is None:
            raise ValueError(f"{info.field_name} cannot be null; omit it to keep its value")
        return value

    def changes(self) -> dict[str, Any]:
        """The content fields the client sent."""
        return self.model_dump(exclude_unset=True, exclude={"version", "note"})


class OccurrenceEdit(OccurrenceChange):
    """`PATCH /api/events/{id}/occurrences/{recurrence_id}`: the fields sent become this
    occurrence's own (null gives a field back to the series); the rest of its override stays."""

    version: int | None = Field(None, ge=1, description="The version this edit was based on.")
    note: Note = None

    def changes(self) -> dict[str, Any]:
        """The occurrence fields the client sent."""
        return self.model_dump(exclude_unset=True, exclude={"version", "note"})


class OverrideRead(BaseModel):
    recurrence_id: datetime
    start_time: datetime | None = None
    end_time: datetime | None = None
    title: str | None = None
    description: str | None = None
    location: str | None = None
    transparency: Transparency | None = None

    @model_serializer(mode="wrap")
    def _own_fields_only(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        # An override holds only what its occurrence has of its own: no nulls for the rest.
        return {k: v for k, v in handler(self).items() if v is not None}


class RelatedEvent(BaseModel):
    event_id: int
    relation: Literal["split_from", "split_into"]
    version: int = Field(description="The version of this series the split wrote.")


class ConflictRead(BaseModel):
    event_id: int
    title: str
    occurrence_start: datetime
    occurrence_end: datetime


class SeriesContent(BaseModel):
    """An event's content fields, and its id (null for a series not written yet)."""

    id: int | None
    title: str
    description: str | None
    start_time: datetime
    end_time: datetime
    timezone: str
    location: str | None
    is_recurring: bool
    recurrence_pattern: str | None
    recurrence_exceptions: list[datetime]
    recurrence_dates: list[datetime] = Field(description=_RDATE)
    transparency: Transparency = Field(description=_TRANSP)
    recurrence_overrides: list[OverrideRead] = Field(description=_OVERRIDES)


class EventRead(SeriesContent):
    model_config = ConfigDict(from_attributes=True)

    id: int
    related_events: list[RelatedEvent] = Field(
        [],
        description="The series a split links this one to (RFC 5545 RELATED-TO): "
        "`split_into` on the series that ends, `split_from` on the one that continues it.",
    )
    owner_id: int
    my_role: Role
    version: int
    created_at: datetime
    updated_at: datetime


class EventDetail(EventRead):
    """A single event with who can see it."""

    permissions: list[PermissionRead]


class EventWriteResult(EventRead):
    """A written event; `conflicts` lists overlaps accepted under `conflict_strategy=allow`."""

    conflicts: list[ConflictRead] = []
    orphaned_overrides: list[datetime] = Field(
        [],
        description="Recurrence ids of overrides whose occurrence the series no longer has "
        "after this write (its rule or exceptions changed): kept on the event, inert until the "
        "series has that occurrence again, and retrievable from the history.",
    )


class OccurrenceRead(BaseModel):
    occurrence_start: datetime
    occurrence_end: datetime
    recurrence_id: datetime | None = Field(
        None, description="On an overridden occurrence: the start the series gives it."
    )
    title: str | None = Field(None, description="On an overridden occurrence: its own title.")
    description: str | None = None
    location: str | None = None
    transparency: Transparency | None = None


class OccurrencesPage(BaseModel):
    event_id: int
    items: list[OccurrenceRead]
    truncated: bool = Field(description="True when more occurrences exist than were returned.")


class ExpandedEventRead(EventRead):
    occurrence_start: datetime
    occurrence_end: datetime
    recurrence_id: datetime | None = Field(
        None,
        description="On an overridden occurrence: the start the series gives it (its title, "
        "description, location and transparency are then the occurrence's own).",
    )


class ConflictCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start_time: Time
    end_time: Time
    timezone: Timezone = "UTC"
    recurrence_pattern: RulePattern = None
    recurrence_exceptions: Exceptions = Field(default_factory=list, description=_EXDATE)
    recurrence_dates: RecurrenceDates = Field(default_factory=list, description=_RDATE)
    transparency: Transparency = Field("opaque", description=_TRANSP)
    exclude_event_id: int | None = Field(None, description="Ignore this event (when moving it).")

    @field_validator("recurrence_dates")
    @classmethod
    def _with_a_rule(cls, value: list[datetime], info: ValidationInfo) -> list[datetime]:
        # As on an event: extra dates belong to a series (a preview's series has a rule).
        if value and info.data.get("recurrence_pattern") is None:
            raise ValueError("recurrence_dates are only allowed with a recurrence_pattern")
        return sorted(set(value))


class Slot(BaseModel):
    start_time: datetime
    end_time: datetime


class ConflictReport(BaseModel):
    conflicts: list[ConflictRead]
    suggestions: list[Slot]


class BatchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: Annotated[list[EventCreate], CountFirst(BATCH_MAX)] = Field(
        min_length=1, description="At most `CALENDO_BATCH_MAX` (default 100) events."
    )


class BatchResult(BaseModel):
    items: list[EventWriteResult]


class SplitRequest(BaseModel):
    """`POST /api/events/{id}/split`: end the series before one occurrence and continue it
    from there as a new series with `changes` ("this and following")."""

    model_config = ConfigDict(extra="forbid")

    recurrence_id: Time = Field(
        description="The occurrence the new series starts with: the start the series' rule "
        "gives it (not its first, not an extra date)."
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
