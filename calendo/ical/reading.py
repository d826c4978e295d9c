"""An uploaded iCalendar file, screened and read into the events it would become.

Pure CPU (no database, no web framework, no event loop). ``steps`` is the reading as a
generator that yields between small units of work (a slice of lines, one component, one
event) and returns the items; the import drives it on the event loop, handing the loop back
whenever a step has used its budget (``core.cooperative.Pacer.drive``). Reading a
10,000-event file takes seconds of CPU: on a thread it would hold the GIL against the loop
(every SQLite call the loop makes gives the GIL up and waits to get it back), so it runs on
the loop in steps instead, as the other long reads do. Two passes:

1. ``_screen`` walks the unfolded content lines once, before any parser sees them, and refuses
   the whole file (``Unreadable``, a 422) for what would cost the parser or the server more
   than a calendar is worth: a line over ``MAX_LINE`` characters (found while unfolding, before
   it is built), components nested deeper than ``MAX_DEPTH``, more than ``max_events`` events
   (``CALENDO_IMPORT_MAX_EVENTS``: VEVENTs without ``RECURRENCE-ID``) or twice as many
   components, more than ``MAX_TIMEZONES`` VTIMEZONEs, unbalanced ``BEGIN``/``END``. It drops
   every VTIMEZONE: Calendo resolves a ``TZID`` only as a tz-database (or Windows) zone name,
   never from the file's own rules, whose expansion a hostile file can make endless (a
   ``FREQ=SECONDLY`` rule since 1601). It keeps each top-level component's lines, and per
   VEVENT the lines Calendo does not model (``extras``), and the calendar's
   ``X-WR-TIMEZONE``.
2. Each VEVENT is then parsed on its own with ``icalendar`` (one that cannot be parsed is
   refused, naming why), the VEVENTs are grouped by ``UID`` (a series and its
   ``RECURRENCE-ID`` instances), and each group is converted (``inbound.from_series``) and
   validated as ``EventCreate``, its floating times (no ``TZID``, no ``Z``) read in the zone
   ``inbound.floating_zone`` gives: the ``X-WR-TIMEZONE`` when Calendo knows it, else
   ``default_zone`` (the importing account's, a plain value the route hands in). A group
   that cannot be an event is an ``Item`` with a ``refusal`` naming why; the others carry
   their ``EventCreate`` and kept lines.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

import icalendar
from icalendar.error import BrokenCalendarProperty
from icalendar.prop import vBroken
from pydantic import ValidationError

from calendo.core.error_texts import plain_message
from calendo.events.schemas import EventCreate
from calendo.events.snapshots import format_instant
from calendo.ical import extras, inbound

MAX_LINE = 65_536  # characters of one unfolded content line
MAX_DEPTH = 3  # VCALENDAR > VEVENT > VALARM
MAX_TIMEZONES = 100
# Top-level components one import reads, per event of the cap: room for the overrides
# (``RECURRENCE-ID`` VEVENTs) of a calendar's series.
COMPONENTS_PER_EVENT = 2
MAX_UID = 255  # the imported_uid column
MAX_EXTRA_CHARS = 65_536  # the kept lines of one event, all its components together
_BREAK = re.compile(r"\r\n|\n|\r")
_BOUNDS = ("BEGIN", "END")


class Unreadable(ValueError):
    """The file as a whole cannot be imported; ``str()`` says why (and where)."""


# Lines screened between two yields of ``steps``.
_LINES_PER_STEP = 256


@dataclass(slots=True)
class Component:
    """One top-level component of the file (not a VTIMEZONE): its name, its lines, and the
    lines of it Calendo does not model."""

    name: str
    lines: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)


def _raw_lines(text: str) -> Iterator[str]:
    """The file's lines as they come (CRLF, LF or CR), found one at a time: splitting a
    16 MiB file at once would hold the loop for its whole length."""
    start = 0
    for found in _BREAK.finditer(text):
        yield text[start : found.start()]
        start = found.end()
    yield text[start:]


def _unfolded(text: str) -> Iterator[str]:
    """The content lines, unfolded (RFC 5545 3.1); ``Unreadable`` as soon as one passes
    ``MAX_LINE`` (its pieces are joined once, so a long line costs its length, not more)."""
    pieces: list[str] = []
    size = count = 0
    for raw in _raw_lines(text):
        if raw[:1] in (" ", "\t") and pieces:
            pieces.append(raw[1:])
            size += len(raw) - 1
        else:
            if pieces:
                yield "".join(pieces)
            pieces, size = ([raw], len(raw)) if raw else ([], 0)
            count += bool(raw)
        if size > MAX_LINE:
            raise Unreadable(f"line {count} is longer than {MAX_LINE} characters")
    if pieces:
        yield "".join(pieces)


def _screen(
    data: bytes, *, max_events: int
) -> Generator[None, None, tuple[list[Component], str | None]]:
    """The first pass (module docstring): the file's components and its ``X-WR-TIMEZONE``
    (None without one); ``Unreadable`` for a file to refuse whole."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Unreadable("an iCalendar file must be UTF-8 (RFC 5545 3.1.4)") from None
    if "\x00" in text:
        raise Unreadable("NUL characters are not allowed")
    result: list[Component] = []
    calendar_zone: str | None = None
    stack: list[str] = []
    events = components = timezones = calendars = 0
    instance = False  # whether the VEVENT being read has a RECURRENCE-ID
    for number, line in enumerate(_unfolded(text), start=1):
        if number % _LINES_PER_STEP == 0:
            yield
        name = extras.property_name(line)
        value = line.partition(":")[2].strip().upper()
        if name == "BEGIN":
            calendars += value == "VCALENDAR"
            if (not stack and value != "VCALENDAR") or (value == "VCALENDAR" and calendars > 1):
                raise Unreadable(f"line {number}: one VCALENDAR holds the file's components")
            stack.append(value)
            if len(stack) > MAX_DEPTH:
                raise Unreadable(f"line {number}: components nested deeper than {MAX_DEPTH}")
            if len(stack) == 2:
                components += value != "VTIMEZONE"
                timezones += value == "VTIMEZONE"
                instance = False
                if components > COMPONENTS_PER_EVENT * max_events:
                    raise Unreadable(
                        f"more than {COMPONENTS_PER_EVENT * max_events} components in one "
                        f"import ({COMPONENTS_PER_EVENT} per event of the cap, "
                        "CALENDO_IMPORT_MAX_EVENTS): split the file"
                    )
                if timezones > MAX_TIMEZONES:
                    raise Unreadable(f"more than {MAX_TIMEZONES} VTIMEZONE components")
                if value != "VTIMEZONE":
                    result.append(Component(value))
        elif not stack:
            raise Unreadable(f"line {number}: content outside BEGIN:VCALENDAR … END:VCALENDAR")
        if len(stack) >= 2 and stack[1] != "VTIMEZONE":
            result[-1].lines.append(line)
            nested = len(stack) > 2
            own = len(stack) == 2 and name not in extras.MODELLED and name not in _BOUNDS
            own = own and not extras.calendo_link(name, line)
            if nested or own:
                result[-1].extras.append(line)
        if name == "RECURRENCE-ID" and len(stack) == 2:
            instance = True
        if name == "X-WR-TIMEZONE" and len(stack) == 1 and calendar_zone is None:
            calendar_zone = _value(line)
        if name == "END":
            if not stack or stack[-1] != value:
                opened = stack[-1] if stack else "nothing"
                raise Unreadable(f"line {number}: END:{value} closes {opened}")
            stack.pop()
            events += len(stack) == 1 and value == "VEVENT" and not instance
            if events > max_events:
                raise Unreadable(
                    f"more than {max_events} events (VEVENTs without RECURRENCE-ID) in one "
                    "import, the cap (CALENDO_IMPORT_MAX_EVENTS): split the file"
                )
    if stack:
        raise Unreadable(f"the file ends inside {stack[-1]}")
    if not calendars:
        raise Unreadable("the file is empty")
    return result, calendar_zone


