"""Human-readable one-line summaries of event versions.

Summaries read like Wikipedia edit summaries, e.g.::

    created “Standup” on Fri 20 Mar 2026, 10:00–10:30 UTC
    renamed from “Standup” to “Daily sync”; moved 1 h later, same length
    rolled back to version 3; no longer repeats

Phrases follow ``CONTENT_FIELDS`` order and are joined with "; ".  Times are
shown on the wall clock of the version's own ``timezone`` ("18:00–19:30
Europe/Berlin"; a span across a clock change names both offsets), and moves
are measured on that clock, so a weekly 18:00 moved by a week across a DST
change is "7 days later", not "6 days 23 h".  When the zone itself changed,
moves are measured between the instants and the new wall-clock times are
named.  Names of days and months are fixed English abbreviations,
independent of the process locale.

Summaries are rendered when a history is read (``events.versions``), from the
snapshots, so versions stored before zones were spoken speak theirs too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from calendo.history import all_day_prose
from calendo.history.diff import changed_fields, field_value, is_empty
from calendo.history.rule_prose import MONTHS as _MONTHS
from calendo.history.rule_prose import WEEKDAYS as _WEEKDAYS
from calendo.history.rule_prose import describe_rule

# Titles and locations are shortened so a summary stays one readable line.
_MAX_QUOTED = 60

_LEADS = {"deleted": "deleted the event", "restored": "restored the event"}


# --- dates, times and durations -------------------------------------------------


def parse_instant(value: str) -> datetime:
    """Parse an RFC 3339 timestamp into an aware UTC datetime (naive means UTC)."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def zone_name(snapshot: Mapping[str, Any]) -> str:
    """The IANA zone a snapshot's times are spoken in ("UTC" when it names none)."""
    name = snapshot.get("timezone")
    return name if isinstance(name, str) and name else "UTC"


def _zone(name: str) -> tzinfo:
    """The zone of an IANA name; UTC for a name this system does not know (a snapshot's zone
    was validated when it was written, so this only guards a tz database that lost one)."""
    if name == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _label(name: str) -> str:
    """How a zone is named after a time: its IANA name, or "UTC" for an unknown one."""
    return name if _zone(name) is not UTC else "UTC"


def _offset(moment: datetime) -> str:
    """A local time's offset from UTC, like "UTC+01:00" or "UTC-03:30"."""
    minutes = round((moment.utcoffset() or timedelta(0)).total_seconds() / 60)
    sign, minutes = ("-" if minutes < 0 else "+"), abs(minutes)
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def format_date(day: date) -> str:
    """Format a date like "Fri 20 Mar 2026"."""
    return f"{_WEEKDAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"


def describe_instant(moment: datetime, zone: str = "UTC") -> str:
    """Format an instant on the wall clock of ``zone``, like "Fri 20 Mar 2026, 10:00 UTC" or
    "Thu 12 Mar 2026, 18:00 Europe/Berlin"."""
    local = moment.astimezone(_zone(zone))
    return f"{format_date(local.date())}, {local:%H:%M} {_label(zone)}"


def format_span(start: datetime, end: datetime, zone: str = "UTC") -> str:
    """Format a time range on the wall clock of ``zone``, naming the day once when both ends
    share it, and each end's offset when the clocks change in between (DST)."""
    start, end = start.astimezone(_zone(zone)), end.astimezone(_zone(zone))
    label = _label(zone)
    if start.utcoffset() != end.utcoffset():
        first = f"{format_date(start.date())}, {start:%H:%M} ({_offset(start)})"
        last = f"{end:%H:%M} ({_offset(end)})"
        if start.date() != end.date():
            last = f"{format_date(end.date())}, {last}"
        return f"{first} – {last} {label}"
    if start.date() == end.date():
        return f"{format_date(start.date())}, {start:%H:%M}–{end:%H:%M} {label}"
    first, last = format_date(start.date()), format_date(end.date())
    return f"{first}, {start:%H:%M} – {last}, {end:%H:%M} {label}"


