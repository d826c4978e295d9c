"""All-day events (RFC 5545 ``VALUE=DATE``): their rules, their stored bounds, their bodies.

An all-day event has ``all_day`` true and dates, ``start_date`` and ``end_date`` (end
exclusive, so a one-day event on 12 March ends on 13 March). Its dates are placed in a
viewer's zone (``calendar.days``): the caller's, which is the read's ``tz`` when it names one,
else the caller's account zone (the same rule that chooses the zone a response is rendered
in); writes and the conflict check place them in the acting user's account zone.

What is stored:

* ``start_date`` / ``end_date`` (DATE columns), and the RDATEs / EXDATEs of a series as ISO
  dates (``"2026-03-16"``) in the same JSON lists timed events keep instants in.
* The index bounds: ``start_time`` is the UTC midnight of ``start_date`` minus
  ``days.DATE_REACH`` (14 h), ``end_time`` the UTC midnight of ``end_date`` plus it, and
  ``series_end`` the floating end of the last occurrence plus it (NULL when open-ended). Every
  zone's placement lies within them, so the unchanged window condition ``start_time <
  window_end AND (series_end IS NULL OR series_end > window_start)`` (``ix_event_window``, and
  the permission rows' copies of the calendar page) finds every all-day event a window may
  hold; the listing then keeps only those whose placement really overlaps it.

In a content snapshot (versions, diffs, merges, ``as_of``) ``start_time`` / ``end_time`` of an
all-day event are its UTC placement (the UTC midnights of its dates), derived from the dates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from calendo.calendar import days, recurrence
from calendo.core.errors import NotFound, ValidationFailed
from calendo.events.snapshots import as_date, format_instant, parse_instant, snapshot_times

__all__ = [
    "FIELDS",
    "SENT_FIELDS",
    "bound_columns",
    "is_date_text",
    "named_occurrence",
    "occurrence_days",
    "occurrence_key",
    "place_bodies",
    "place_body",
    "reconcile",
    "settle_overrides",
    "stored_instant",
    "stored_value",
]

FIELDS = ("all_day", "start_date", "end_date")
# The fields whose values ``reconcile`` checks on a timed event: an update of a timed event
# sending none of them has nothing to reconcile (a title change never runs this module).
SENT_FIELDS = frozenset(
    {*FIELDS, "recurrence_exceptions", "recurrence_dates", "recurrence_overrides"}
)
_DAY = timedelta(days=1)
_LISTS = ("recurrence_exceptions", "recurrence_dates")
_OVERRIDES = "recurrence_overrides"
# An occurrence's own times and the dates an all-day series' occurrence may give them by.
_OWN_DAYS = {"start_time": "start_date", "end_time": "end_date"}


def is_date_text(value: object) -> bool:
    """Whether a stored value is an ISO date (``2026-03-16``), not an RFC 3339 instant."""
    return isinstance(value, str) and len(value) == 10


def stored_instant(value: str) -> datetime:
    """A stored instant, or the floating instant (UTC midnight) of a stored date."""
    if is_date_text(value):
        return days.floating(date.fromisoformat(value))
    return parse_instant(value)


def stored_value(value: str) -> datetime | date:
    """A stored instant as a ``datetime``, a stored date as a ``date`` (for a body)."""
    return date.fromisoformat(value) if is_date_text(value) else parse_instant(value)


# --------------------------------------------------------------------------- writes


def _refuse(message: str, field: str) -> ValidationFailed:
    return ValidationFailed(message, loc=("body", field))


def reconcile(content: dict[str, Any], sent: set[str], *, was_all_day: bool) -> None:
    """Check and complete the all-day fields of new content (snapshot form), in place.

    All-day: ``start_date`` is required, ``end_date`` defaults to the next day and must be
    after it, ``start_time`` / ``end_time`` become the UTC placement of the dates (sending them
    is refused unless the body's schema found them equal to the dates), and extra or excluded
    dates must be dates. Timed: dates are refused, and making an all-day event timed needs
    both times."""
    if _OVERRIDES in sent:
        settle_overrides(content)
    if not content.get("all_day"):
        content["all_day"] = False
        for field in ("start_date", "end_date"):
            if field in sent and content.get(field) is not None:
                raise _refuse(f"{field} is only allowed on an all-day event (all_day: true)", field)
            content[field] = None
        if was_all_day:
            for field in ("start_time", "end_time"):
                if field not in sent:
                    raise _refuse(
                        f"making an all-day event timed needs start_time and end_time; {field} "
                        "is missing",
                        field,
                    )
        _check_lists(content, sent, dates=False)
        return
    for field in ("start_time", "end_time"):
        if field in sent:
            raise _refuse(
                f"{field} cannot be set on an all-day event: send start_date and end_date "
                "(or all_day: false with both times to make it timed)",
                field,
            )
    start, end = as_date(content.get("start_date")), as_date(content.get("end_date"))
    if start is None:
        raise _refuse(
            "an all-day event needs start_date (an ISO date such as 2026-03-12)", "start_date"
        )
    if end is None:
        end = start + _DAY
    if end <= start:
        raise _refuse(
            "end_date must be after start_date: it is exclusive, so a one-day event on "
            f"{start.isoformat()} ends on {(start + _DAY).isoformat()}",
            "end_date",
        )
    content["start_date"], content["end_date"] = start.isoformat(), end.isoformat()
    content["start_time"], content["end_time"] = snapshot_times(start, end)
    _check_lists(content, sent, dates=True)


def _check_lists(content: dict[str, Any], sent: set[str], *, dates: bool) -> None:
    """Extra and excluded dates of an all-day series are dates; a timed series' are times.
    Those kept from a series of the other kind (not sent) are converted: an instant to its
    date in the event's zone, a date to the event's new start time of day on it."""
    for field in _LISTS:
        if field not in sent:
            content[field] = _converted(content, content.get(field) or [], dates=dates)
        for value in content.get(field) or ():
            if is_date_text(value) != dates:
                raise _refuse(
                    f"{field} of an all-day event are dates such as 2026-03-16, not {value}"
                    if dates
                    else f"{field} of a timed event are times with an offset, not the date "
                    f"{value} (dates are for all-day events)",
                    field,
                )


def _converted(content: dict[str, Any], values: list[str], *, dates: bool) -> list[str]:
    """Stored exceptions or extra dates of the other kind in this kind's form (sorted)."""
    if all(is_date_text(v) == dates for v in values):
        return values
    zone = recurrence.load_zone(content["timezone"])
    if dates:
        return sorted({parse_instant(v).astimezone(zone).date().isoformat() for v in values})
    clock = parse_instant(content["start_time"]).astimezone(zone).time()
    return sorted(
        {format_instant(datetime.combine(date.fromisoformat(v), clock, zone)) for v in values}
    )


def settle_overrides(content: dict[str, Any]) -> None:
    """The sent ``recurrence_overrides`` of new content (stored form, dates still as sent),
    in place: each keyed by the occurrence its ``recurrence_id`` names (``named_occurrence``:
    an all-day series' by its UTC midnight) with its dates as its times (``occurrence_days``),
    sorted; two naming one occurrence are a 422."""
    all_day = bool(content.get("all_day"))
    settled: dict[datetime, dict[str, Any]] = {}
    for index, value in enumerate(content.get(_OVERRIDES) or ()):
        loc = ("body", _OVERRIDES, index)
        rid = named_occurrence(content, _sent(value["recurrence_id"]), (*loc, "recurrence_id"))
        if rid in settled:
            raise ValidationFailed(
                f"two overrides for the occurrence {format_instant(rid)}", loc=("body", _OVERRIDES)
            )
        own = occurrence_days(value, all_day=all_day, loc=loc, text=True, recurrence_id=rid)
        kept = {k: v for k, v in own.items() if v is not None}
        settled[rid] = {"recurrence_id": format_instant(rid), **kept}
    content[_OVERRIDES] = [settled[rid] for rid in sorted(settled)]


def _sent(value: str) -> datetime | date:
    """A recurrence id as ``overrides.stored`` keeps it: a date, or a time on its own clock."""
    return date.fromisoformat(value) if is_date_text(value) else datetime.fromisoformat(value)


def occurrence_key(content: Mapping[str, Any], named: datetime | date) -> datetime:
    """The recurrence id a path's ``recurrence_id`` names. A timed series' occurrence is named
    by its start (any offset). An all-day series' occurrences are keyed by the UTC midnights
    of their dates (``calendar.days``): one is named by its date (``2026-03-26``), or by a
    time that is 00:00 on its own offset's clock (its UTC midnight, or its start as
    ``/occurrences`` places it in a caller's zone, ``2026-03-26T00:00:00+01:00``). A date on a
    timed series names nothing (404)."""
    if not isinstance(named, datetime):
        if not content.get("all_day"):
            raise NotFound(
                f"The event has no occurrence on {named.isoformat()}: a date names an "
                "occurrence of an all-day series; name this timed series' by its start time"
            )
        return days.floating(named)
    if content.get("all_day") and named.time() == datetime.min.time():
        return days.floating(named.date())
    return named


def named_occurrence(
    content: Mapping[str, Any], named: datetime | date, loc: tuple[str | int, ...]
) -> datetime:
    """The recurrence id a body's ``recurrence_id`` (a split point, an override's) names, read
    as a path's (``occurrence_key``); 422 at ``loc`` for a form that names no occurrence of
    this series: a date on a timed series, or on an all-day one a time that is not 00:00 on
    its own offset's clock."""
    try:
        key = occurrence_key(content, named)
    except NotFound as exc:
        raise ValidationFailed(exc.detail, loc=loc) from exc
    if content.get("all_day") and key.time() != datetime.min.time():
        day = key.date().isoformat()
        raise ValidationFailed(
            f"recurrence_id {key.isoformat()} names no occurrence of an all-day series: name "
            f"one by its date (such as {day}) or by 00:00 on its own offset (such as "
            f"{day}T00:00:00Z)",
            loc=loc,
        )
    return key


def occurrence_days(
    own: Mapping[str, Any],
    *,
    all_day: bool,
    loc: tuple[str | int, ...],
    recurrence_id: datetime,
    text: bool = False,
) -> dict[str, Any]:
    """What one occurrence has of its own (an override, or a ``PATCH`` of one: ``None`` gives
    a field back to the series) with ``start_date`` / ``end_date`` as ``start_time`` /
    ``end_time``: the UTC midnights an all-day series keys and places its occurrences by
    (``calendar.days``; as RFC 3339 strings when ``text``, else datetimes). A start at the
    ``recurrence_id`` (an all-day occurrence's: on its own date) is ``None``, not a start of
    its own, as an iCalendar import reads it back. 422 at ``loc`` + the field for dates on a timed
    series' occurrence, a date beside its time, and, on an all-day series, a time that is not
    a UTC midnight."""
    result = {k: v for k, v in own.items() if k not in _OWN_DAYS.values() and k != "recurrence_id"}
    for field, date_field in _OWN_DAYS.items():
        day, given = own.get(date_field), own.get(field)
        if day is not None and not all_day:
            raise ValidationFailed(
                f"{date_field} is only for an occurrence of an all-day series; this series is "
                f"timed: send {field} (RFC 3339 with an offset)",
                loc=(*loc, date_field),
            )
        if day is not None and given is not None:
            raise ValidationFailed(
                f"send {date_field} or {field}, not both", loc=(*loc, date_field)
            )
        if day is not None:
            instant = days.floating(date.fromisoformat(day) if isinstance(day, str) else day)
            result[field] = format_instant(instant) if text else instant
        elif all_day and given is not None:
            _require_midnight(given, field, date_field, (*loc, field))
        elif date_field in own and field not in own:  # a PATCH's null: the series' again
            result[field] = None
    start = result.get("start_time")
    if start is not None and _instant(start) == recurrence_id:
        result["start_time"] = None  # not moved: the series' start (ical.inbound reads so)
    return result


def _instant(value: str | datetime) -> datetime:
    return parse_instant(value) if isinstance(value, str) else value.astimezone(UTC)


def _require_midnight(value: str | datetime, field: str, date_field: str, loc: Any) -> None:
    """422 unless an all-day occurrence's time is a UTC midnight (the form it is stored in)."""
    instant = _instant(value)
    if instant.time() != datetime.min.time():
        shown = value if isinstance(value, str) else value.isoformat()
        raise ValidationFailed(
            f"{field} of an occurrence of an all-day series must be a UTC midnight (such as "
            f"{instant.date().isoformat()}T00:00:00Z), not {shown}: an all-day occurrence "
            f"moves by whole dates; send {date_field} (an ISO date such as "
            f"{instant.date().isoformat()}) instead",
            loc=loc,
        )


def bound_columns(series: recurrence.Series) -> dict[str, Any]:
    """The columns an all-day series (possibly shifted by whole days) stores: its dates, its
    RDATEs / EXDATEs as dates, and index bounds widened by ``days.DATE_REACH`` each way."""
    try:
        last = recurrence.series_last_end(replace(series, days_in=None))
    except OverflowError:
        last = None
    return {
        "start_time": series.start - days.DATE_REACH,
        "end_time": series.end + days.DATE_REACH,
        "start_date": _day(series.start),
        "end_date": _day(series.end),
        "recurrence_exceptions": [_day(x).isoformat() for x in series.exdates],
        "recurrence_dates": [_day(x).isoformat() for x in series.rdates],
        "series_end": None if last is None else last + days.DATE_REACH,
    }


def _day(instant: datetime) -> date:
    return instant.astimezone(UTC).date()


# --------------------------------------------------------------------------- bodies


def place_body(body: dict[str, Any], zone: str) -> dict[str, Any]:
    """An all-day body's (or a version snapshot's) ``start_time`` / ``end_time`` as its
    placement in ``zone`` (00:00 of its dates there); any other body unchanged."""
    if body.get("all_day") and zone != "UTC":
        where = recurrence.load_zone(zone)
        start, end = as_date(body["start_date"]), as_date(body["end_date"])
        if start is not None and end is not None:
            body["start_time"], body["end_time"] = (
                days.day_start(start, where),
                days.day_start(end, where),
            )
    return body


def place_bodies(bodies: Iterable[dict[str, Any]], zone: str) -> None:
    """``place_body`` on each body, in place."""
    if zone != "UTC":
        for body in bodies:
            place_body(body, zone)