def _value(line: str) -> str:
    try:
        return extras.raw_value(line).strip()
    except ValueError:  # no value at all
        return ""


@dataclass(slots=True)
class Item:
    """One event of the file (a UID's series and its overrides), or why it cannot be one.

    ``index`` is the position of its first component among the file's components (0-based,
    VTIMEZONEs not counted)."""

    index: int
    uid: str | None
    data: EventCreate | None = None
    kept: dict[str, list[str]] = field(default_factory=dict)
    refusal: str | None = None

    @property
    def title(self) -> str | None:
        return self.data.title if self.data is not None else None


def steps(data: bytes, *, max_events: int, default_zone: str) -> Generator[None, None, list[Item]]:
    """The events a file would become (module docstring), yielding between steps; raises
    ``Unreadable`` for a file to refuse whole. ``default_zone``: the zone floating times
    are read in when the file's ``X-WR-TIMEZONE`` names none Calendo knows."""
    screened, calendar_zone = yield from _screen(data, max_events=max_events)
    floating = inbound.floating_zone(calendar_zone, default_zone)
    groups: dict[str, list[tuple[int, icalendar.Component, list[str]]]] = {}
    items: list[Item] = []
    for index, found in enumerate(screened):
        if found.name != "VEVENT":
            refusal = (
                f"{found.name}: Calendo imports events (VEVENT); with on_refusal=skip the "
                "file's events are imported without it"
            )
            items.append(Item(index, _own_uid(found.lines), refusal=refusal))
            continue
        try:
            with inbound.tzids_read_as_named():
                component = icalendar.Calendar.from_ical("\r\n".join(found.lines) + "\r\n")
        except ValueError as exc:
            items.append(Item(index, None, refusal=f"VEVENT: not readable: {exc}"))
            continue
        except OSError:  # the tz database looked up by a TZID past the file-name limit
            refusal = "VEVENT: not readable: a TZID too long to be a time zone name"
            items.append(Item(index, None, refusal=refusal))
            continue
        yield
        uid = str(component.get("UID", "")).strip()
        if not uid:
            items.append(Item(index, None, refusal="UID is missing (RFC 5545 3.6.1)"))
        elif len(uid) > MAX_UID:
            items.append(Item(index, uid[:40], refusal=f"UID is longer than {MAX_UID}"))
        else:
            groups.setdefault(uid, []).append((index, component, found.extras))
    for uid, members in groups.items():
        items.append(_item(uid, members, floating))
        yield
    return sorted(items, key=lambda item: item.index)


