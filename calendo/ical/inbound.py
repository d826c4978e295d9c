"""RFC 5545 VEVENTs read back as Calendo events: the inverse of ``convert``'s writing.

``from_vevent`` maps one ``VEVENT`` to the fields of ``EventCreate`` (timed, or all-day for
``VALUE=DATE``) and its identity (UID, SEQUENCE, CREATED, LAST-MODIFIED); ``from_series``
adds the ``RECURRENCE-ID`` instances of a series as its ``recurrence_overrides`` (an all-day
series' in dates, keyed by their floating instants as Calendo stores them), each checked to
name an occurrence the series has. Each field
is read here beside the form ``convert`` writes it in (docs/api-notes.md, "iCalendar").

A floating time (RFC 5545 3.3.5 form #1: no ``TZID``, no ``Z``) is read on the wall clock of
the zone ``floating`` names (``floating_zone``: the calendar's ``X-WR-TIMEZONE``, else the
importing account's zone), as every other time of the component and of its instances:
resolved as Calendo resolves every wall time in a zone (zoneinfo's ``fold=0``: an ambiguous
time is the first of its two instants, one in a gap is read with the offset before it; see
``calendar.recurrence``). A floating series' event has that zone. Without ``floating`` a
floating time is refused.

Pure: no database, no web framework.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
from icalendar.error import GloballyUniqueTZIDGuessed
from icalendar.timezone import tzp

from calendo.calendar import days, recurrence
from calendo.events.snapshots import format_instant
from calendo.ical import series
from calendo.ical.convert import (
    OVERRIDE_TEXT,
    START_MARK,
    ICalError,
    Identity,
    Imported,
    event_id_of,
)


def parse_calendar(data: bytes | str) -> list[icalendar.Event]:
    """The VEVENTs of an iCalendar text; ``ICalError`` when it is not one."""
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except ValueError as exc:
        raise ICalError(f"not an iCalendar object: {exc}") from None
    return list(calendar.events)


# Longer is no zone name (and would reach the file system as one: ENAMETOOLONG).
_MAX_ZONE_NAME = 255


def floating_zone(calendar_zone: str | None, default: str) -> str:
    """The zone a file's floating times are read in: ``calendar_zone`` (its
    ``X-WR-TIMEZONE``) when it names a zone Calendo knows, else ``default`` (the importing
    account's zone), else UTC. Each is read as a ``TZID`` is (``known_zone``)."""
    for name in (calendar_zone, default):
        found = known_zone(name)
        if found is not None:
            return found
    return "UTC"


@contextmanager
def tzids_read_as_named() -> Iterator[None]:
    """Parse with a "globally unique" ``TZID`` (RFC 5545 3.2.19), as Thunderbird/Lightning and
    libical write it (``/mozilla.org/20070129_1/Europe/Berlin``), read as its trailing tz
    database name without the library's warning that it took that reading."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GloballyUniqueTZIDGuessed)
        yield


def known_zone(name: str | None) -> str | None:
    """The tz database name of a zone named as a ``TZID`` names it, or None when Calendo does
    not know it. Resolved by the parser's own lookup of every ``TZID``
    (``icalendar.timezone.tzp.timezone``: a tz database name, a Windows zone ID through the
    library's CLDR table, a "globally unique" TZID's trailing name), so both read alike."""
    if not name or len(name) > _MAX_ZONE_NAME:
        return None
    try:
        with tzids_read_as_named():
            zone = tzp.timezone(name.strip())
    except (OSError, ValueError):
        return None
    if not isinstance(zone, ZoneInfo):
        return None
    try:
        return recurrence.load_zone(zone.key).key  # not a host alias (``localtime``)
    except recurrence.RecurrenceError:
        return None


def _zone(floating: str | None) -> ZoneInfo | None:
    return recurrence.load_zone(floating) if floating is not None else None


def from_vevent(vevent: icalendar.Component, *, floating: str | None = None) -> Imported:
    """A VEVENT as the fields of ``EventCreate`` (validated by the caller, through the
    schema) and its identity; ``ICalError`` names what Calendo cannot model. ``floating``:
    the zone its floating times are read in (module docstring)."""
    prop = vevent.get("DTSTART")
    if prop is not None and type(getattr(prop, "dt", None)) is date:
        return Imported(fields=_all_day_fields(vevent, prop.dt), identity=_identity(vevent))
    wall = _zone(floating)
    start, zone = _start(vevent, wall)
    # RFC 5545 3.3.10: a floating DTSTART's UNTIL is floating too (read in the same zone).
    rule = _rule(vevent, wall if prop.dt.tzinfo is None else None)
    fields: dict[str, Any] = {
        "title": _required_text(vevent, "SUMMARY"),
        "description": _optional_text(vevent, "DESCRIPTION"),
        "start_time": start.astimezone(UTC),
        "end_time": _end(vevent, start, wall).astimezone(UTC),
        "timezone": zone,
        "location": _optional_text(vevent, "LOCATION"),
        "is_recurring": rule is not None,
        "recurrence_pattern": rule,
        "recurrence_exceptions": _instants(vevent, "EXDATE", wall),
        "recurrence_dates": _instants(vevent, "RDATE", wall),
        "transparency": _transparency(vevent),
    }
    if rule is not None and not _marked_start(vevent):
        series.count_the_start(fields)
    return Imported(fields=fields, identity=_identity(vevent))


def _marked_start(vevent: icalendar.Component) -> bool:
    """Whether the VEVENT carries Calendo's own ``EXDATE`` of a start its rule does not give."""
    found = vevent.get("EXDATE")
    lists: Sequence[Any] = [] if found is None else found if isinstance(found, list) else [found]
    return any(_is_start_mark(listed) for listed in lists)


def _is_start_mark(listed: Any) -> bool:
    return str(listed.params.get(START_MARK, "")).upper() == "DTSTART"


def _all_day_fields(vevent: icalendar.Component, start: date) -> dict[str, Any]:
    """An all-day VEVENT (``DTSTART;VALUE=DATE``) as ``EventCreate`` fields: its dates, the
    end exclusive (RFC 5545: one day when neither ``DTEND`` nor ``DURATION`` says more); its
    start counted as RFC 5545 counts it, as a timed series' is (``series.count_the_start``)."""
    rule = _rule(vevent)
    fields: dict[str, Any] = {
        "title": _required_text(vevent, "SUMMARY"),
        "description": _optional_text(vevent, "DESCRIPTION"),
        "all_day": True,
        "start_date": start,
        "end_date": _end_date(vevent, start, timedelta(days=1)),
        "location": _optional_text(vevent, "LOCATION"),
        "is_recurring": rule is not None,
        "recurrence_pattern": rule,
        "recurrence_exceptions": _dates(vevent, "EXDATE"),
        "recurrence_dates": _dates(vevent, "RDATE"),
        "transparency": _transparency(vevent),
    }
    if rule is not None and not _marked_start(vevent):  # as a timed series' (from_vevent)
        series.count_the_start(fields)
    return fields


def _end_date(vevent: icalendar.Component, start: date, length: timedelta) -> date:
    """The exclusive end date of an all-day VEVENT: its ``DTEND`` (a date), or its start plus
    its ``DURATION`` (whole days, at least one), else plus ``length``."""
    given = getattr(vevent.get("DTEND"), "dt", None)
    duration = getattr(vevent.get("DURATION"), "dt", None)
    if "DTEND" in vevent:
        if type(given) is not date:
            raise ICalError("DTEND must be a date (VALUE=DATE), as DTSTART is")
        return given
    if isinstance(duration, timedelta):
        return start + timedelta(days=max(1, duration.days))
    return start + length


def _dates(vevent: icalendar.Component, name: str) -> list[date]:
    found = vevent.get(name)
    lists: Sequence[Any] = [] if found is None else found if isinstance(found, list) else [found]
    values: set[date] = set()
    for listed in lists:
        if _is_start_mark(listed):
            continue  # Calendo's own EXDATE of an unsynchronised start: not an exception
        for item in listed.dts:
            if type(item.dt) is not date:
                raise ICalError(f"{name} values of an all-day event must be dates")
            values.add(item.dt)
    return sorted(values)


def from_series(
    master: icalendar.Component,
    instances: Sequence[icalendar.Component],
    *,
    floating: str | None = None,
) -> Imported:
    """A series' VEVENT and the VEVENTs of its overridden occurrences (same ``UID``, each
    with a ``RECURRENCE-ID``) as one event whose ``recurrence_overrides`` hold them; an
    instance marked ``STATUS:CANCELLED`` (as Google and Exchange write a cancelled
    occurrence) is an exception of the series instead, as ``DELETE`` of an occurrence makes
    it. A cancelled series is ``ICalError``: it would show as taking place. ``floating``:
    the zone the floating times of all of them are read in (module docstring)."""
    if is_cancelled(master):
        raise ICalError(
            "STATUS:CANCELLED: the event is cancelled, and Calendo has no cancelled events "
            "(an import would show it as taking place)"
        )
    imported = from_vevent(master, floating=floating)
    cancelled = [instance for instance in instances if is_cancelled(instance)]
    if cancelled:
        _cancel(imported.fields, cancelled, floating)
    kept = [instance for instance in instances if not is_cancelled(instance)]
    if kept:
        overrides = overrides_of(imported.fields, kept, floating=floating)
        imported.fields["recurrence_overrides"] = overrides
    return imported


def is_cancelled(vevent: icalendar.Component) -> bool:
    """Whether a VEVENT says it does not take place (``STATUS:CANCELLED``)."""
    return str(vevent.get("STATUS", "")).strip().upper() == "CANCELLED"


def _cancel(
    fields: dict[str, Any], instances: Sequence[icalendar.Component], floating: str | None
) -> None:
    """Each cancelled instance's occurrence added to the series' exceptions (a date on an
    all-day series); one an ``EXDATE`` already removes is left as it is."""
    if not fields["is_recurring"]:
        raise ICalError("RECURRENCE-ID components for an event that does not recur")
    all_day = bool(fields.get("all_day"))
    excepted = set(map(series.floating, fields["recurrence_exceptions"]))
    rids = [recurrence_id_of(i, all_day=all_day, floating=floating) for i in instances]
    new = sorted({rid for rid in rids if rid not in excepted})
    _check_occurrences(fields, new)
    added = [rid.date() for rid in new] if all_day else new
    fields["recurrence_exceptions"] = sorted([*fields["recurrence_exceptions"], *added])


def overrides_of(
    series: Mapping[str, Any],
    instances: Sequence[icalendar.Component],
    *,
    floating: str | None = None,
) -> list[dict[str, Any]]:
    """The ``recurrence_overrides`` (``OverrideIn`` fields) of a series (``from_vevent``
    fields) that ``instances`` give: each keeps only what differs from what the series gives
    its occurrence; an instance without ``DTEND`` or ``DURATION`` lasts as long as the
    series' occurrences. ``ICalError`` when one names no occurrence of the series."""
    if not series["is_recurring"]:
        raise ICalError("RECURRENCE-ID components for an event that does not recur")
    if series.get("all_day"):
        result = [_all_day_override(series, instance) for instance in instances]
    else:
        result = [_timed_override(series, instance, floating) for instance in instances]
    for value, instance in zip(result, instances, strict=True):
        for field, name in OVERRIDE_TEXT.items():
            text = _optional_text(instance, name)
            if text is not None and text != series[field]:
                value[field] = text
        if "TRANSP" in instance and _transparency(instance) != series["transparency"]:
            value["transparency"] = _transparency(instance)
    _check_occurrences(series, [value["recurrence_id"] for value in result])
    return sorted(result, key=lambda v: v["recurrence_id"])


def _timed_override(
    series: Mapping[str, Any], instance: icalendar.Component, floating: str | None
) -> dict[str, Any]:
    """A timed series' override: its recurrence id and its own times (UTC)."""
    duration = series["end_time"] - series["start_time"]
    rid = recurrence_id_of(instance, all_day=False, floating=floating)
    wall = _zone(floating)
    value: dict[str, Any] = {"recurrence_id": rid}
    start = _start(instance, wall)[0].astimezone(UTC) if "DTSTART" in instance else rid
    has_end = "DTEND" in instance or "DURATION" in instance
    end = _end(instance, start, wall).astimezone(UTC) if has_end else start + duration
    if start != rid:
        value["start_time"] = start
    if end != start + duration:
        value["end_time"] = end
    return value


def _all_day_override(series: Mapping[str, Any], instance: icalendar.Component) -> dict[str, Any]:
    """An all-day series' override: its recurrence id and its own dates, each as the floating
    instant (UTC midnight) Calendo keys and places it by (``calendar.days``)."""
    rid = recurrence_id_of(instance, all_day=True)
    value: dict[str, Any] = {"recurrence_id": rid}
    given = getattr(instance.get("DTSTART"), "dt", None)
    if "DTSTART" in instance and type(given) is not date:
        raise ICalError(
            "DTSTART of an all-day occurrence (RECURRENCE-ID;VALUE=DATE) must be a date"
        )
    start = given if isinstance(given, date) else rid.date()
    length = series["end_date"] - series["start_date"]
    end = _end_date(instance, start, length)
    if start != rid.date():
        value["start_time"] = days.floating(start)
    if end != start + length:
        value["end_time"] = days.floating(end)
    return value


def _check_occurrences(fields: Mapping[str, Any], recurrence_ids: Sequence[datetime]) -> None:
    """``ICalError`` naming the first ``RECURRENCE-ID`` the series has no occurrence at (its
    rule, ``RDATE`` and ``EXDATE`` as Calendo expands them)."""
    lost = series.orphaned(fields, recurrence_ids)
    if not lost:
        return  # all found, or a rule the event's own validation refuses
    first = min(lost)
    if fields.get("all_day"):
        raise ICalError(
            f"RECURRENCE-ID {first.date().isoformat()} is not an occurrence of the series: its "
            "rule, RDATE and EXDATE give no occurrence on that date"
        )
    raise ICalError(
        f"RECURRENCE-ID {format_instant(first)} is not an occurrence of the series: its rule, "
        "RDATE and EXDATE give no occurrence starting then"
    )


def recurrence_id_of(
    instance: icalendar.Component, *, all_day: bool | None = None, floating: str | None = None
) -> datetime:
    """The ``RECURRENCE-ID`` of an instance VEVENT as Calendo keys it: a date-time in UTC (a
    floating one read in ``floating``), a date (of an all-day series) as its floating
    instant. ``all_day`` says which the series needs (None: either); ``ICalError`` for one
    Calendo cannot model."""
    prop = instance["RECURRENCE-ID"]
    rid = getattr(prop, "dt", None)
    if str(prop.params.get("RANGE", "")).upper() == "THISANDFUTURE":
        raise ICalError("RECURRENCE-ID;RANGE=THISANDFUTURE: Calendo overrides one occurrence")
    if type(rid) is date and all_day is not False:
        return days.floating(rid)
    if all_day:
        raise ICalError(
            "RECURRENCE-ID of an all-day series must be a date (VALUE=DATE), as its DTSTART is"
        )
    if not isinstance(rid, datetime):
        raise ICalError("RECURRENCE-ID must be a date-time, as the DTSTART of a timed series is")
    return _read(rid, prop, _zone(floating), "RECURRENCE-ID").astimezone(UTC)


def _read(value: datetime, prop: Any, floating: ZoneInfo | None, name: str) -> datetime:
    """A date-time as read: in its own zone (``Z``, or a ``TZID`` the parser resolved), a
    floating one on the wall clock of ``floating`` (``fold=0``, module docstring)."""
    if value.tzinfo is not None:
        return value
    tzid = prop.params.get("TZID")
    if tzid:
        raise ICalError(
            f"{name}'s TZID {str(tzid)[:60]!r} is not a time zone Calendo knows (a tz database "
            "or Windows name; a file's own VTIMEZONE rules are not used)"
        )
    if floating is None:
        raise ICalError(f"{name} is a floating time (no TZID, no Z): its instant is unknown")
    return value.replace(tzinfo=floating)


def _start(vevent: icalendar.Component, floating: ZoneInfo | None) -> tuple[datetime, str]:
    prop = vevent.get("DTSTART")
    if prop is None:
        raise ICalError("DTSTART is missing")
    value = prop.dt
    # A date here is an instance of a timed series (from_vevent reads an all-day DTSTART as
    # such, and overrides_of an all-day series' instances as dates).
    if not isinstance(value, datetime):
        raise ICalError("DTSTART is a date, but the series' DTSTART is a date-time")
    value = _read(value, prop, floating, "DTSTART")
    if isinstance(value.tzinfo, ZoneInfo):  # a Windows name reads as its tz database zone
        return value, value.tzinfo.key
    tzid = prop.params.get("TZID")
    return value, str(tzid) if tzid else "UTC"


def _end(vevent: icalendar.Component, start: datetime, floating: ZoneInfo | None) -> datetime:
    prop = vevent.get("DTEND")
    if prop is not None:
        value = prop.dt
        if not isinstance(value, datetime):
            raise ICalError("DTEND must be a date-time, as DTSTART is")
        return _read(value, prop, floating, "DTEND")
    duration = vevent.get("DURATION")
    if duration is not None and isinstance(duration.dt, timedelta):
        return start + duration.dt
    return start  # RFC 5545 3.6.1: a DATE-TIME start without an end ends when it starts


def _rule(vevent: icalendar.Component, floating: ZoneInfo | None = None) -> str | None:
    """The VEVENT's RRULE text; a floating ``UNTIL`` read in ``floating`` (given for a
    floating ``DTSTART``, RFC 5545 3.3.10) and written in UTC, as Calendo keeps it."""
    rules = vevent.get("RRULE")
    if rules is None:
        return None
    if isinstance(rules, list):
        if len(rules) > 1:
            raise ICalError("more than one RRULE: Calendo models one rule per event")
        rules = rules[0]
    until = rules.get("UNTIL") or [None]
    if floating is not None and isinstance(until[0], datetime) and until[0].tzinfo is None:
        instant = until[0].replace(tzinfo=floating).astimezone(UTC)
        rules = icalendar.vRecur({**rules, "UNTIL": [instant]})
    return str(rules.to_ical().decode())


def _instants(vevent: icalendar.Component, name: str, floating: ZoneInfo | None) -> list[datetime]:
    found = vevent.get(name)
    if found is None:
        return []
    lists: Sequence[Any] = found if isinstance(found, list) else [found]
    values: set[datetime] = set()
    for listed in lists:
        if _is_start_mark(listed):
            continue  # Calendo's own EXDATE of an unsynchronised start: not an exception
        for item in listed.dts:
            value = item.dt
            if not isinstance(value, datetime):
                raise ICalError(f"{name} values must be date-times, as DTSTART is")
            values.add(_read(value, listed, floating, name).astimezone(UTC))
    return sorted(values)


def _transparency(vevent: icalendar.Component) -> str:
    value = vevent.get("TRANSP")
    return "transparent" if value is not None and str(value).upper() == "TRANSPARENT" else "opaque"


def _required_text(vevent: icalendar.Component, name: str) -> str:
    value = _optional_text(vevent, name)
    if value is None:
        raise ICalError(f"{name} is missing")
    return value


def _optional_text(vevent: icalendar.Component, name: str) -> str | None:
    value = vevent.get(name)
    if value is None:
        return None
    if isinstance(value, list):
        raise ICalError(f"{name} appears more than once")
    return str(value)


def _utc_or_none(vevent: icalendar.Component, name: str) -> datetime | None:
    prop = vevent.get(name)
    value = getattr(prop, "dt", None)
    return value.astimezone(UTC) if isinstance(value, datetime) and value.tzinfo else None


def _identity(vevent: icalendar.Component) -> Identity:
    uid = str(vevent.get("UID", ""))
    sequence = vevent.get("SEQUENCE")
    return Identity(
        uid=uid,
        event_id=event_id_of(uid),
        version=int(sequence) + 1 if sequence is not None else None,
        created_at=_utc_or_none(vevent, "CREATED"),
        updated_at=_utc_or_none(vevent, "LAST-MODIFIED"),
    )
