"""Event bodies: create, partial update, read, occurrences, conflicts and batches."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
    field_validator,
    model_serializer,
)
from pydantic_core import PydanticCustomError

from calendo.calendar import recurrence
from calendo.calendar.fields import Timezone
from calendo.calendar.overrides import MAX_OVERRIDES
from calendo.calendar.rrule import HORIZON_YEAR
from calendo.core.bounded import CountFirst, setting_limit
from calendo.events.override_texts import OVERRIDE_ID, OVERRIDES
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
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_FORMATS = ("date", "date-time")


def _iso_date(value: Any) -> Any:
    # Only ISO dates: pydantic would read a number as a Unix time, or take a midnight time.
    if isinstance(value, datetime) or not isinstance(value, str | date):
        raise ValueError("dates must be ISO dates such as 2026-03-12")
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
        raise ValueError(f"dates must be ISO dates such as 2026-03-12, not {value!r}")
    return value


def _day_in_range(value: date) -> date:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"dates must fall between the years {MIN_YEAR} and {MAX_YEAR}")
    return value


Day = Annotated[date, BeforeValidator(_iso_date), AfterValidator(_day_in_range)]


def _date_or_time(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    # An item of recurrence_exceptions / recurrence_dates: a time, or on an all-day event a
    # date (checked against the event's kind when the content is known: events.all_day).
    if isinstance(value, date) and not isinstance(value, datetime):
        return _day_in_range(value)
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return _day_in_range(date.fromisoformat(value))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a valid date") from exc
    return handler(value)


def _kind_then_time(value: date) -> tuple[bool, date]:
    # Dates (all-day) and times never mix in a valid list; sort each kind in time order (a
    # datetime is never compared with a date: the kind differs first).
    return isinstance(value, datetime), value


WindowTime = Annotated[AwareDatetime, AfterValidator(_utc_representable)]
# An extra or excluded date, or a recurrence id: a time, or (an all-day event's) a date. One
# validator (a bad one is one error at the field, where a `Day | Time` union gave one per
# member, named by its validators), dumped as the kind it is.
_DAY_OR_TIME = WithJsonSchema({"anyOf": [{"type": "string", "format": f} for f in _FORMATS]})
_AS_IS = PlainSerializer(lambda value: value, return_type=date | datetime)
DateOrTime = Annotated[Time, WrapValidator(_date_or_time), _AS_IS, _DAY_OR_TIME]
DayOrWindowTime = Annotated[WindowTime, WrapValidator(_date_or_time), _AS_IS, _DAY_OR_TIME]
RulePattern = Annotated[
    str | None,
    BeforeValidator(_rule),
    Field(
        description="RFC 5545 RRULE (`FREQ=WEEKLY;BYDAY=MO`), `RRULE:` prefix accepted, or the "
        "structured form `{frequency, interval, by_weekday, by_month_day, by_month, "
        "by_set_pos, by_year_day, by_week_no, by_hour, by_minute, by_second, week_start, "
        "count, until}`; "
        "always returned as the canonical RRULE string. The whole RFC 5545 grammar is accepted "
        "(SECONDLY to YEARLY, every BYxxx part with lists, WKST); a rule is never refused for "
        "firing often: a window with more occurrences than the cap answers `truncated`."
    ),
]
Title = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_title)]
Exceptions = Annotated[list[DateOrTime], CountFirst(MAX_EXCEPTIONS)]
_EXDATE = (
    "Occurrence start times removed from the series (EXDATE); on an all-day event, dates "
    "(`2026-03-16`)."
)
RecurrenceDates = Annotated[list[DateOrTime], CountFirst(MAX_RECURRENCE_DATES)]
_RDATE = (
    "Extra occurrence start times of the series (RFC 5545 RDATE), besides its rule's; each "
    "lasts as long as the event. Only on a recurring event, none before `start_time`, at most "
    f"{MAX_RECURRENCE_DATES:,}; deduplicated and sorted. An RDATE the rule also produces is one "
    "occurrence; `recurrence_exceptions` remove RDATEs too. On an all-day event, dates "
    "(`2026-03-16`), none before `start_date`."
)
Transparency = Literal["opaque", "transparent"]
_TRANSP = (
    "Free/busy transparency (RFC 5545 TRANSP). `opaque` (the default) keeps its time busy; a "
    "`transparent` event (a holiday banner, a reminder) never conflicts: it is never reported "
    "as a conflict of another event, and its own writes are never refused or shifted for "
    "overlapping others."
)
_ALL_DAY = (
    "An all-day (or multi-day) event, RFC 5545 `VALUE=DATE`: it has `start_date` and "
    "`end_date` instead of times, and stays on those dates in every viewer's zone (placed "
    "from 00:00 of `start_date` to 00:00 of `end_date` in the caller's zone: the read's `tz`, "
    "else the account zone; 23 or 25 hours on a DST change day). Default false."
)
_START_DATE = (
    "First date of an all-day event (ISO date, `2026-03-12`); only with `all_day: true`, "
    "where it is required."
)
_END_DATE = (
    "Day after the last date of an all-day event (exclusive, RFC 5545: a one-day event on "
    "12 March ends on `2026-03-13`); after `start_date`, which it defaults to the day after. "
    "Only with `all_day: true`."
)
_TIME_ALL_DAY = (
    " On an all-day event it is not sent (its dates place it); read, it is the placement of "
    "its dates in the zone the body is rendered in (00:00 there)."
)
Note = Annotated[str | None, Field(max_length=500, description="Edit summary for the history.")]


class OccurrenceChange(BaseModel):
    """What one occurrence has of its own; a field left out (or null) is the series'. An
    all-day series' occurrence moves by dates, `start_date` / `end_date` (end exclusive),
    or by times that are UTC midnights; dates on a timed series' occurrence are a 422."""

    model_config = ConfigDict(extra="forbid")

    start_time: Time | None = None
    end_time: Time | None = None
    start_date: Day | None = None
    end_date: Day | None = None
    title: Title | None = None
    description: str | None = Field(None, max_length=10_000)
    location: str | None = Field(None, max_length=500)
    transparency: Transparency | None = None