def _own_uid(lines: list[str]) -> str | None:
    """The ``UID`` of a component that is not read (a ``VTODO``), to name it in its refusal:
    its own, not a nested ``VALARM``'s."""
    depth = 0
    for line in lines:
        name = extras.property_name(line)
        depth += (name == "BEGIN") - (name == "END")
        if name == "UID" and depth == 1:
            return _value(line)[:MAX_UID] or None
    return None


_OUT_OF_RANGE = (
    "a time or date of this event (or its end: DTSTART plus DURATION) is past what a calendar "
    "can hold; times must fall between the years 1900 and 2200"
)


def _item(
    uid: str, members: list[tuple[int, icalendar.Component, list[str]]], floating: str
) -> Item:
    first = members[0][0]
    masters = [m for m in members if "RECURRENCE-ID" not in m[1]]
    if len(masters) != 1:
        why = "no VEVENT without RECURRENCE-ID (an override without its series)"
        if masters:
            why = f"{len(masters)} VEVENTs without RECURRENCE-ID share this UID"
        return Item(first, uid, refusal=why)
    instances = [m for m in members if "RECURRENCE-ID" in m[1]]
    try:
        components = [m[1] for m in instances]
        imported = inbound.from_series(masters[0][1], components, floating=floating)
        data = EventCreate.model_validate(imported.fields)
        kept = _kept(masters[0][2], instances, floating)
    except ValidationError as exc:
        return Item(first, uid, refusal=_first_error(exc))
    except BrokenCalendarProperty as exc:  # a property read here that icalendar could not parse
        return Item(first, uid, refusal=_broken([m[1] for m in members]) or str(exc))
    except ValueError as exc:  # ICalError, and a value icalendar could not parse
        return Item(first, uid, refusal=str(exc))
    except OverflowError:  # an end past year 9999 (DTSTART + DURATION, a date's next day)
        return Item(first, uid, refusal=_OUT_OF_RANGE)
    return Item(first, uid, data=data, kept=kept)


def _kept(
    own: list[str], instances: list[tuple[int, icalendar.Component, list[str]]], floating: str
) -> dict[str, list[str]]:
    """The kept lines by component (``EventIcalExtra.lines``), checked to write back."""
    kept = {extras.SERIES_KEY: own} if own else {}
    for _, component, lines in instances:
        if lines and not inbound.is_cancelled(component):  # an exception: no override
            rid = inbound.recurrence_id_of(component, floating=floating)
            kept[format_instant(rid)] = lines
    size = sum(len(line) for lines in kept.values() for line in lines)
    if size > MAX_EXTRA_CHARS:
        raise ValueError(
            f"more than {MAX_EXTRA_CHARS} characters of properties Calendo does not model"
        )
    return {key: extras.canonical(lines) for key, lines in kept.items()}


def _broken(components: list[icalendar.Component]) -> str | None:
    """The first property Calendo reads (``extras.MODELLED``) that icalendar kept unparsed
    (``vBroken``) in these components, as ``RRULE is not readable: <the parser's reason>``."""
    for component in components:
        for name, value in component.property_items(recursive=False, sorted=False):
            if name not in extras.MODELLED:
                continue
            for one in value if isinstance(value, list) else (value,):
                if isinstance(one, vBroken):
                    return f"{name} is not readable: {one.parse_error}"
    return None


def _first_error(exc: ValidationError) -> str:
    """The first validation error as the API words it (``core.error_texts``: no pydantic
    prefix), after the field it concerns unless the sentence starts with it."""
    error: dict[str, Any] = dict(exc.errors()[0])
    loc = tuple(error.get("loc", ()))
    where = ".".join(str(part) for part in loc)
    message = plain_message(error, loc=("body", *loc))
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    if where and not message.startswith(where.split(".")[0]):
        message = f"{where}: {message}"
    return f"{message}{more}"
