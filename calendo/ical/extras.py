"""What an imported VEVENT held that Calendo does not model, kept and written back unchanged.

``X-`` properties, ``CATEGORIES``, ``URL``, ``ATTACH``, ``ATTENDEE``, ``ORGANIZER``,
``STATUS``, ``CLASS``, alarms (``VALARM``) and any other property or subcomponent: the import
keeps each as its unfolded content line (``calendo/ical/reading.py`` collects them while it
screens the file), ``EventIcalExtra`` stores them, and ``apply`` puts them back on the
exported VEVENT, value text exactly as read (``vInline``: no unescaping, no re-escaping), so
a round trip through Calendo loses none of them.

Pure: no database, no web framework.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import icalendar
from icalendar.parser import Contentline
from icalendar.prop import vInline

# What Calendo models, or writes itself (identity and times): never kept as extra.
MODELLED = frozenset(
    {
        "UID",
        "DTSTAMP",
        "DTSTART",
        "DTEND",
        "DURATION",
        "RRULE",
        "RDATE",
        "EXDATE",
        "SUMMARY",
        "DESCRIPTION",
        "LOCATION",
        "TRANSP",
        "SEQUENCE",
        "CREATED",
        "LAST-MODIFIED",
        "RECURRENCE-ID",
    }
)
SERIES_KEY = ""  # ``EventIcalExtra.lines`` key of the series' own VEVENT
# Calendo's own link between the halves of a split series (``convert.to_vevent`` writes it
# from ``related_events``): never kept, or a re-import would write it twice.
_CALENDO_LINK = re.compile(r"RELATED-TO;RELTYPE=SIBLING:[0-9]{1,10}@calendo", re.IGNORECASE)


def property_name(line: str) -> str:
    """The upper-cased name of a content line (before its first ``;`` or ``:``)."""
    end = len(line)
    for separator in ";:":
        found = line.find(separator)
        if found != -1:
            end = min(end, found)
    return line[:end].strip().upper()


def calendo_link(name: str, line: str) -> bool:
    """Whether a content line is a ``RELATED-TO`` Calendo writes itself."""
    return name == "RELATED-TO" and _CALENDO_LINK.fullmatch(line) is not None


def raw_value(line: str) -> str:
    """The value text of a content line: after the first ``:`` outside a quoted parameter."""
    quoted = False
    for position, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == ":" and not quoted:
            return line[position + 1 :]
    raise ValueError(f"not a content line: {line[:40]!r}")


def apply(vevent: icalendar.Component, lines: Sequence[str]) -> None:
    """Add kept lines to ``vevent``: properties as read, nested components as components."""
    nested: list[str] = []
    depth = 0
    for line in lines:
        name = property_name(line)
        if name == "BEGIN":
            depth += 1
        if depth:
            nested.append(line)
            if name == "END":
                depth -= 1
                if not depth:
                    vevent.add_component(icalendar.Component.from_ical("\r\n".join(nested)))
                    nested = []
            continue
        _, params, _ = Contentline(line).parts()  # type: ignore[no-untyped-call]
        vevent.add(name, vInline(raw_value(line)), parameters=dict(params))


def canonical(lines: Sequence[str]) -> list[str]:
    """``lines`` as an export writes them back (``apply``, then ``icalendar``'s serialisation,
    unfolded): what an import stores, so that re-importing Calendo's own export of an event
    finds its kept lines unchanged. Raises ``ValueError`` for lines that cannot be written."""
    vevent = icalendar.Event()
    apply(vevent, lines)
    text = vevent.to_ical().decode().replace("\r\n ", "").replace("\r\n\t", "")
    return list(text.split("\r\n")[1:-2])  # without BEGIN:VEVENT, END:VEVENT and the last break