class OverrideIn(OccurrenceChange):
    """One overridden occurrence of a series."""

    recurrence_id: DateOrTime = Field(description=OVERRIDE_ID)


Overrides = Annotated[list[OverrideIn], CountFirst(MAX_OVERRIDES)]


def _all_day_time(value: datetime | None, info: ValidationInfo) -> datetime | None:
    """``start_time`` / ``end_time`` beside ``all_day``: required on a timed event (a create),
    on an all-day event only an echo of its date's midnight (then dropped), else a 422."""
    name = info.field_name or "start_time"
    if not info.data.get("all_day"):
        return value
    if value is None:
        return None
    day = info.data.get("start_date" if name == "start_time" else "end_date")
    if day is None or value.time() != datetime.min.time() or value.date() != day:
        other = "start_date" if name == "start_time" else "end_date"
        raise PydanticCustomError(
            "all_day_time",
            "{field} contradicts {other} on an all-day event: send {other} (an ISO date) "
            "and leave {field} out, or send all_day: false to make it timed",
            {"field": name, "other": other},
        )
    return None


def _required_time(value: datetime | None, info: ValidationInfo) -> datetime | None:
    """``_all_day_time`` of a new event: a timed one needs both times."""
    if value is None and not info.data.get("all_day"):
        raise PydanticCustomError("missing", "Field required")
    return _all_day_time(value, info)