def format_duration(delta: timedelta) -> str:
    """Format a duration compactly, e.g. "2 days", "1 h 30 min", "0 min"."""
    total = round(delta.total_seconds())
    sign, total = ("-" if total < 0 else ""), abs(total)
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} day" if days == 1 else f"{days} days")
    if hours:
        parts.append(f"{hours} h")
    if minutes:
        parts.append(f"{minutes} min")
    if seconds:
        # Seconds only show up for odd inputs; calendar times are minute-based.
        parts.append(f"{seconds} s")
    return sign + (" ".join(parts) or "0 min")


def _direction(delta: timedelta) -> str:
    """Return "later" for a positive shift and "earlier" for a negative one."""
    return "later" if delta > timedelta(0) else "earlier"


# --- per-field phrases -------------------------------------------------------------


def _shorten(text: str) -> str:
    """Collapse whitespace and cut long text with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= _MAX_QUOTED else text[: _MAX_QUOTED - 1].rstrip() + "…"


def _quote(text: str) -> str:
    """Quote a title with typographic quotes."""
    return f"“{_shorten(text)}”"


def _title_phrases(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Describe a title change."""
    before, after = old.get("title") or "", new.get("title") or ""
    if before == after:
        return []
    if not after:
        return ["removed the title"]
    if not before:
        return [f"set the title to {_quote(after)}"]
    return [f"renamed from {_quote(before)} to {_quote(after)}"]


