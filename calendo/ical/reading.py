"""An uploaded iCalendar file, screened and read into the events it would become.

Pure CPU (no database, no web framework): the import runs it off the event loop
(``core.cooperative.off_loop``). Two passes:

1. ``screen`` walks the unfolded content lines once, before any parser sees them, and refuses
   the whole file (``Unreadable``, a 422) for what would cost the parser or the server more
   than a calendar is worth: a line over ``MAX_LINE`` characters, components nested deeper
   than ``MAX_DEPTH``, more than ``max_events`` events (``CALENDO_IMPORT_MAX_EVENTS``: VEVENTs
   without ``RECURRENCE-ID``) or twice as many components, more than ``MAX_TIMEZONES``
   VTIMEZONEs, unbalanced ``BEGIN``/``END``. It drops every
   VTIMEZONE: Calendo resolves a ``TZID`` only as a tz-database (or Windows) zone name, never
   from the file's own rules, whose expansion a hostile file can make endless (a ``FREQ=
   SECONDLY`` rule since 1601). It also keeps, per VEVENT, the lines Calendo does not model
   (``extras``).
2. ``read`` parses what is left with ``icalendar``, groups the VEVENTs by ``UID`` (a series
   and its ``RECURRENCE-ID`` instances), converts each group (``inbound.from_series``) and
   validates it as ``EventCreate``. A group that cannot be an event is an ``Item`` with a
   ``refusal`` naming why; the others carry their ``EventCreate`` and kept lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import icalendar
from pydantic import ValidationError

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


@dataclass(slots=True)
class Screened:
    """The file without its VTIMEZONEs, and per top-level component (document order, the
    VTIMEZONEs left out) its name and the lines of it Calendo does not model."""

    text: str
    components: list[tuple[str, list[str]]] = field(default_factory=list)


def _unfolded(text: str) -> list[str]:
    lines: list[str] = []
    for raw in _BREAK.split(text):
        if raw[:1] in (" ", "\t") and lines:
            lines[-1] += raw[1:]
        elif raw:
            lines.append(raw)
    return lines


def screen(data: bytes, *, max_events: int) -> Screened:
    """The first pass (module docstring); ``Unreadable`` for a file to refuse whole."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Unreadable("an iCalendar file must be UTF-8 (RFC 5545 3.1.4)") from None
    if "\x00" in text:
        raise Unreadable("NUL characters are not allowed")
    kept: list[str] = []
    result = Screened("")
    stack: list[str] = []
    events = components = timezones = calendars = 0
    instance = False  # whether the VEVENT being read has a RECURRENCE-ID
    for number, line in enumerate(_unfolded(text), start=1):
        if len(line) > MAX_LINE:
            raise Unreadable(f"line {number} is longer than {MAX_LINE} characters")
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
                    result.components.append((value, []))
        elif not stack:
            raise Unreadable(f"line {number}: content outside BEGIN:VCALENDAR … END:VCALENDAR")
        in_timezone = len(stack) >= 2 and stack[1] == "VTIMEZONE"
        if not in_timezone:
            kept.append(line)
            nested = len(stack) > 2
            own = len(stack) == 2 and name not in extras.MODELLED and name not in _BOUNDS
            own = own and not extras.calendo_link(name, line)
            if nested or own:
                result.components[-1][1].append(line)
        if name == "RECURRENCE-ID" and len(stack) == 2:
            instance = True
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
    if not kept:
        raise Unreadable("the file is empty")
    result.text = "\r\n".join(kept) + "\r\n"
    return result


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


def read(data: bytes, *, max_events: int) -> list[Item]:
    """The events a file would become (module docstring); ``Unreadable`` for a file to
    refuse whole."""
    screened = screen(data, max_events=max_events)
    try:
        calendar = icalendar.Calendar.from_ical(screened.text)
    except ValueError as exc:
        raise Unreadable(f"not an iCalendar object: {exc}") from None
    components = list(calendar.subcomponents)
    if len(components) != len(screened.components):  # pragma: no cover - parser disagreed
        raise Unreadable("the file's components could not be told apart")
    groups: dict[str, list[tuple[int, icalendar.Component, list[str]]]] = {}
    items: list[Item] = []
    for index, (component, (name, kept)) in enumerate(
        zip(components, screened.components, strict=True)
    ):
        if name != "VEVENT":
            items.append(Item(index, None, refusal=f"{name}: Calendo imports events (VEVENT)"))
            continue
        uid = str(component.get("UID", "")).strip()
        if not uid:
            items.append(Item(index, None, refusal="UID is missing (RFC 5545 3.6.1)"))
        elif len(uid) > MAX_UID:
            items.append(Item(index, uid[:40], refusal=f"UID is longer than {MAX_UID}"))
        else:
            groups.setdefault(uid, []).append((index, component, kept))
    items += [_item(uid, members) for uid, members in groups.items()]
    return sorted(items, key=lambda item: item.index)


def _item(uid: str, members: list[tuple[int, icalendar.Component, list[str]]]) -> Item:
    first = members[0][0]
    masters = [m for m in members if "RECURRENCE-ID" not in m[1]]
    if len(masters) != 1:
        why = "no VEVENT without RECURRENCE-ID (an override without its series)"
        if masters:
            why = f"{len(masters)} VEVENTs without RECURRENCE-ID share this UID"
        return Item(first, uid, refusal=why)
    instances = [m for m in members if "RECURRENCE-ID" in m[1]]
    try:
        imported = inbound.from_series(masters[0][1], [m[1] for m in instances])
        data = EventCreate.model_validate(imported.fields)
        kept = _kept(masters[0][2], instances)
    except ValidationError as exc:
        return Item(first, uid, refusal=_first_error(exc))
    except ValueError as exc:  # ICalError, and a property icalendar could not parse
        return Item(first, uid, refusal=str(exc))
    return Item(first, uid, data=data, kept=kept)


def _kept(
    own: list[str], instances: list[tuple[int, icalendar.Component, list[str]]]
) -> dict[str, list[str]]:
    """The kept lines by component (``EventIcalExtra.lines``), checked to write back."""
    kept = {extras.SERIES_KEY: own} if own else {}
    for _, component, lines in instances:
        if lines:
            kept[format_instant(inbound.recurrence_id_of(component))] = lines
    size = sum(len(line) for lines in kept.values() for line in lines)
    if size > MAX_EXTRA_CHARS:
        raise ValueError(
            f"more than {MAX_EXTRA_CHARS} characters of properties Calendo does not model"
        )
    return {key: extras.canonical(lines) for key, lines in kept.items()}


def _first_error(exc: ValidationError) -> str:
    error: dict[str, Any] = dict(exc.errors()[0])
    where = ".".join(str(part) for part in error.get("loc", ()))
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {error['msg']}{more}" if where else f"{error['msg']}{more}"