class EventContent(BaseModel):
    """Fields shared by create and update."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(None, max_length=10_000)
    location: str | None = Field(None, max_length=500)
    recurrence_exceptions: Exceptions | None = Field(None, description=_EXDATE)
    recurrence_dates: RecurrenceDates | None = Field(None, description=_RDATE)
    recurrence_overrides: Overrides | None = Field(None, description=OVERRIDES)
    # Before the times, so that their validators see them.
    all_day: bool | None = Field(None, description=_ALL_DAY)
    start_date: Day | None = Field(None, description=_START_DATE)
    end_date: Day | None = Field(None, description=_END_DATE)

    @field_validator("recurrence_exceptions", "recurrence_dates")
    @classmethod
    def _dedupe(cls, value: list[datetime] | None) -> list[datetime] | None:
        # Dates (all-day) and times never mix in one valid list; sort each kind apart.
        return sorted(set(value), key=_kind_then_time) if value is not None else None


class EventCreate(EventContent):
    """A new event. `is_recurring` defaults to whether a `recurrence_pattern` is given."""

    title: Title
    start_time: Time | None = Field(
        None, validate_default=True, description="Required unless `all_day`." + _TIME_ALL_DAY
    )
    end_time: Time | None = Field(
        None, validate_default=True, description="Required unless `all_day`." + _TIME_ALL_DAY
    )
    timezone: Timezone = "UTC"
    is_recurring: bool | None = None
    recurrence_pattern: RulePattern = None
    transparency: Transparency = Field("opaque", description=_TRANSP)
    note: Note = None

    _times = field_validator("start_time", "end_time")(_required_time)


class EventUpdate(EventContent):
    """Partial update: only the fields sent change.

    `version` (or `If-Match`) makes the write conditional: a stale `version` is a 409, a stale
    tag a 412; with both, each must be current. Read-only fields of `EventRead` may be sent
    back unchanged and are ignored.
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

    @field_validator(
        "title", "start_time", "end_time", "timezone", "transparency", "all_day", mode="before"
    )
    @classmethod
    def _not_null(cls, value: Any, info: ValidationInfo) -> Any:
        # These columns always have a value: omit a field to keep it, never send null.
        if value is None:
            raise ValueError(f"{info.field_name} cannot be null; omit it to keep its value")
        return value

    _times = field_validator("start_time", "end_time")(_all_day_time)

    def changes(self) -> dict[str, Any]:
        """The content fields the client sent (an all-day event's echoed times left out).

        Serialiser warnings off: an all-day event's exceptions and extra dates are dates in
        lists typed for times (``DateOrTime``), which dump as they are."""
        sent = self.model_dump(exclude_unset=True, exclude={"version", "note"}, warnings=False)
        for field in ("start_time", "end_time"):
            if field in sent and sent[field] is None:
                del sent[field]
        return sent


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
    start_time: datetime = Field(description="The start." + _TIME_ALL_DAY)
    end_time: datetime = Field(description="The end." + _TIME_ALL_DAY)
    timezone: str
    location: str | None
    is_recurring: bool
    recurrence_pattern: str | None
    recurrence_exceptions: list[datetime | date] = Field(description=_EXDATE)
    recurrence_dates: list[datetime | date] = Field(description=_RDATE)
    transparency: Transparency = Field(description=_TRANSP)
    recurrence_overrides: list[OverrideRead] = Field(description=OVERRIDES)
    all_day: bool = Field(description=_ALL_DAY)
    start_date: date | None = Field(description=_START_DATE)
    end_date: date | None = Field(description=_END_DATE)


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

    # Before the times, so that their validators see them.
    all_day: bool = Field(False, description=_ALL_DAY)
    start_date: Day | None = Field(None, description=_START_DATE)
    end_date: Day | None = Field(None, description=_END_DATE)
    start_time: Time | None = Field(
        None, validate_default=True, description="Required unless `all_day`." + _TIME_ALL_DAY
    )
    end_time: Time | None = Field(
        None, validate_default=True, description="Required unless `all_day`." + _TIME_ALL_DAY
    )
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
        return sorted(set(value), key=_kind_then_time)

    _times = field_validator("start_time", "end_time")(_required_time)


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