def _description_phrases(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Describe a description change without quoting it (it may be long)."""
    before, after = old.get("description"), new.get("description")
    if before == after or (is_empty(before) and is_empty(after)):
        return []
    if is_empty(before):
        return ["added a description"]
    if is_empty(after):
        return ["removed the description"]
    return ["edited the description"]


def _times(snapshot: Mapping[str, Any]) -> tuple[datetime, datetime]:
    """A snapshot's start and end instants (KeyError, TypeError or ValueError if invalid)."""
    return parse_instant(snapshot["start_time"]), parse_instant(snapshot["end_time"])


def _span(snapshot: Mapping[str, Any]) -> str | None:
    """A snapshot's time range in its own zone (an all-day one's dates), or None if its times
    are not valid."""
    if snapshot.get("all_day"):  # (read here: a timed version never runs all_day_prose)
        dates = all_day_prose.date_span(snapshot)
        return None if dates is None else f"{dates}, all day"
    try:
        start, end = _times(snapshot)
    except (KeyError, TypeError, ValueError):
        return None
    return format_span(start, end, zone_name(snapshot))


def _wall(moment: datetime, zone: str) -> datetime:
    """An instant as a naive wall-clock time of ``zone``: differences are then calendar
    differences (a week is 7 days even across a DST change)."""
    return moment.astimezone(_zone(zone)).replace(tzinfo=None)


def _time_phrases(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Describe how the event moved or changed length.

    Moves are measured on the event's wall clock when both versions share a zone, and
    between the instants when the zone changed (``_timezone_phrases`` names the new times).
    Lengths are always elapsed time. An all-day version speaks dates (``all_day_prose``).
    """
    if old.get("all_day") or new.get("all_day"):
        return all_day_prose.phrases(old, new, lambda: _span(new))
    try:
        start0, end0 = _times(old)
        start1, end1 = _times(new)
    except (KeyError, TypeError, ValueError):
        # Not valid RFC 3339: fall back to a plain statement.
        same = all(old.get(f) == new.get(f) for f in ("start_time", "end_time"))
        return [] if same else ["changed the time"]
    length0, length1 = end0 - start0, end1 - start1
    if zone_name(old) == zone_name(new):
        zone = zone_name(new)
        shift = _wall(start1, zone) - _wall(start0, zone)
        end_shift = _wall(end1, zone) - _wall(end0, zone)
    else:
        shift, end_shift = start1 - start0, end1 - end0
    if not shift and not end_shift:
        return []
    if not shift:
        return [f"now {format_duration(length1)} long (was {format_duration(length0)})"]
    moved = f"{format_duration(abs(shift))} {_direction(shift)}"
    if not end_shift:
        return [f"starts {moved}"]
    if length0 == length1:
        return [f"moved {moved}, same length"]
    return [f"moved {moved}, now {format_duration(length1)} long"]


def _timezone_phrases(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Describe a time zone change, with the times as the new zone reads them."""
    before, after = old.get("timezone"), new.get("timezone")
    if before == after:
        return []
    phrase = (
        f"time zone changed from {before} to {after}" if before else f"time zone set to {after}"
    )
    span = _span(new)
    return [phrase if span is None else f"{phrase} (now {span})"]


def _location_phrases(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Describe a location change."""
    before, after = old.get("location"), new.get("location")
    if before == after or (is_empty(before) and is_empty(after)):
        return []
    if is_empty(after):
        return ["removed the location"]
    if is_empty(before):
        return [f"set location to {_shorten(str(after))}"]
    return [f"moved to {_shorten(str(after))} (was {_shorten(str(before))})"]


def _effective_rule(snapshot: Mapping[str, Any]) -> str | None:
    """Return the rule in force: None when not recurring, "" when recurring without a rule."""
    if not snapshot.get("is_recurring"):
        # A stored pattern on a non-recurring event has no effect.
        return None
    return snapshot.get("recurrence_pattern") or ""


def _recurrence_phrases(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Describe a change of the recurrence rule."""
    before, after = _effective_rule(old), _effective_rule(new)
    if before == after:
        return []
    if after is None:
        return ["no longer repeats"]
    return [f"now {describe_rule(after)}"]


def _plural(count: int, noun: str) -> str:
    """Return "1 exception" or "2 exceptions"."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _added_and_removed(before: set[Any], after: set[Any], noun: str) -> list[str]:
    """Say how many items of a list were added and removed ("added 2 exceptions")."""
    phrases = []
    if added := len(after - before):
        phrases.append(f"added {_plural(added, noun)}")
    if removed := len(before - after):
        phrases.append(f"removed {_plural(removed, noun)}")
    return phrases


def _exception_phrases(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Describe added and removed recurrence exceptions."""
    before = set(old.get("recurrence_exceptions") or [])
    after = set(new.get("recurrence_exceptions") or [])
    return _added_and_removed(before, after, "exception")


def _extra_date_phrases(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Describe added and removed extra dates (RDATE)."""
    before = set(field_value(old, "recurrence_dates"))
    after = set(field_value(new, "recurrence_dates"))
    return _added_and_removed(before, after, "extra date")


def _transparency_phrases(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Describe a change of free/busy transparency (a snapshot without it is opaque)."""
    before, after = field_value(old, "transparency"), field_value(new, "transparency")
    if before == after:
        return []
    if after == "transparent":
        return ["made it free/transparent"]
    return ["made it busy/opaque"]


# Beyond this many overridden occurrences changed at once (a series moved with its overrides),
# a summary counts them instead of naming each.
_NAMED_OCCURRENCES = 3


def _override_phrases(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Describe single-occurrence edits, naming each occurrence by its date on the series'
    clock ("moved the Thu 12 Mar 2026 occurrence to 14:00–15:00 Europe/Berlin")."""
    before = {o["recurrence_id"]: o for o in field_value(old, "recurrence_overrides")}
    after = {o["recurrence_id"]: o for o in field_value(new, "recurrence_overrides")}
    changed = [rid for rid in after if before.get(rid) != after[rid]]
    dropped = [rid for rid in before if rid not in after]
    if len(changed) + len(dropped) > _NAMED_OCCURRENCES:
        return [f"changed {_plural(len(changed) + len(dropped), 'single-occurrence edit')}"]
    zone = zone_name(new)
    cancelled = set(new.get("recurrence_exceptions") or []) - set(
        old.get("recurrence_exceptions") or []
    )
    phrases = []
    for rid in changed:
        phrases.extend(_occurrence_phrases(before.get(rid, {}), after[rid], new, zone))
    for rid in dropped:
        verb = "cancelled" if rid in cancelled else "gave back to the series"
        phrases.append(f"{verb} {_occurrence(rid, zone)}")
    return phrases


def _occurrence(rid: str, zone: str) -> str:
    """ "the Thu 12 Mar 2026 occurrence" (the day its series gives it, on the series' clock)."""
    local = parse_instant(rid).astimezone(_zone(zone))
    return f"the {format_date(local.date())} occurrence"


def _occurrence_phrases(
    old: Mapping[str, Any], new: Mapping[str, Any], series: Mapping[str, Any], zone: str
) -> list[str]:
    """What one edit of an occurrence's override did."""
    name = _occurrence(new["recurrence_id"], zone)
    phrases = []
    if (old.get("start_time"), old.get("end_time")) != (new.get("start_time"), new.get("end_time")):
        start = parse_instant(new.get("start_time") or new["recurrence_id"])
        length = _times(series)[1] - _times(series)[0]
        end = parse_instant(new["end_time"]) if new.get("end_time") else start + length
        phrases.append(f"moved {name} to {format_span(start, end, zone)}")
    if old.get("title") != new.get("title"):
        title = new.get("title")
        phrases.append(
            f"renamed {name} to {_quote(title)}" if title else f"gave {name} back its title"
        )
    for field, noun in (("description", "description"), ("location", "location")):
        if old.get(field) != new.get(field):
            phrases.append(f"changed the {noun} of {name}")
    if old.get("transparency") != new.get("transparency"):
        free = new.get("transparency") == "transparent"
        phrases.append(f"made {name} {'free/transparent' if free else 'busy/opaque'}")
    return phrases


_PHRASE_BUILDERS = (
    _title_phrases,
    _description_phrases,
    _time_phrases,
    _timezone_phrases,
    _location_phrases,
    _recurrence_phrases,
    _exception_phrases,
    _extra_date_phrases,
    _transparency_phrases,
    _override_phrases,
)


def _change_phrases(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Collect the phrases for every changed field, in field order."""
    phrases = [phrase for build in _PHRASE_BUILDERS for phrase in build(old, new)]
    if not phrases and changed_fields(old, new):
        # Only changes without a wording (e.g. "+00:00" became "Z" for the
        # same instant): still never claim that nothing changed.
        return ["edited the event"]
    return phrases


# --- whole summaries -----------------------------------------------------------------


def _created_sentence(new: Mapping[str, Any]) -> str:
    """Describe a newly created event: title, time and recurrence."""
    title = new.get("title") or ""
    sentence = f"created {_quote(title)}" if title else "created an untitled event"
    span = _span(new)
    if span is not None:  # without valid times the title alone still says what happened
        sentence += f" on {span}"
    rule = _effective_rule(new)
    if rule is not None:
        sentence += f", {describe_rule(rule)}"
    if extra := len(field_value(new, "recurrence_dates")):
        sentence += f", with {_plural(extra, 'extra date')}"
    if field_value(new, "transparency") == "transparent":
        sentence += ", free/transparent"
    return sentence


def _lead(action: str, target_version: int | None) -> str | None:
    """Return the opening phrase for actions that are more than an edit."""
    if action == "rolled_back":
        if target_version is None:
            return "rolled back to an earlier version"
        return f"rolled back to version {target_version}"
    return _LEADS.get(action)


def summarize(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any],
    *,
    action: str,
    target_version: int | None = None,
) -> str:
    """Summarize the change from old to new (old is None for a creation) in one line."""
    lead = _lead(action, target_version)
    if action == "created" or (old is None and lead is None):
        return _created_sentence(new)
    parts = [lead] if lead else []
    if old is not None:
        parts.extend(_change_phrases(old, new))
    return "; ".join(parts) if parts else "no content changes"
